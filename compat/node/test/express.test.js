// An Express app guarded by Aserto's Node SDK middlewares (jwtAuthz, displayStateMap, Middleware)
// talking to a real lictor. The caller's identity is the `sub` of a hand-made (unsigned) JWT, passed to
// the authorizer as IDENTITY_TYPE_SUB.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";

import express from "express";
import {
  Authorizer,
  DirectoryServiceV3,
  Middleware,
  SubIdentityMapper,
  displayStateMap,
  jwtAuthz,
  policyContext,
} from "@aserto/aserto-node";

import { startLictor } from "../lib/lictor.js";

const RICK = "rick@the-citadel.com";
const MORTY = "morty@the-citadel.com";
const BETH = "beth@the-smiths.com";

function b64url(obj) {
  return Buffer.from(JSON.stringify(obj)).toString("base64url");
}

function token(sub) {
  return `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub, iss: "compat-test" })}.`;
}

// Stands in for express-jwt: puts the (unverified) token claims on req.user.
function decodeBearer(req, _res, next) {
  const auth = req.headers.authorization || "";
  const [scheme, jwt] = auth.split(" ");
  if (scheme === "Bearer" && jwt) {
    const payload = jwt.split(".")[1] || "";
    req.user = JSON.parse(Buffer.from(payload, "base64url").toString());
  }
  next();
}

function buildApp(server) {
  const options = {
    authorizerServiceUrl: server.addr.authorizerGrpc,
    caFile: server.ca,
    policyRoot: "todoApp",
    instanceName: "todo",
    useAuthorizationHeader: false,
  };
  const byId = async (req) => ({ object_id: req.params.id });
  const ok = (req, res) => res.status(200).json({ ok: true, method: req.method, path: req.path });

  const app = express();
  app.use(express.json());
  app.use(decodeBearer);
  app.use(displayStateMap(options));
  app.use(
    displayStateMap(
      { ...options, endpointPath: "/__displaystatemap/full" },
      undefined,
      undefined,
      async () => policyContext("todoApp", ["allowed", "visible", "enabled"]),
    ),
  );

  app.get("/todos", jwtAuthz(options), ok);
  app.post("/todos", jwtAuthz(options), ok);
  app.put("/todos/:id", jwtAuthz(options, undefined, byId), ok);
  app.delete("/todos/:id", jwtAuthz(options, undefined, byId), ok);

  // The non-deprecated Middleware class, mounted under /mw.
  const client = new Authorizer({ authorizerServiceUrl: server.addr.authorizerGrpc, caFile: server.ca });
  const rest = new Middleware({
    client,
    policy: { name: "todo", root: "todoApp" },
    identityMapper: SubIdentityMapper(),
    resourceMapper: async (req) => (req.params?.id ? { object_id: req.params.id } : {}),
  });
  const rebac = new Middleware({
    client,
    policy: { name: "rebac", root: "rebac" },
    identityMapper: SubIdentityMapper(),
  });
  const mw = express.Router();
  mw.get("/todos", rest.Authz(), ok);
  mw.post("/todos", rest.Authz(), ok);
  mw.delete("/todos/:id", rest.Authz(), ok);
  mw.get("/admin", rebac.Check({ objectType: "group", objectId: "admin", relation: "member" }), ok);
  mw.get("/groups/:id", rebac.Check({ objectType: "group", objectId: async (req) => req.params.id, relation: "member" }), ok);
  app.use("/mw", mw);
  return app;
}

let server;
let http;
let base;
before(async () => {
  server = await startLictor();
  http = buildApp(server).listen(0, "127.0.0.1");
  await once(http, "listening");
  base = `http://127.0.0.1:${http.address().port}`;

  const ds = DirectoryServiceV3({ url: server.addr.directoryGrpc, caFile: server.ca });
  await ds.setObject({ object: { type: "resource", id: "todo-express", displayName: "express todo" } });
  await ds.setRelation({
    relation: { objectType: "resource", objectId: "todo-express", relation: "owner", subjectType: "user", subjectId: MORTY },
  });
});
after(async () => {
  http?.close();
  await server?.stop();
});

async function call(method, path, user) {
  const headers = { "content-type": "application/json" };
  if (user) headers.authorization = `Bearer ${token(user)}`;
  const res = await fetch(base + path, { method, headers, body: method === "GET" ? undefined : "{}" });
  return { status: res.status, text: await res.text() };
}

