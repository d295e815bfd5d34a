// Aserto's Node SDK DirectoryServiceV3 client (gRPC, TLS) against lictor's demo.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  Authorizer,
  DirectoryServiceV3,
  EtagMismatchError,
  ImportMsgCase,
  ImportOpCode,
  NotFoundError,
  createImportRequest,
  readAsyncIterable,
  serializeAsyncIterable,
  identityContext,
  policyContext,
} from "@aserto/aserto-node";

import { startLictor } from "../lib/lictor.js";

let server;
let ds;
before(async () => {
  server = await startLictor();
  ds = DirectoryServiceV3({ url: server.addr.directoryGrpc, caFile: server.ca });
});
after(async () => {
  await server?.stop();
});

const MORTY = "morty@the-citadel.com";
const BETH = "beth@the-smiths.com";
const SUMMER = "summer@the-smiths.com";
const RICK = "rick@the-citadel.com";
const TODO = "todo-compat";

function check(relation, subjectId, objectId = TODO) {
  return ds.check({ objectType: "resource", objectId, relation, subjectType: "user", subjectId });
}

// The steps build on each other, in order (node:test runs the tests of a describe sequentially).
describe("DirectoryServiceV3", () => {
  test("reads a demo user", async () => {
    const got = await ds.object({ objectType: "user", objectId: RICK });
    assert.equal(got.result.type, "user");
    assert.equal(got.result.id, RICK);
  });

  test("a missing object is NOT_FOUND (NotFoundError)", async () => {
    await assert.rejects(ds.object({ objectType: "resource", objectId: "no-such-todo" }), NotFoundError);
  });

  test("setObject creates the resource", async () => {
    const res = await ds.setObject({
      object: { type: "resource", id: TODO, displayName: "compat todo", properties: { title: "buy milk", done: false } },
    });
    assert.equal(res.result.type, "resource");
    assert.equal(res.result.id, TODO);
    assert.equal(res.result.displayName, "compat todo");
    assert.ok(res.result.etag, "setObject returns an etag");

    const got = await ds.object({ objectType: "resource", objectId: TODO });
    assert.equal(got.result.displayName, "compat todo");
    assert.deepEqual(got.result.properties, { title: "buy milk", done: false });
  });

  test("before any relation nobody can delete it", async () => {
    assert.equal((await check("can_delete", MORTY)).check, false);
  });

  test("setRelation makes morty the owner", async () => {
    const res = await ds.setRelation({
      relation: { objectType: "resource", objectId: TODO, relation: "owner", subjectType: "user", subjectId: MORTY },
    });
    assert.equal(res.result.objectType, "resource");
    assert.equal(res.result.objectId, TODO);
    assert.equal(res.result.relation, "owner");
    assert.equal(res.result.subjectType, "user");
    assert.equal(res.result.subjectId, MORTY);

    const got = await ds.relation({
      objectType: "resource", objectId: TODO, relation: "owner", subjectType: "user", subjectId: MORTY,
    });
    assert.equal(got.result.subjectId, MORTY);
  });

  test("check: morty can_delete, beth cannot", async () => {
    assert.equal((await check("can_delete", MORTY)).check, true);
    assert.equal((await check("can_delete", BETH)).check, false);
    assert.equal((await check("can_write", MORTY)).check, true);
    assert.equal((await check("can_write", BETH)).check, false);
  });

  test("relations lists the owner relation", async () => {
    const res = await ds.relations({ objectType: "resource", objectId: TODO });
    const owners = res.results.filter((r) => r.relation === "owner").map((r) => r.subjectId);
    assert.deepEqual(owners, [MORTY]);
  });

  test("graph: subjects that can_delete the resource", async () => {
    const res = await ds.graph({
      objectType: "resource", objectId: TODO, relation: "can_delete", subjectType: "user",
    });
    const ids = res.results.map((r) => `${r.objectType}:${r.objectId}`);
    assert.deepEqual(ids, [`user:${MORTY}`]);
  });

  test("graph: resources morty owns", async () => {
    const res = await ds.graph({
      objectType: "resource", relation: "owner", subjectType: "user", subjectId: MORTY,
    });
    const ids = res.results.map((r) => `${r.objectType}:${r.objectId}`);
    assert.ok(ids.includes(`resource:${TODO}`), `got ${JSON.stringify(ids)}`);
  });

  test("a group#member writer grants can_write to the group's members (and nested admins)", async () => {
    await ds.setRelation({
      relation: {
        objectType: "resource", objectId: TODO, relation: "writer",
        subjectType: "group", subjectId: "editor", subjectRelation: "member",
      },
    });
    assert.equal((await check("can_write", SUMMER)).check, true);
    assert.equal((await check("can_write", RICK)).check, true);
    assert.equal((await check("can_write", BETH)).check, false);
    assert.equal((await check("can_delete", SUMMER)).check, false);
  });

  test("the authorizer sees the directory writes", async () => {
    const authz = new Authorizer({ authorizerServiceUrl: server.addr.authorizerGrpc, caFile: server.ca });
    const req = (user, path) => ({
      identityContext: identityContext(user, "SUB"),
      policyContext: policyContext(path, ["allowed"]),
      resourceContext: { object_id: TODO },
    });
    assert.equal(await authz.Is(req(MORTY, "todoApp.DELETE.todos.__id")), true);
    assert.equal(await authz.Is(req(BETH, "todoApp.DELETE.todos.__id")), false);
    assert.equal(await authz.Is(req(SUMMER, "todoApp.PUT.todos.__id")), true);
    assert.equal(await authz.Is(req(BETH, "todoApp.PUT.todos.__id")), false);
  });

  test("deleteRelation revokes ownership", async () => {
    await ds.deleteRelation({
      objectType: "resource", objectId: TODO, relation: "owner", subjectType: "user", subjectId: MORTY,
    });
    assert.equal((await check("can_delete", MORTY)).check, false);
  });

  test("deleteObject with relations removes the resource", async () => {
    await ds.deleteObject({ objectType: "resource", objectId: TODO, withRelations: true });
    await assert.rejects(ds.object({ objectType: "resource", objectId: TODO }), NotFoundError);
  });
});

