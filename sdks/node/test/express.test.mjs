// The Express middleware in a real Express app (tokens verified by express-jwt) against a real
// `lictor run --demo`: authorize, check with every value source, displayStateMap, failure policy.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import express from "express";
import { expressjwt } from "express-jwt";

import { Lictor, authorize, check, displayStateMap } from "@lictor/node";

import { closedUrl, JWT_SECRET, listen, signJwt } from "./helpers/http.mjs";
import { startLictor } from "./helpers/lictor.mjs";

const RICK = "rick@the-citadel.com";
const MORTY = "morty@the-citadel.com";
const BETH = "beth@the-smiths.com";

const ok = (req, res) => res.status(200).json({ ok: true, route: `${req.method} ${req.baseUrl}${req.route.path}` });

/** Answers express-jwt's refusals with 401 and anything else with 500, as JSON. */
function errorHandler(err, _req, res, _next) {
  if (err.name === "UnauthorizedError") res.status(401).json({ error: "unauthenticated", message: err.message });
  else res.status(500).json({ error: "internal", message: err.message });
}

function buildApp(client, failurePolicy) {
  const app = express();
  app.use(express.json());

  // Without express-jwt: the bearer token itself goes to Lictor as a JWT identity.
  const raw = express.Router();
  raw.get("/todos", authorize({ client, policyRoot: "todoApp", policyPath: () => "todoApp.GET.todos" }), ok);
  app.use("/raw", raw);

  app.use(expressjwt({ secret: JWT_SECRET, algorithms: ["HS256"], credentialsRequired: false }));
  app.use(displayStateMap({ client, policyRoot: "todoApp", failurePolicy: failurePolicy === "open" ? undefined : failurePolicy }));
  app.use(displayStateMap({ client, policyRoot: "todoApp", endpointPath: "/__displaystatemap/dot", pathSeparator: "dot" }));

  const todos = authorize({ client, policyRoot: "todoApp", resource: (req) => ({ object_id: req.params.id }), failurePolicy });
  app.get("/todos", todos, ok);
  app.post("/todos", todos, ok);
  app.put("/todos/:id", todos, ok);
  app.delete("/todos/:id", todos, ok);
  // A route parameter named object_id reaches the policy's resource context without a mapper.
  app.delete("/items/:object_id", authorize({ client, policyRoot: "todoApp", policyPath: () => "todoApp.DELETE.todos.__id" }), ok);
  // Not on a route: the policy path cannot be derived.
  app.use("/unrouted", authorize({ client, policyRoot: "todoApp" }));

  app.get("/groups/:group", check({ client, objectType: "group", objectId: "$param(group)", relation: "member", failurePolicy }), ok);
  app.get("/by-header", check({ client, objectType: "$header(x-object-type)", objectId: "$header(X-Object-Id)", permission: "member" }), ok);
  app.post("/by-body", check({ client, objectType: "resource", objectId: "$body(todo.resource.id)", permission: "$body(action)" }), ok);
  app.get("/by-function/:name", check({ client, objectType: "group", objectId: (req) => req.params.name.toLowerCase(), relation: "member" }), ok);
  app.get("/by-missing-param", check({ client, objectType: "group", objectId: "$param(group)", relation: "member" }), ok);
  app.get("/by-empty-function", check({ client, objectType: "group", objectId: () => undefined, relation: "member" }), ok);

  app.use(errorHandler);
  return app;
}

