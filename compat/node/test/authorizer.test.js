// Aserto's Node SDK Authorizer client (gRPC, TLS) against lictor's demo.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  Authorizer,
  NotFoundError,
  decisionTreeOptions,
  identityContext,
  policyContext,
  policyInstance,
} from "@aserto/aserto-node";

import { startLictor } from "../lib/lictor.js";

let server;
before(async () => {
  server = await startLictor();
});
after(async () => {
  await server?.stop();
});

const RICK = "rick@the-citadel.com";
const MORTY = "morty@the-citadel.com";
const BETH = "beth@the-smiths.com";
const JERRY = "jerry@the-smiths.com";

function client(extra = {}) {
  return new Authorizer({ authorizerServiceUrl: server.addr.authorizerGrpc, caFile: server.ca, ...extra });
}

function isRequest(user, path, resourceContext = {}) {
  return {
    identityContext: identityContext(user, "SUB"),
    policyInstance: policyInstance("todo", "todo"),
    policyContext: policyContext(path, ["allowed"]),
    resourceContext,
  };
}

describe("Authorizer.Is over TLS with the CA file", () => {
  test("rick may POST todos", async () => {
    assert.equal(await client().Is(isRequest(RICK, "todoApp.POST.todos")), true);
  });

  test("beth may not POST todos", async () => {
    assert.equal(await client().Is(isRequest(BETH, "todoApp.POST.todos")), false);
  });

  test("jerry may not POST todos, morty may", async () => {
    const c = client();
    assert.equal(await c.Is(isRequest(JERRY, "todoApp.POST.todos")), false);
    assert.equal(await c.Is(isRequest(MORTY, "todoApp.POST.todos")), true);
  });

  test("every resolved user may GET todos", async () => {
    const c = client();
    for (const user of [RICK, MORTY, BETH, JERRY]) {
      assert.equal(await c.Is(isRequest(user, "todoApp.GET.todos")), true, user);
    }
  });

  test("rebac.check reads object_type/object_id/relation from the resource context", async () => {
    const c = client();
    const member = { object_type: "group", object_id: "admin", relation: "member" };
    assert.equal(await c.Is(isRequest(RICK, "rebac.check", member)), true);
    assert.equal(await c.Is(isRequest(BETH, "rebac.check", member)), false);
  });

  test("the Is response carries the requested decision", async () => {
    const c = client();
    const response = await c.AuthClient.is({
      identityContext: identityContext(BETH, "SUB"),
      policyContext: policyContext("todoApp.GET.todos", ["allowed", "visible", "enabled"]),
    });
    const byName = Object.fromEntries(response.decisions.map((d) => [d.decision, d.is]));
    assert.deepEqual(byName, { allowed: true, visible: true, enabled: true });
  });
});

describe("Authorizer errors, Query and ListPolicies", () => {
  test("an identity that resolves to no user is NOT_FOUND", async () => {
    await assert.rejects(client().Is(isRequest("nobody@nowhere.example", "todoApp.GET.todos")), NotFoundError);
  });

  test("an anonymous caller (IDENTITY_TYPE_NONE) has no user", async () => {
    const allowed = await client().Is({
      identityContext: identityContext("", "NONE"),
      policyContext: policyContext("todoApp.GET.todos", ["allowed"]),
    });
    assert.equal(allowed, false);
  });

  test("Query evaluates a Rego query with the resolved user", async () => {
    const evaluate = (user) =>
      client().Query({
        identityContext: identityContext(user, "SUB"),
        policyContext: policyContext("todoApp.POST.todos", ["allowed"]),
        query: "x = data.todoApp.POST.todos.allowed",
      });
    const rick = await evaluate(RICK);
    assert.equal(rick.result[0].bindings.x, true, JSON.stringify(rick));
    const beth = await evaluate(BETH);
    assert.equal(beth.result[0].bindings.x, false, JSON.stringify(beth));
  });

  test("ListPolicies lists the demo modules with Topaz's package paths", async () => {
    const modules = await client().ListPolicies({ policyInstance: policyInstance("todo", "todo") });
    // Topaz fills package_path from the Rego AST's package ref, which starts with "data.".
    const paths = modules.map((m) => m.packagePath);
    for (const want of ["data.todoApp.GET.todos", "data.todoApp.POST.todos", "data.rebac.check"]) {
      assert.ok(paths.includes(want), `${want} not in ${JSON.stringify(paths)}`);
    }
    for (const m of modules) {
      assert.ok(m.id && m.raw, `module without id or raw: ${JSON.stringify(m.id)}`);
    }
  });
});

describe("Authorizer TLS modes", () => {
  test("insecure: true (no CA) still connects over TLS", async () => {
    const c = new Authorizer({ authorizerServiceUrl: server.addr.authorizerGrpc, insecure: true });
    assert.equal(await c.Is(isRequest(RICK, "todoApp.POST.todos")), true);
  });

  test("the certificate is valid for localhost", async () => {
    const port = server.addr.authorizerGrpc.split(":").pop();
    const c = new Authorizer({ authorizerServiceUrl: `localhost:${port}`, caFile: server.ca });
    assert.equal(await c.Is(isRequest(RICK, "todoApp.POST.todos")), true);
  });

  test("without the CA the self-signed certificate is rejected (the port really speaks TLS)", async () => {
    const c = new Authorizer({ authorizerServiceUrl: server.addr.authorizerGrpc });
    await assert.rejects(c.Is(isRequest(RICK, "todoApp.POST.todos")), /certificate/);
  });

  test("the directory-grpc port serves the authorizer too", async () => {
    const c = new Authorizer({ authorizerServiceUrl: server.addr.directoryGrpc, caFile: server.ca });
    assert.equal(await c.Is(isRequest(BETH, "todoApp.POST.todos")), false);
  });
});

describe("Authorizer.DecisionTree", () => {
  test("display state map for beth under todoApp (dot separator)", async () => {
    const tree = await client().DecisionTree({
      identityContext: identityContext(BETH, "SUB"),
      policyInstance: policyInstance("todo", "todo"),
      policyContext: policyContext("todoApp", ["allowed", "visible", "enabled"]),
      resourceContext: {},
      options: decisionTreeOptions("DOT"),
    });
    assert.equal(tree.pathRoot, "todoApp");
    assert.deepEqual(tree.path["todoApp.GET.todos"], { allowed: true, visible: true, enabled: true });
    assert.deepEqual(tree.path["todoApp.POST.todos"], { allowed: false, visible: true, enabled: true });
    assert.deepEqual(tree.path["todoApp.PUT.todos.__id"], { allowed: false, visible: true, enabled: true });
    assert.deepEqual(tree.path["todoApp.DELETE.todos.__id"], { allowed: false, visible: true, enabled: true });
    for (const key of Object.keys(tree.path)) {
      assert.ok(key.startsWith("todoApp."), `unexpected path outside the root: ${key}`);
    }
  });

  test("display state map for rick with the slash separator", async () => {
    const tree = await client().DecisionTree({
      identityContext: identityContext(RICK, "SUB"),
      policyContext: policyContext("todoApp", ["allowed", "visible", "enabled"]),
      resourceContext: {},
      options: decisionTreeOptions("SLASH"),
    });
    assert.equal(tree.pathRoot, "todoApp");
    assert.deepEqual(tree.path["todoApp/GET/todos"], { allowed: true, visible: true, enabled: true });
    assert.deepEqual(tree.path["todoApp/POST/todos"], { allowed: true, visible: true, enabled: true });
    assert.equal(tree.path["todoApp.GET.todos"], undefined);
  });
});