describe("DirectoryServiceV3 metadata, paging and streams", () => {
  test("setObject stamps created_at and updated_at (as Topaz does)", async () => {
    const res = await ds.setObject({ object: { type: "resource", id: "todo-stamped", displayName: "stamped" } });
    assert.ok(res.result.createdAt, `no createdAt in ${JSON.stringify(res.result)}`);
    assert.ok(res.result.updatedAt, `no updatedAt in ${JSON.stringify(res.result)}`);
    const got = await ds.object({ objectType: "resource", objectId: "todo-stamped" });
    assert.equal(got.result.createdAt, res.result.createdAt);
  });

  test("setRelation stamps created_at and updated_at (as Topaz does)", async () => {
    await ds.setObject({ object: { type: "resource", id: "todo-stamped-rel" } });
    const res = await ds.setRelation({
      relation: { objectType: "resource", objectId: "todo-stamped-rel", relation: "owner", subjectType: "user", subjectId: BETH },
    });
    assert.ok(res.result.createdAt, `no createdAt in ${JSON.stringify(res.result)}`);
    assert.ok(res.result.updatedAt, `no updatedAt in ${JSON.stringify(res.result)}`);
  });

  test("setObject with a stale etag is FAILED_PRECONDITION (EtagMismatchError)", async () => {
    const first = await ds.setObject({ object: { type: "resource", id: "todo-etag", displayName: "v1" } });
    await assert.rejects(
      ds.setObject({ object: { type: "resource", id: "todo-etag", displayName: "v2", etag: "stale" } }),
      EtagMismatchError,
    );
    const second = await ds.setObject({
      object: { type: "resource", id: "todo-etag", displayName: "v2", etag: first.result.etag },
    });
    assert.equal(second.result.displayName, "v2");
    assert.notEqual(second.result.etag, first.result.etag);
  });

  test("objects pages through the demo users", async () => {
    const seen = [];
    let token = "";
    for (let i = 0; i < 10; i++) {
      const res = await ds.objects({ objectType: "user", page: { size: 2, token } });
      assert.ok(res.results.length <= 2);
      seen.push(...res.results.map((o) => o.id));
      token = res.page.nextToken;
      if (!token) break;
    }
    // The citadel's five users and the six of the AuthZEN search scenario the demo also serves.
    assert.deepEqual(seen.sort(), [
      "alice", "beth@the-smiths.com", "bob", "carol", "dan", "erin", "felix",
      "jerry@the-smiths.com", "morty@the-citadel.com", "rick@the-citadel.com", "summer@the-smiths.com",
    ]);
  });

  test("objectMany returns each requested object", async () => {
    const res = await ds.objectMany({
      param: [{ objectType: "user", objectId: RICK }, { objectType: "group", objectId: "admin" }],
    });
    assert.deepEqual(res.results.map((o) => `${o.type}:${o.id}`), [`user:${RICK}`, "group:admin"]);
  });

  test("check with trace returns a trace", async () => {
    const res = await ds.check({
      objectType: "group", objectId: "editor", relation: "member", subjectType: "user", subjectId: RICK, trace: true,
    });
    assert.equal(res.check, true);
    assert.ok(res.trace.length > 0);
  });

  test("graph with explain returns an explanation per result (as Topaz does)", async () => {
    const res = await ds.graph({
      objectType: "group", objectId: "editor", relation: "member", subjectType: "user", explain: true,
    });
    const ids = res.results.map((r) => `${r.objectType}:${r.objectId}`).sort();
    assert.deepEqual(ids, [`user:${MORTY}`, `user:${RICK}`, `user:${SUMMER}`]);
    assert.ok(res.explanation, `no explanation in ${JSON.stringify(res)}`);
    assert.deepEqual(Object.keys(res.explanation).sort(), ids);
  });

  test("getManifest returns the demo manifest with its metadata", async () => {
    const m = await ds.getManifest();
    assert.match(m.body, /resource-creator:/);
    assert.ok(m.etag);
  });

  test("getManifest metadata carries updated_at (as Topaz does)", async () => {
    const m = await ds.getManifest();
    assert.ok(m.updatedAt, `no updatedAt: ${JSON.stringify({ etag: m.etag, updatedAt: m.updatedAt })}`);
    assert.ok(new Date(m.updatedAt).getFullYear() >= 2024, `updatedAt ${m.updatedAt}`);
  });

  test("getManifest with if-none-match: <current etag> sends no body (as Topaz does)", async () => {
    const m = await ds.getManifest();
    const again = await ds.getManifest(undefined, { headers: { "if-none-match": m.etag } });
    assert.equal(again.etag, m.etag);
    assert.equal(again.body, "");
  });

  test("import streams objects and relations in, export streams them out", async () => {
    const responses = await readAsyncIterable(
      await ds.import(
        createImportRequest([
          {
            opCode: ImportOpCode.SET,
            msg: { case: ImportMsgCase.OBJECT, value: { type: "resource", id: "todo-imported", displayName: "imported", properties: { n: 1 } } },
          },
          {
            opCode: ImportOpCode.SET,
            msg: {
              case: ImportMsgCase.RELATION,
              value: { objectType: "resource", objectId: "todo-imported", relation: "owner", subjectType: "user", subjectId: BETH },
            },
          },
        ]),
      ),
    );
    const sum = (field) =>
      responses.reduce((acc, r) => ({ recv: acc.recv + Number(r[field]?.recv ?? 0), set: acc.set + Number(r[field]?.set ?? 0) }), { recv: 0, set: 0 });
    assert.deepEqual(sum("object"), { recv: 1, set: 1 });
    assert.deepEqual(sum("relation"), { recv: 1, set: 1 });
    assert.equal((await check("can_delete", BETH, "todo-imported")).check, true);

    const exported = await serializeAsyncIterable(await ds.export({ options: "DATA" }));
    assert.ok(exported.some((e) => e.object?.type === "resource" && e.object?.id === "todo-imported"));
    assert.ok(
      exported.some((e) => e.relation?.objectId === "todo-imported" && e.relation?.relation === "owner" && e.relation?.subjectId === BETH),
    );
    assert.ok(exported.some((e) => e.object?.type === "user" && e.object?.id === RICK));
  });
});
