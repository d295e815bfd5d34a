// The client tests every Node client library of Cerbos runs: the same requests (../../requests.json) and the
// answers the real Cerbos PDP 0.51 gives to them (../../expected.json), through the library's own API.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

const fixturesDir = new URL("../../", import.meta.url);
const fixtures = JSON.parse(readFileSync(new URL("requests.json", fixturesDir), "utf8"));
const expected = JSON.parse(readFileSync(new URL("expected.json", fixturesDir), "utf8"));

const principal = (name) => fixtures.principals[name];
const resource = (id) => fixtures.resources[id];

function outputKey(entry) {
  return `${entry.action}\u0000${entry.src}\u0000${JSON.stringify(entry.val)}`;
}

// One result of the library in the shape of expected.json; outputs are a multiset whose order varies in Cerbos.
function normalizeResult(result) {
  const meta = result.metadata?.actions ?? {};
  const outputs = result.outputs.map((o) => ({ action: o.action, src: o.source, val: o.value }));
  outputs.sort((a, b) => (outputKey(a) < outputKey(b) ? -1 : outputKey(a) > outputKey(b) ? 1 : 0));
  return {
    id: result.resource.id,
    actions: { ...result.actions },
    matchedPolicies: Object.fromEntries(Object.entries(meta).map(([a, m]) => [a, m.matchedPolicy])),
    matchedScopes: Object.fromEntries(Object.entries(meta).map(([a, m]) => [a, m.matchedScope])),
    effectiveDerivedRoles: [...(result.metadata?.effectiveDerivedRoles ?? [])].sort(),
    outputs,
  };
}

// A plan's condition in Cerbos's REST shape ({expression: {operator, operands}}, {variable}, {value}).
function operandToJson(operand) {
  if ("operator" in operand) {
    return { expression: { operator: operand.operator, operands: operand.operands.map(operandToJson) } };
  }
  if ("name" in operand) {
    return { variable: operand.name };
  }
  return { value: operand.value };
}

function sortKeysDeep(value) {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeysDeep(value[k])]),
    );
  }
  return value;
}

// Evaluates a plan's condition against one resource, as a database would evaluate the query built from it.
function evaluate(operand, res) {
  if ("value" in operand) return operand.value;
  if ("name" in operand) {
    const prefix = "request.resource.attr.";
    assert.ok(operand.name.startsWith(prefix), `unexpected variable ${operand.name}`);
    return res.attr?.[operand.name.slice(prefix.length)] ?? null;
  }
  const args = operand.operands;
  switch (operand.operator) {
    case "and":
      return args.every((a) => evaluate(a, res) === true);
    case "or":
      return args.some((a) => evaluate(a, res) === true);
    case "not":
      return evaluate(args[0], res) !== true;
    case "eq":
      return JSON.stringify(evaluate(args[0], res)) === JSON.stringify(evaluate(args[1], res));
    case "ne":
      return JSON.stringify(evaluate(args[0], res)) !== JSON.stringify(evaluate(args[1], res));
    case "in":
      return (evaluate(args[1], res) ?? []).some((v) => JSON.stringify(v) === JSON.stringify(evaluate(args[0], res)));
    default:
      throw new Error(`operator ${operand.operator} is not known to this test's evaluator`);
  }
}

/**
 * Defines the suite for one client library.
 * @param {string} label the library's name in test titles
 * @param {() => import("@cerbos/core").Client} createClient makes a client for the PDP under test
 */
