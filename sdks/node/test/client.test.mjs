// The client against a real `lictor run --demo`: decisions, checks, lookups, directory, manifest, errors.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { Lictor, LictorError } from "@lictor/node";

import { startLictor } from "./helpers/lictor.mjs";

const RICK = "rick@the-citadel.com";
const MORTY = "morty@the-citadel.com";
const SUMMER = "summer@the-smiths.com";
const BETH = "beth@the-smiths.com";

let server;
let lictor;
before(async () => {
  server = await startLictor();
  lictor = new Lictor({ url: server.url });
});
after(() => server?.stop());

/** Asserts that `promise` rejects with a LictorError matching `expected` and returns it. */
async function rejectsWith(promise, expected) {
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return error instanceof LictorError;
  });
  for (const [key, value] of Object.entries(expected)) {
    if (value instanceof RegExp) assert.match(caught[key], value, `${key} of ${caught}`);
    else assert.equal(caught[key], value, `${key} of ${caught}`);
  }
  return caught;
}

describe("is", () => {
  test("the todo policies answer per user", async () => {
    assert.deepEqual(await lictor.is({ identity: BETH, policyPath: "todoApp.GET.todos" }), { allowed: true });
    assert.deepEqual(await lictor.is({ identity: BETH, policyPath: "todoApp.POST.todos" }), { allowed: false });
    assert.deepEqual(
      await lictor.is({ identity: { type: "sub", value: RICK }, policyPath: "todoApp.POST.todos" }),
      { allowed: true },
    );
  });

  test("several decisions, and anonymous callers", async () => {
    assert.deepEqual(
      await lictor.is({ identity: BETH, policyPath: "todoApp.GET.todos", decisions: ["allowed", "visible", "enabled"] }),
      { allowed: true, visible: true, enabled: true },
    );
    assert.deepEqual(await lictor.is({ policyPath: "todoApp.GET.todos" }), { allowed: false });
    assert.deepEqual(await lictor.is({ identity: { type: "none" }, policyPath: "todoApp.GET.todos" }), { allowed: false });
  });

  test("the resource context reaches the policy", async () => {
    const resource = { object_type: "group", object_id: "admin", relation: "member" };
    assert.deepEqual(await lictor.is({ identity: RICK, policyPath: "rebac.check", resource }), { allowed: true });
    assert.deepEqual(await lictor.is({ identity: BETH, policyPath: "rebac.check", resource }), { allowed: false });
  });

  test("an unknown package is NOT_FOUND, a subject of no user too, a bad JWT UNAUTHENTICATED", async () => {
    await rejectsWith(lictor.is({ identity: BETH, policyPath: "todoApp.nope" }), {
      code: "NOT_FOUND",
      status: 404,
      operation: "POST /api/v2/authz/is",
      message: /todoApp\.nope/,
    });
    await rejectsWith(lictor.is({ identity: "nobody@example.com", policyPath: "todoApp.GET.todos" }), {
      code: "NOT_FOUND",
      message: /nobody@example\.com/,
    });
    await rejectsWith(lictor.is({ identity: { type: "jwt", value: "not.a.jwt" }, policyPath: "todoApp.GET.todos" }), {
      code: "UNAUTHENTICATED",
      status: 401,
      message: /invalid JWT/,
    });
  });
});

describe("decisionTree", () => {
  test("every todo route for beth, keyed by dotted or slashed path", async () => {
    const decisions = ["allowed", "visible", "enabled"];
    const dotted = await lictor.decisionTree({ identity: BETH, policyRoot: "todoApp", decisions });
    assert.equal(dotted.pathRoot, "todoApp");
    assert.deepEqual(dotted.paths, {
      "todoApp.GET.todos": { allowed: true, visible: true, enabled: true },
      "todoApp.POST.todos": { allowed: false, visible: true, enabled: true },
      "todoApp.PUT.todos.__id": { allowed: false, visible: true, enabled: true },
      "todoApp.DELETE.todos.__id": { allowed: false, visible: true, enabled: true },
    });
    const slashed = await lictor.decisionTree({ identity: RICK, policyRoot: "todoApp", pathSeparator: "slash" });
    assert.deepEqual(slashed.paths["todoApp/POST/todos"], { allowed: true });
    assert.equal(Object.keys(slashed.paths).length, 4);
  });
});