async function expectAllowed(method, path, user) {
  const res = await call(method, path, user);
  assert.equal(res.status, 200, `${method} ${path} as ${user}: ${res.status} ${res.text}`);
  assert.equal(JSON.parse(res.text).ok, true);
}

async function expectForbidden(method, path, user, policy) {
  const res = await call(method, path, user);
  assert.equal(res.status, 403, `${method} ${path} as ${user}: ${res.status} ${res.text}`);
  // A denial, not an error turned into a 403 by the middleware.
  assert.equal(res.text, `Forbidden by policy ${policy}`);
}

describe("jwtAuthz", () => {
  test("GET /todos as beth is allowed", () => expectAllowed("GET", "/todos", BETH));
  test("POST /todos as beth is forbidden", () => expectForbidden("POST", "/todos", BETH, "todoApp.POST.todos"));
  test("POST /todos as rick is allowed", () => expectAllowed("POST", "/todos", RICK));
  test("DELETE /todos/:id as the owner is allowed", () => expectAllowed("DELETE", "/todos/todo-express", MORTY));
  test("DELETE /todos/:id as beth is forbidden", () =>
    expectForbidden("DELETE", "/todos/todo-express", BETH, "todoApp.DELETE.todos.__id"));
  test("PUT /todos/:id as rick (not owner nor writer) is forbidden", () =>
    expectForbidden("PUT", "/todos/todo-express", RICK, "todoApp.PUT.todos.__id"));
  test("GET /todos without a user is forbidden (anonymous resolves to no user)", () =>
    expectForbidden("GET", "/todos", undefined, "todoApp.GET.todos"));
});

describe("displayStateMap", () => {
  test("default endpoint: visible/enabled per route, slash-separated", async () => {
    const res = await call("GET", "/__displaystatemap", BETH);
    assert.equal(res.status, 200, res.text);
    const map = JSON.parse(res.text);
    for (const route of ["todoApp/GET/todos", "todoApp/POST/todos", "todoApp/PUT/todos/__id", "todoApp/DELETE/todos/__id"]) {
      assert.deepEqual(map[route], { visible: true, enabled: true }, `${route} in ${res.text}`);
    }
  });

  test("with allowed: beth may GET but not POST todos", async () => {
    const res = await call("GET", "/__displaystatemap/full", BETH);
    assert.equal(res.status, 200, res.text);
    const map = JSON.parse(res.text);
    assert.deepEqual(map["todoApp/GET/todos"], { allowed: true, visible: true, enabled: true });
    assert.deepEqual(map["todoApp/POST/todos"], { allowed: false, visible: true, enabled: true });
  });

  test("with allowed: rick may POST todos", async () => {
    const res = await call("GET", "/__displaystatemap/full", RICK);
    assert.equal(res.status, 200, res.text);
    const map = JSON.parse(res.text);
    assert.deepEqual(map["todoApp/POST/todos"], { allowed: true, visible: true, enabled: true });
  });
});

describe("Middleware (Authz and Check) with SubIdentityMapper", () => {
  test("GET /mw/todos as beth is allowed", () => expectAllowed("GET", "/mw/todos", BETH));
  test("POST /mw/todos as beth is forbidden", () => expectForbidden("POST", "/mw/todos", BETH, "todoApp.POST.todos"));
  test("POST /mw/todos as rick is allowed", () => expectAllowed("POST", "/mw/todos", RICK));
  test("DELETE /mw/todos/:id as the owner is allowed", () => expectAllowed("DELETE", "/mw/todos/todo-express", MORTY));
  test("DELETE /mw/todos/:id as rick is forbidden", () =>
    expectForbidden("DELETE", "/mw/todos/todo-express", RICK, "todoApp.DELETE.todos.__id"));
  test("Check group:admin#member: rick yes, beth no", async () => {
    await expectAllowed("GET", "/mw/admin", RICK);
    await expectForbidden("GET", "/mw/admin", BETH, "rebac.check");
  });
  test("Check with a mapped object id: beth is a viewer, not an editor", async () => {
    await expectAllowed("GET", "/mw/groups/viewer", BETH);
    await expectForbidden("GET", "/mw/groups/editor", BETH, "rebac.check");
  });
});
