// check() in gateway mode against a real lictor whose demo manifest gains an `endpoint` type:
// the caller must hold can_invoke on endpoint:<service>:<METHOD>:<route>.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import express from "express";
import { expressjwt } from "express-jwt";

import { Lictor, check } from "@lictor/node";

import { JWT_SECRET, listen, signJwt } from "./helpers/http.mjs";
import { startLictor } from "./helpers/lictor.mjs";

const RICK = "rick@the-citadel.com";
const BETH = "beth@the-smiths.com";

const ENDPOINT_TYPE = `
  endpoint:
    relations:
      invoker: user | group#member
    permissions:
      can_invoke: invoker
`;

let server;
let http;
let base;
before(async () => {
  server = await startLictor();
  const client = new Lictor({ url: server.url });
  const manifest = await client.getManifest();
  await client.setManifest(manifest.yaml.trimEnd() + "\n" + ENDPOINT_TYPE);

  // Beth may list todos and delete through the API router; editors (rick, via admin) may post.
  for (const [id, subject] of [
    ["todo:GET:/todos", `user:${BETH}`],
    ["todo:DELETE:/api/todos/:id", `user:${BETH}`],
    ["todo:POST:/todos", "group:editor#member"],
  ]) {
    await client.setObject({ type: "endpoint", id });
    await client.setRelation({ object: { type: "endpoint", id }, relation: "invoker", subject });
  }

  const gateway = check({ client, gateway: { service: "todo" } });
  const ok = (req, res) => res.json({ ok: true });
  const app = express();
  app.use(expressjwt({ secret: JWT_SECRET, algorithms: ["HS256"], credentialsRequired: false }));
  app.get("/todos", gateway, ok);
  app.post("/todos", gateway, ok);
  app.get("/todos/:id", gateway, ok);
  const api = express.Router();
  api.delete("/todos/:id", gateway, ok);
  app.use("/api", api);
  http = createServer(app);
  base = await listen(http);
});
after(async () => {
  http?.close();
  await server?.stop();
});

async function status(method, path, user) {
  const res = await fetch(base + path, { method, headers: user ? { authorization: `Bearer ${signJwt(user)}` } : {} });
  const body = await res.json();
  return { status: res.status, body };
}

test("an invoker of the endpoint is let through, anyone else is 403", async () => {
  assert.equal((await status("GET", "/todos", BETH)).status, 200);
  const denied = await status("GET", "/todos", RICK);
  assert.equal(denied.status, 403);
  assert.equal(denied.body.message, "denied by policy rebac.check: no can_invoke on endpoint:todo:GET:/todos");
});

test("the method is part of the endpoint, and subject sets count", async () => {
  assert.equal((await status("POST", "/todos", RICK)).status, 200);
  assert.equal((await status("POST", "/todos", BETH)).status, 403);
});

test("the endpoint id is the route pattern with its mount path, not the URL", async () => {
  assert.equal((await status("DELETE", "/api/todos/42", BETH)).status, 200);
  assert.equal((await status("DELETE", "/api/todos/43", RICK)).status, 403);
  // No endpoint object for GET /todos/:id: nobody may invoke it.
  const res = await status("GET", "/todos/42", BETH);
  assert.equal(res.status, 403);
  assert.match(res.body.message, /endpoint:todo:GET:\/todos\/:id$/);
});

test("no token is 401", async () => {
  assert.equal((await status("GET", "/todos")).status, 401);
});