describe("check and checks", () => {
  test("relations and permissions, string and object forms", async () => {
    assert.deepEqual(await lictor.check({ subject: `user:${RICK}`, permission: "member", object: "group:admin" }), {
      allowed: true,
    });
    assert.deepEqual(
      await lictor.check({ subject: { type: "user", id: BETH }, permission: "member", object: { type: "group", id: "editor" } }),
      { allowed: false },
    );
    // A subject set: admin#member is a member of editor.
    assert.deepEqual(await lictor.check({ subject: "group:admin#member", permission: "member", object: "group:editor" }), {
      allowed: true,
    });
    assert.deepEqual(
      await lictor.check({ subject: `user:${MORTY}`, permission: "can_create_resource", object: "resource-creator:resource-creators" }),
      { allowed: true },
    );
  });

  test("explain returns the evaluation tree and its text", async () => {
    const result = await lictor.check({ subject: `user:${RICK}`, permission: "member", object: "group:editor", explain: true });
    assert.equal(result.allowed, true);
    const { tree, text, revision } = result.explanation;
    assert.equal(tree.kind, "relation");
    assert.equal(tree.node, "group:editor#member");
    assert.equal(tree.allowed, true);
    assert.equal(tree.children[0].node, "group:admin#member");
    assert.deepEqual(tree.children[0].children[0], { kind: "tuple", allowed: true, subject: `user:${RICK}` });
    assert.match(text, /✓ group:editor#member/);
    assert.ok(revision > 0);
  });

  test("a batch answers in order, a bad item in place", async () => {
    const results = await lictor.checks([
      { subject: `user:${RICK}`, permission: "member", object: "group:admin" },
      { subject: `user:${BETH}`, permission: "member", object: "group:admin" },
      { subject: `user:${BETH}`, permission: "no_such_relation", object: "group:admin" },
    ]);
    assert.equal(results.length, 3);
    assert.deepEqual(results[0], { allowed: true });
    assert.deepEqual(results[1], { allowed: false });
    assert.equal(results[2].allowed, false);
    assert.match(results[2].error, /checks\[2\].*no_such_relation/);
  });

  test("an unknown relation is INVALID_ARGUMENT naming it", async () => {
    await rejectsWith(lictor.check({ subject: `user:${RICK}`, permission: "nope", object: "group:admin" }), {
      code: "INVALID_ARGUMENT",
      status: 400,
      message: /`nope`/,
    });
  });

  test("malformed arguments are TypeErrors naming the argument, sent nowhere", async () => {
    await assert.rejects(lictor.check({ subject: "rick", permission: "member", object: "group:admin" }), {
      name: "TypeError",
      message: 'check().subject "rick" is not of the form "type:id"',
    });
    await assert.rejects(lictor.check({ subject: "user:rick", permission: "", object: "group:admin" }), {
      name: "TypeError",
      message: 'check().permission must be a non-empty string, got ""',
    });
    await assert.rejects(lictor.checks([{ subject: "user:a", permission: "member", object: { type: "group" } }]), {
      name: "TypeError",
      message: "checks()[0].object.id must be a non-empty string, got undefined",
    });
    await assert.rejects(lictor.is({ identity: { type: "email", value: "x" }, policyPath: "p" }), {
      name: "TypeError",
      message: 'is(): identity.type must be "sub", "jwt", "manual" or "none", got "email"',
    });
  });
});

describe("lookups", () => {
  test("objects a user reaches, page by page", async () => {
    const all = await lictor.lookupObjects({ subject: `user:${RICK}`, permission: "member", objectType: "group" });
    // Rick is a member of admin, evil_genius and viewer, and of editor through admin#member.
    assert.deepEqual(all.ids, ["admin", "editor", "evil_genius", "viewer"]);
    assert.equal(all.next, null);
    const first = await lictor.lookupObjects({ subject: `user:${RICK}`, permission: "member", objectType: "group", pageSize: 1 });
    assert.deepEqual(first.ids, ["admin"]);
    const second = await lictor.lookupObjects({
      subject: `user:${RICK}`,
      permission: "member",
      objectType: "group",
      pageSize: 1,
      after: first.next,
    });
    assert.deepEqual(second.ids, ["editor"]);
  });

  test("subjects that hold a permission", async () => {
    const found = await lictor.lookupSubjects({ object: "group:editor", permission: "member", subjectType: "user" });
    assert.deepEqual(found.ids, [MORTY, RICK, SUMMER]);
    assert.deepEqual(found.excluded, []);
    assert.equal(found.next, null);
    const sets = await lictor.lookupSubjects({
      object: "group:editor",
      permission: "member",
      subjectType: "group",
      subjectRelation: "member",
    });
    assert.ok(sets.ids.includes("admin"), JSON.stringify(sets));
  });
});

describe("directory", () => {
  test("objects: write, read, list, delete", async () => {
    const written = await lictor.setObject({ type: "resource", id: "sdk-doc", displayName: "SDK doc", properties: { pages: 3 } });
    assert.equal(written.type, "resource");
    assert.equal(written.displayName, "SDK doc");
    assert.deepEqual(written.properties, { pages: 3 });
    assert.ok(written.etag && written.createdAt && written.updatedAt);
    assert.ok(written.revision > 0, `revision ${written.revision}`);

    // A read answers the object as stored; only a write's answer carries a revision.
    const { revision: _, ...stored } = written;
    const read = await lictor.getObject("resource:sdk-doc");
    assert.deepEqual(read, stored);

    // The etag guards against lost updates.
    const updated = await lictor.setObject({ type: "resource", id: "sdk-doc", displayName: "v2", etag: written.etag });
    assert.equal(updated.displayName, "v2");
    await rejectsWith(lictor.setObject({ type: "resource", id: "sdk-doc", etag: written.etag }), {
      code: "FAILED_PRECONDITION",
      message: /etag mismatch/,
    });

    const users = await lictor.getObjects({ objectType: "user", pageSize: 3 });
    assert.equal(users.results.length, 3);
    assert.ok(users.nextPageToken);
    const rest = await lictor.getObjects({ objectType: "user", pageSize: 10, pageToken: users.nextPageToken });
    const ids = [...users.results, ...rest.results].map((o) => o.id);
    for (const user of [RICK, MORTY, SUMMER, BETH, "jerry@the-smiths.com"]) assert.ok(ids.includes(user), user);

    await lictor.deleteObject("resource:sdk-doc");
    await rejectsWith(lictor.getObject({ type: "resource", id: "sdk-doc" }), {
      code: "NOT_FOUND",
      status: 404,
      operation: "GET /api/v3/directory/object/resource/sdk-doc",
    });
  });

  test("relations: write, read, filter, delete; permissions follow", async () => {
    await lictor.setObject({ type: "resource", id: "sdk-rel" });
    const owner = await lictor.setRelation({ object: "resource:sdk-rel", relation: "owner", subject: `user:${BETH}` });
    assert.deepEqual(owner.object, { type: "resource", id: "sdk-rel" });
    assert.deepEqual(owner.subject, { type: "user", id: BETH });
    assert.ok(owner.etag);
    const writers = await lictor.setRelation({ object: "resource:sdk-rel", relation: "writer", subject: "group:editor#member" });
    assert.deepEqual(writers.subject, { type: "group", id: "editor", relation: "member" });

    const { revision: _, ...stored } = owner;
    const read = await lictor.getRelation({ object: "resource:sdk-rel", relation: "owner", subject: `user:${BETH}` });
    assert.deepEqual(read, stored);
    const listed = await lictor.getRelations({ objectType: "resource", objectId: "sdk-rel" });
    assert.deepEqual(listed.results.map((r) => r.relation).sort(), ["owner", "writer"]);
    assert.equal(listed.nextPageToken, "");

    assert.equal((await lictor.check({ subject: `user:${BETH}`, permission: "can_delete", object: "resource:sdk-rel" })).allowed, true);
    assert.equal((await lictor.check({ subject: `user:${MORTY}`, permission: "can_write", object: "resource:sdk-rel" })).allowed, true);
    assert.equal((await lictor.check({ subject: `user:${MORTY}`, permission: "can_delete", object: "resource:sdk-rel" })).allowed, false);

    await lictor.deleteRelation({ object: "resource:sdk-rel", relation: "owner", subject: `user:${BETH}` });
    await rejectsWith(lictor.getRelation({ object: "resource:sdk-rel", relation: "owner", subject: `user:${BETH}` }), {
      code: "NOT_FOUND",
    });
    await lictor.deleteObject("resource:sdk-rel", { withRelations: true });
    assert.deepEqual((await lictor.getRelations({ objectType: "resource", objectId: "sdk-rel" })).results, []);
  });

  test("a type the manifest lacks is INVALID_ARGUMENT naming it", async () => {
    await rejectsWith(lictor.setObject({ type: "spaceship", id: "x" }), {
      code: "INVALID_ARGUMENT",
      message: /spaceship/,
    });
  });
});

describe("manifest", () => {
  test("read with its etag, write back, refuse bad YAML with its position", async () => {
    const manifest = await lictor.getManifest();
    assert.match(manifest.yaml, /resource-creator:/);
    assert.match(manifest.etag, /^[0-9a-f]+$/);
    const { revision } = await lictor.setManifest(manifest.yaml);
    assert.ok(revision > 0);
    await rejectsWith(lictor.setManifest("model: {version: 3}\ntypes: {user: {\n"), {
      code: "INVALID_ARGUMENT",
      message: /manifest\.yaml:\d+:\d+/,
    });
    assert.equal((await lictor.getManifest()).yaml, manifest.yaml);
  });
});

describe("consistency tokens: reading your own writes", () => {
  test("every write answers a revision, growing with each write", async () => {
    const object = await lictor.setObject({ type: "resource", id: "sdk-token" });
    const relation = await lictor.setRelation({ object: "resource:sdk-token", relation: "owner", subject: `user:${BETH}` });
    const unlinked = await lictor.deleteRelation({ object: "resource:sdk-token", relation: "owner", subject: `user:${BETH}` });
    const deleted = await lictor.deleteObject("resource:sdk-token");
    const revisions = [object, relation, unlinked, deleted].map((w) => w.revision);
    assert.ok(revisions.every(Number.isSafeInteger), JSON.stringify(revisions));
    assert.ok(revisions[0] > 0, JSON.stringify(revisions));
    for (let i = 1; i < revisions.length; i++) {
      assert.ok(revisions[i] > revisions[i - 1], `revisions do not grow: ${JSON.stringify(revisions)}`);
    }
    assert.deepEqual(unlinked, { revision: revisions[2] });
    assert.deepEqual(deleted, { revision: revisions[3] });
    // Rewriting the manifest answers a revision that holds it, no older than the writes before it.
    const { revision: manifest } = await lictor.setManifest((await lictor.getManifest()).yaml);
    assert.ok(manifest >= revisions[3], `manifest revision ${manifest} after ${JSON.stringify(revisions)}`);
  });

  test("a call with minRevision set to a write's revision sees the write", async () => {
    await lictor.setObject({ type: "resource", id: "sdk-ryow" });
    const { revision } = await lictor.setRelation({ object: "resource:sdk-ryow", relation: "owner", subject: `user:${BETH}` });
    const minRevision = revision;
    const check = { subject: `user:${BETH}`, permission: "can_delete", object: "resource:sdk-ryow" };
    assert.deepEqual(await lictor.check(check, { minRevision }), { allowed: true });
    assert.equal((await lictor.check({ ...check, explain: true }, { minRevision })).explanation.revision >= revision, true);
    assert.deepEqual(await lictor.checks([check], { minRevision }), [{ allowed: true }]);
    const owner = await lictor.getRelation({ object: "resource:sdk-ryow", relation: "owner", subject: `user:${BETH}` }, { minRevision });
    assert.deepEqual(owner.subject, { type: "user", id: BETH });
    const found = await lictor.lookupObjects({ subject: `user:${BETH}`, permission: "can_delete", objectType: "resource" }, { minRevision });
    assert.ok(found.ids.includes("sdk-ryow"), JSON.stringify(found));
    assert.ok(found.revision >= revision);
    assert.deepEqual(
      await lictor.is({ identity: BETH, policyPath: "todoApp.DELETE.todos.__id", resource: { object_id: "sdk-ryow" } }, { minRevision }),
      { allowed: true },
    );
    // 0 is a valid token: every directory has applied revision 0.
    assert.deepEqual(await lictor.check(check, { minRevision: 0 }), { allowed: true });

    const { revision: gone } = await lictor.deleteRelation({ object: "resource:sdk-ryow", relation: "owner", subject: `user:${BETH}` });
    assert.ok(gone > revision);
    assert.deepEqual(await lictor.check(check, { minRevision: gone }), { allowed: false });
    await lictor.deleteObject("resource:sdk-ryow", { withRelations: true });
  });

  test("a revision the server has not reached fails UNAVAILABLE after its wait bound, naming the revision", async () => {
    const { revision } = await lictor.setObject({ type: "resource", id: "sdk-ahead" });
    const ahead = revision + 1_000_000;
    const started = performance.now();
    const error = await rejectsWith(
      lictor.check({ subject: `user:${BETH}`, permission: "can_read", object: "resource:sdk-ahead" }, { minRevision: ahead }),
      {
        code: "UNAVAILABLE",
        status: 503,
        operation: "POST /api/v3/directory/check",
        message: new RegExp(`revision ${ahead} \\(x-lictor-min-revision\\) is not applied here within \\d+ ms`),
      },
    );
    const waited = performance.now() - started;
    assert.ok(waited >= 900, `failed after ${Math.round(waited)} ms, before the server's 1000 ms bound`);
    assert.equal(error.unavailable, true);
    assert.match(error.message, /this replica is at revision \d+/);
    await lictor.deleteObject("resource:sdk-ahead");
  });

  test("a malformed minRevision is a TypeError, sent nowhere", async () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "7", null]) {
      await assert.rejects(
        lictor.check({ subject: `user:${BETH}`, permission: "member", object: "group:viewer" }, { minRevision: bad }),
        (error) => {
          assert.equal(error.name, "TypeError", String(error));
          assert.match(error.message, /^POST \/api\/v3\/directory\/check: options\.minRevision must be a non-negative integer/);
          return true;
        },
      );
    }
    await assert.rejects(lictor.getObject("user:x", { minRevision: -5 }), {
      name: "TypeError",
      message: "GET /api/v3/directory/object/user/x: options.minRevision must be a non-negative integer (the revision of a write), got -5",
    });
  });
});