/** Calls the app; `user` signs a token, `token` gives one as is. */
async function call(base, method, path, { user, token, body, headers = {} } = {}) {
  const auth = token ?? (user ? signJwt(user) : undefined);
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(auth ? { authorization: `Bearer ${auth}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

async function expectStatus(base, status, method, path, options = {}) {
  const res = await call(base, method, path, options);
  assert.equal(res.status, status, `${method} ${path} as ${options.user ?? "nobody"}: ${res.status} ${res.text}`);
  return res.json;
}

let server;
let client;
let http;
let base;
before(async () => {
  server = await startLictor();
  client = new Lictor({ url: server.url });
  http = createServer(buildApp(client));
  base = await listen(http);
  // Morty owns todo-express, as the todo app records a new todo's creator.
  await client.setObject({ type: "resource", id: "todo-express" });
  await client.setRelation({ object: "resource:todo-express", relation: "owner", subject: `user:${MORTY}` });
});
after(async () => {
  http?.close();
  await server?.stop();
});

describe("authorize", () => {
  test("GET /todos: any known user is allowed", async () => {
    assert.deepEqual(await expectStatus(base, 200, "GET", "/todos", { user: BETH }), { ok: true, route: "GET /todos" });
  });

  test("POST /todos: rick may create todos, beth may not", async () => {
    await expectStatus(base, 200, "POST", "/todos", { user: RICK, body: {} });
    const denied = await expectStatus(base, 403, "POST", "/todos", { user: BETH, body: {} });
    assert.deepEqual(denied, { error: "forbidden", message: "denied by policy todoApp.POST.todos" });
  });

  test("PUT and DELETE /todos/:id follow the todo's owner", async () => {
    await expectStatus(base, 200, "DELETE", "/todos/todo-express", { user: MORTY });
    await expectStatus(base, 200, "PUT", "/todos/todo-express", { user: MORTY, body: {} });
    const denied = await expectStatus(base, 403, "DELETE", "/todos/todo-express", { user: BETH });
    assert.equal(denied.message, "denied by policy todoApp.DELETE.todos.__id");
    await expectStatus(base, 403, "PUT", "/todos/todo-express", { user: RICK, body: {} });
  });

  test("route parameters are the resource context", async () => {
    await expectStatus(base, 200, "DELETE", "/items/todo-express", { user: MORTY });
    await expectStatus(base, 403, "DELETE", "/items/todo-express", { user: RICK });
  });

  test("a missing token is 401 from the middleware, a bad one 401 from express-jwt", async () => {
    const missing = await expectStatus(base, 401, "GET", "/todos");
    assert.equal(missing.error, "unauthenticated");
    assert.match(missing.message, /no identity/);
    const forged = await expectStatus(base, 401, "GET", "/todos", { token: signJwt(RICK, "another-secret-0123456789abcdef") });
    assert.match(forged.message, /invalid signature/);
    await expectStatus(base, 401, "GET", "/todos", { token: "garbage" });
  });

  test("a verified token of a user Lictor does not know is 401", async () => {
    const res = await expectStatus(base, 401, "GET", "/todos", {
      user: "stranger@example.com",
      headers: { "x-request-id": "incoming-401" },
    });
    assert.match(res.message, /no user has the identity "stranger@example\.com"/);
    // The incoming request id goes on to Lictor, which answers with it.
    assert.equal(res.requestId, "incoming-401");
  });

  test("without express-jwt, a bearer token Lictor cannot verify is 401", async () => {
    const res = await expectStatus(base, 401, "GET", "/raw/todos", { token: signJwt(RICK) });
    assert.match(res.message, /invalid JWT/);
  });

  test("mounted outside a route it fails loudly, naming the fix", async () => {
    const res = await expectStatus(base, 500, "GET", "/unrouted", { user: RICK });
    assert.match(res.message, /authorize\(\): GET \/ matched no route/);
  });
});

describe("check", () => {
  test("$param: group membership by route parameter", async () => {
    await expectStatus(base, 200, "GET", "/groups/admin", { user: RICK });
    await expectStatus(base, 200, "GET", "/groups/viewer", { user: BETH });
    const denied = await expectStatus(base, 403, "GET", "/groups/admin", { user: BETH });
    assert.equal(denied.message, "denied by policy rebac.check: no member on group:admin");
  });

  test("$header: object type and id from headers, any case", async () => {
    const headers = { "x-object-type": "group", "x-object-id": "editor" };
    await expectStatus(base, 200, "GET", "/by-header", { user: MORTY, headers });
    await expectStatus(base, 403, "GET", "/by-header", { user: BETH, headers });
    const missing = await expectStatus(base, 400, "GET", "/by-header", { user: MORTY, headers: { "x-object-id": "editor" } });
    assert.deepEqual(missing, {
      error: "bad_request",
      message: 'objectType: $header(x-object-type): the request has no "x-object-type" header',
    });
  });

  test("$body: nested keys of the JSON body", async () => {
    const body = { todo: { resource: { id: "todo-express" } }, action: "can_delete" };
    await expectStatus(base, 200, "POST", "/by-body", { user: MORTY, body });
    await expectStatus(base, 403, "POST", "/by-body", { user: BETH, body });
    await expectStatus(base, 200, "POST", "/by-body", { user: MORTY, body: { ...body, action: "can_read" } });
  });

  test("$body: a missing key is 400 naming the option and the key", async () => {
    const noResource = await expectStatus(base, 400, "POST", "/by-body", { user: MORTY, body: { todo: {}, action: "can_read" } });
    assert.equal(noResource.message, 'objectId: $body(todo.resource.id): "todo" has no key "resource"');
    const noTodo = await expectStatus(base, 400, "POST", "/by-body", { user: MORTY, body: { action: "can_read" } });
    assert.equal(noTodo.message, 'objectId: $body(todo.resource.id): the request body has no key "todo"');
    const notString = await expectStatus(base, 400, "POST", "/by-body", {
      user: MORTY,
      body: { todo: { resource: { id: { nested: true } } }, action: "can_read" },
    });
    assert.equal(notString.message, 'objectId: $body(todo.resource.id): the value is {"nested":true}, not a non-empty string');
    const noAction = await expectStatus(base, 400, "POST", "/by-body", { user: MORTY, body: { todo: { resource: { id: "x" } } } });
    assert.equal(noAction.message, 'permission: $body(action): the request body has no key "action"');
  });

  test("a function of the request", async () => {
    await expectStatus(base, 200, "GET", "/by-function/ADMIN", { user: RICK });
    await expectStatus(base, 403, "GET", "/by-function/ADMIN", { user: MORTY });
    const empty = await expectStatus(base, 400, "GET", "/by-empty-function", { user: RICK });
    assert.equal(empty.message, "objectId: the function: the value is undefined, not a non-empty string");
  });

  test("$param of a parameter the route lacks is 400", async () => {
    const res = await expectStatus(base, 400, "GET", "/by-missing-param", { user: RICK });
    assert.equal(res.message, 'objectId: $param(group): the route has no "group" parameter');
  });

  test("no token is 401 before anything is resolved", async () => {
    await expectStatus(base, 401, "GET", "/by-header");
  });

  test("malformed options are refused when the middleware is made", () => {
    assert.throws(() => check({ client, objectType: "$heder(x)", objectId: "a", relation: "member" }), {
      name: "TypeError",
      message: 'check(): options.objectType "$heder(x)" is not "$header(NAME)", "$param(NAME)" or "$body(a.b.c)"',
    });
    assert.throws(() => check({ client, objectType: "group", objectId: "$body(a..b)", relation: "member" }), {
      message: 'check(): options.objectId "$body(a..b)" has an empty key',
    });
    assert.throws(() => check({ client, objectType: "group", objectId: "a" }), {
      message: "check(): options.relation (or options.permission) is required, unless options.gateway is given",
    });
    assert.throws(() => check({ client, objectType: "group", objectId: "a", relation: "r", permission: "p" }), {
      message: "check(): give options.relation or options.permission, not both",
    });
    assert.throws(() => check({ client, gateway: { service: "todo" }, objectType: "group" }), {
      message: "check(): options.objectType cannot be combined with options.gateway",
    });
    assert.throws(() => check({ objectType: "group", objectId: "a", relation: "r" }), {
      message: "check(): options.client must be a Lictor client (new Lictor({ url }))",
    });
    assert.throws(() => authorize({ client }), {
      message: "authorize(): options.policyRoot must be a non-empty string, got undefined",
    });
  });
});

describe("displayStateMap", () => {
  /** The server's own DecisionTree answer, asked without the SDK. */
  async function serverTree(user, separator) {
    const res = await fetch(`${server.url}/api/v2/authz/decisiontree`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        identity_context: { type: "IDENTITY_TYPE_SUB", identity: user },
        policy_context: { path: "todoApp", decisions: ["visible", "enabled", "allowed"] },
        options: { path_separator: separator },
      }),
    });
    assert.equal(res.status, 200);
    return (await res.json()).path;
  }

  for (const user of [BETH, RICK]) {
    test(`equals the server's DecisionTree for ${user}`, async () => {
      const map = await expectStatus(base, 200, "GET", "/__displaystatemap", { user });
      assert.deepEqual(map, await serverTree(user, "PATH_SEPARATOR_SLASH"));
      assert.equal(Object.keys(map).length, 4);
      const dotted = await expectStatus(base, 200, "GET", "/__displaystatemap/dot", { user });
      assert.deepEqual(dotted, await serverTree(user, "PATH_SEPARATOR_DOT"));
    });
  }

  test("beth sees every route but may only list todos", async () => {
    const map = await expectStatus(base, 200, "GET", "/__displaystatemap", { user: BETH });
    assert.deepEqual(map["todoApp/GET/todos"], { visible: true, enabled: true, allowed: true });
    assert.deepEqual(map["todoApp/POST/todos"], { visible: true, enabled: true, allowed: false });
  });

  test("no token is 401; other methods pass through", async () => {
    await expectStatus(base, 401, "GET", "/__displaystatemap");
    await expectStatus(base, 404, "POST", "/__displaystatemap", { user: BETH, body: {} });
  });
});

