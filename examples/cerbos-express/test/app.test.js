// The example app over real HTTP, authorized by the PDP at CERBOS_GRPC (default localhost:3593) with the
// policies in ../policies: scripts/cerbos-clients.sh starts that PDP (the real Cerbos, or Lictor).
const assert = require("node:assert/strict");
const { after, before, beforeEach, describe, test } = require("node:test");
const { GRPC } = require("@cerbos/grpc");
const { createApp } = require("../src/app");
const { createDb } = require("../src/db");

const cerbos = new GRPC(process.env.CERBOS_GRPC ?? "localhost:3593", { tls: false });
let server;
let baseUrl;
let db;

before(async () => {
  // One server whose app reads the current `db`, replaced before each test.
  const proxyDb = new Proxy({}, { get: (_target, name) => db[name] });
  server = createApp(cerbos, proxyDb).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server.close();
  cerbos.close();
});

beforeEach(() => {
  db = createDb();
});

async function call(method, path, user, body) {
  const headers = {};
  if (user) headers["x-user"] = user;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe("expense reports through Cerbos's gRPC client", () => {
  test("an unknown caller is refused before the PDP is asked", async () => {
    assert.equal((await call("GET", "/expenses")).status, 401);
  });

  test("the list holds what each caller may view", async () => {
    const ids = async (user) => (await call("GET", "/expenses", user)).body.map((e) => e.id);
    assert.deepEqual(await ids("alice"), ["e1"]);
    assert.deepEqual(await ids("bob"), ["e2", "e3"]);
    assert.deepEqual(await ids("sally"), ["e1", "e2", "e3", "e5"]);
    assert.deepEqual(await ids("mark"), ["e4"]);
    assert.deepEqual(await ids("ada"), ["e1", "e2", "e3", "e4", "e5"]);
  });

  test("one report: 403 when hidden, else the actions the caller may take", async () => {
    assert.equal((await call("GET", "/expenses/e2", "alice")).status, 403);
    assert.equal((await call("GET", "/expenses/e9", "alice")).status, 404);
    const actions = async (user, id) => (await call("GET", `/expenses/${id}`, user)).body.allowedActions;
    assert.deepEqual(await actions("alice", "e1"), ["delete", "update", "view"]);
    assert.deepEqual(await actions("bob", "e2"), ["view"]);
    assert.deepEqual(await actions("sally", "e2"), ["approve", "view"]);
    assert.deepEqual(await actions("sally", "e3"), ["view"]);
    assert.deepEqual(await actions("sally", "e5"), ["view"]);
    assert.deepEqual(await actions("ada", "e3"), ["approve", "delete", "view"]);
    assert.deepEqual(await actions("ada", "e1"), ["delete", "view"]);
  });

  test("owners change drafts only", async () => {
    const changed = await call("PATCH", "/expenses/e1", "alice", { amount: 130 });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.amount, 130);
    assert.equal((await call("PATCH", "/expenses/e2", "bob", { amount: 1 })).status, 403);
    assert.equal((await call("PATCH", "/expenses/e1", "sally", { amount: 1 })).status, 403);
  });

  test("managers approve their region's submitted reports under 10,000, not their own", async () => {
    assert.equal((await call("POST", "/expenses/e3/approve", "sally")).status, 403);
    assert.equal((await call("POST", "/expenses/e4/approve", "sally")).status, 403);
    assert.equal((await call("POST", "/expenses/e5/approve", "sally")).status, 403);
    assert.equal((await call("POST", "/expenses/e1/approve", "sally")).status, 403);
    const approved = await call("POST", "/expenses/e2/approve", "sally");
    assert.equal(approved.status, 200);
    assert.equal(approved.body.status, "approved");
    // Approved is no longer submitted: approving again is refused.
    assert.equal((await call("POST", "/expenses/e2/approve", "sally")).status, 403);
    assert.equal((await call("POST", "/expenses/e3/approve", "ada")).status, 200);
  });

  test("deleting: owners their drafts, admins anything", async () => {
    assert.equal((await call("DELETE", "/expenses/e2", "bob")).status, 403);
    assert.equal((await call("DELETE", "/expenses/e1", "alice")).status, 204);
    assert.equal((await call("GET", "/expenses/e1", "alice")).status, 404);
    assert.equal((await call("DELETE", "/expenses/e3", "ada")).status, 204);
  });
});