describe("request ids", () => {
  test("the server answers with the x-request-id the client sent", async () => {
    const error = await rejectsWith(lictor.getObject("user:nobody", { requestId: "sdk-test-request-1" }), {
      code: "NOT_FOUND",
    });
    assert.equal(error.requestId, "sdk-test-request-1");
  });

  test("a generated request id comes back on errors", async () => {
    const error = await rejectsWith(lictor.getObject("user:nobody"), { code: "NOT_FOUND" });
    assert.match(error.requestId ?? "", /^[0-9a-f-]{36}$/);
  });
});

describe("API keys and tenants", () => {
  let secured;
  before(async () => {
    secured = await startLictor(
      [
        "tenants: [{id: acme}]",
        "api_keys:",
        "  - {key: sdk-reader-key-0123456789, scopes: [read]}",
        "  - {key: sdk-acme-key-0123456789, tenant: acme, scopes: [read, write, admin]}",
        "",
      ].join("\n"),
    );
  });
  after(() => secured?.stop());

  test("no or an unknown key is UNAUTHENTICATED; a read key reads but cannot write", async () => {
    await rejectsWith(new Lictor({ url: secured.url }).getObject(`user:${BETH}`), { code: "UNAUTHENTICATED", status: 401 });
    await rejectsWith(new Lictor({ url: secured.url, apiKey: "wrong-key-0123456789" }).getObject(`user:${BETH}`), {
      code: "UNAUTHENTICATED",
      message: /unknown API key/,
    });
    const reader = new Lictor({ url: secured.url, apiKey: "sdk-reader-key-0123456789" });
    assert.equal((await reader.getObject(`user:${BETH}`)).displayName, "Beth Smith");
    await rejectsWith(reader.setObject({ type: "resource", id: "x" }), { code: "PERMISSION_DENIED", status: 403 });
  });

  test("the tenant header selects the tenant's own directory", async () => {
    const acme = new Lictor({ url: secured.url, apiKey: "sdk-acme-key-0123456789", tenantId: "acme" });
    assert.deepEqual((await acme.getObjects({ objectType: "user" })).results, []);
    await rejectsWith(
      new Lictor({ url: secured.url, apiKey: "sdk-reader-key-0123456789", tenantId: "acme" }).getObjects(),
      { code: "PERMISSION_DENIED", message: /tenant "acme"/ },
    );
  });
});