export function defineClientSuite(label, createClient) {
  describe(label, () => {
    const cerbos = createClient();

    test("serverInfo names a version", async () => {
      const info = await cerbos.serverInfo();
      assert.match(info.version, /^\d+\.\d+\.\d+/);
    });

    for (const check of fixtures.checks) {
      test(`checkResources: ${check.name}`, async () => {
        const response = await cerbos.checkResources({
          requestId: check.name,
          includeMetadata: true,
          principal: principal(check.principal),
          resources: check.resources.map(([id, actions]) => ({ resource: resource(id), actions })),
        });
        assert.equal(response.requestId, check.name);
        assert.deepEqual(response.results.map(normalizeResult), expected.checks[check.name]);
        assert.deepEqual(response.validationErrors, []);
      });
    }

    test("checkResource: one resource, its helpers and its outputs", async () => {
      const result = await cerbos.checkResource({
        principal: principal("alice"),
        resource: resource("d1"),
        actions: ["view", "edit", "delete"],
        includeMetadata: true,
      });
      const want = expected.checks[fixtures.checks[0].name].find((r) => r.id === "d1");
      assert.deepEqual(normalizeResult(result), want);
      assert.equal(result.isAllowed("edit"), true);
      assert.equal(result.isAllowed("delete"), false);
      assert.equal(result.isAllowed("publish"), undefined);
      assert.equal(result.allAllowed(), false);
      assert.deepEqual(result.allowedActions().sort(), ["edit", "view"]);
      assert.equal(result.output("resource.document.vdefault#owner-edit"), "owner:alice");
      assert.equal(result.output("resource.document.vdefault#public-view"), "private:d1");
    });

    test("checkResources: the response's lookup helpers", async () => {
      const response = await cerbos.checkResources({
        principal: principal("dave"),
        resources: [
          { resource: resource("d7"), actions: ["archive"] },
          { resource: resource("d8"), actions: ["archive"] },
        ],
      });
      assert.equal(response.isAllowed({ resource: { kind: "document", id: "d7" }, action: "archive" }), false);
      assert.equal(response.isAllowed({ resource: { kind: "document", id: "d8" }, action: "archive" }), true);
      assert.equal(response.allAllowed({ kind: "document", id: "d8" }), true);
      assert.equal(response.findResult({ kind: "document", id: "d9" }), undefined);
      // Without includeMetadata, no metadata comes back.
      assert.equal(response.results[0].metadata, undefined);
    });

    const isAllowedCases = [
      ["alice", "d1", "edit", true],
      ["alice", "d1", "delete", false],
      ["alice", "d2", "view", true],
      ["alice", "d4", "comment", true],
      ["bob", "d4", "comment", true],
      ["bob", "d5", "edit", false],
      ["bob", "d5", "view", true],
      ["bob", "d6", "view", false],
      ["dave", "d7", "archive", false],
      ["dave", "d8", "archive", true],
    ];
    for (const [who, id, action, want] of isAllowedCases) {
      test(`isAllowed: ${who} ${action} ${id} is ${want}`, async () => {
        assert.equal(await cerbos.isAllowed({ principal: principal(who), resource: resource(id), action }), want);
      });
    }

    test("withPrincipal: the principal fixed once", async () => {
      const bob = cerbos.withPrincipal(principal("bob"));
      assert.equal(await bob.isAllowed({ resource: resource("d5"), action: "view" }), true);
      assert.equal(await bob.isAllowed({ resource: resource("d5"), action: "edit" }), false);
    });

    for (const plan of fixtures.plans) {
      test(`planResources: ${plan.name}`, async () => {
        const want = expected.plans[plan.name];
        const response = await cerbos.planResources({
          requestId: plan.name,
          includeMetadata: true,
          principal: principal(plan.principal),
          resource: plan.resource,
          actions: plan.actions,
        });
        assert.equal(response.requestId, plan.name);
        assert.equal(response.kind, want.kind);
        assert.deepEqual({ ...response.metadata?.matchedScopes }, want.matchedScopes);
        if (want.condition !== undefined) {
          assert.deepEqual(sortKeysDeep(operandToJson(response.condition)), want.condition);
          assert.equal(response.metadata?.conditionString, want.conditionString);
        }
        // The plan must agree with checkResources on every known resource it covers.
        const covered = Object.values(fixtures.resources).filter(
          (r) =>
            r.kind === plan.resource.kind &&
            (r.scope ?? "") === (plan.resource.scope ?? "") &&
            (r.policyVersion ?? "default") === (plan.resource.policyVersion ?? "default"),
        );
        assert.ok(covered.length > 0);
        for (const res of covered) {
          const checked = await cerbos.checkResource({ principal: principal(plan.principal), resource: res, actions: plan.actions });
          const allowed = checked.allAllowed();
          const planned =
            response.kind === "KIND_ALWAYS_ALLOWED" ? true : response.kind === "KIND_ALWAYS_DENIED" ? false : evaluate(response.condition, res);
          assert.equal(planned, allowed, `plan and check disagree on ${res.id}`);
        }
      });
    }

    test("planResources: a single action in the request", async () => {
      const response = await cerbos.planResources({
        principal: principal("alice"),
        resource: { kind: "document", scope: "acme" },
        action: "comment",
        includeMetadata: true,
      });
      assert.equal(response.kind, "KIND_CONDITIONAL");
      assert.equal(response.metadata?.matchedScope, "acme");
    });

    test("an invalid request is refused with INVALID_ARGUMENT", async () => {
      await assert.rejects(
        cerbos.checkResource({ principal: { id: "", roles: [] }, resource: resource("d1"), actions: ["view"] }),
        (error) => {
          assert.equal(error.constructor.name, "NotOK");
          assert.equal(error.code, 3);
          return true;
        },
      );
    });
  });
}