describe("when Lictor is down", () => {
  let own;
  const servers = [];
  const apps = {};
  /** Starts an app and returns its base URL; `after` closes it. */
  async function start(app) {
    const server = createServer(app);
    servers.push(server);
    return listen(server);
  }
  before(async () => {
    own = await startLictor();
    const downClient = new Lictor({ url: own.url, timeoutMs: 2000 });
    apps.closed = await start(buildApp(downClient));
    apps.open = await start(buildApp(downClient, "open"));
    apps.custom = await start(buildApp(downClient, (error, _req, res) => res.status(500).json({ custom: error.code })));
    // Running: the answers are real decisions.
    await expectStatus(apps.closed, 200, "GET", "/todos", { user: BETH });
    await expectStatus(apps.closed, 403, "POST", "/todos", { user: BETH, body: {} });
    await own.stop();
  });
  after(async () => {
    for (const server of servers) server.close();
    await own?.stop();
  });

  test("the default fails closed with 503 on every middleware", async () => {
    const res = await expectStatus(apps.closed, 503, "GET", "/todos", { user: BETH });
    assert.equal(res.error, "authorizer_unavailable");
    assert.ok(res.requestId, "the 503 names the request id");
    const traced = await expectStatus(apps.closed, 503, "GET", "/todos", { user: BETH, headers: { "x-request-id": "incoming-503" } });
    assert.equal(traced.requestId, "incoming-503");
    await expectStatus(apps.closed, 503, "POST", "/todos", { user: RICK, body: {} });
    await expectStatus(apps.closed, 503, "GET", "/groups/admin", { user: RICK });
    await expectStatus(apps.closed, 503, "GET", "/__displaystatemap", { user: BETH });
  });

  test('"open" lets requests through only when asked to', async () => {
    await expectStatus(apps.open, 200, "POST", "/todos", { user: BETH, body: {} });
    await expectStatus(apps.open, 200, "GET", "/groups/admin", { user: BETH });
  });

  test("a handler decides itself", async () => {
    assert.deepEqual(await expectStatus(apps.custom, 500, "GET", "/todos", { user: BETH }), { custom: "UNAVAILABLE" });
  });

  test("a port nothing listens on is down too", async () => {
    const app = await start(buildApp(new Lictor({ url: await closedUrl() })));
    await expectStatus(app, 503, "GET", "/todos", { user: BETH });
  });
});
