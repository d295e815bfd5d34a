// The todo API of Topaz's todo sample, in Express. Todos live in memory; each is also the directory
// object resource:<id>, owned by its creator, so that the todoApp policies can tell who may change it.
import { randomUUID } from "node:crypto";

import express from "express";
import { expressjwt } from "express-jwt";
import { authorize, displayStateMap, LictorError } from "@lictor/node";

/** The app, asking `client` (a Lictor) and verifying HS256 tokens signed with `secret`. */
export function createApp({ client, secret }) {
  /** @type {Map<string, {id: string, title: string, completed: boolean, ownerId: string}>} */
  const todos = new Map();

  const app = express();
  app.use(express.json());
  // A missing token leaves req.auth unset, and the Lictor middleware answers 401; a bad one is 401 here.
  app.use(expressjwt({ secret, algorithms: ["HS256"], credentialsRequired: false }));
  app.use(displayStateMap({ client, policyRoot: "todoApp" }));

  // GET /todos → todoApp.GET.todos, PUT /todos/:id → todoApp.PUT.todos.__id, …; the policies of
  // PUT and DELETE check the caller's can_write / can_delete on resource:<id>.
  const allowed = authorize({ client, policyRoot: "todoApp", resource: (req) => ({ object_id: req.params.id }) });

  app.get("/todos", allowed, (_req, res) => {
    res.json([...todos.values()]);
  });

  app.post("/todos", allowed, async (req, res) => {
    const title = req.body?.title;
    if (typeof title !== "string" || title.trim() === "") {
      res.status(400).json({ error: "bad_request", message: "title: a non-empty string is required" });
      return;
    }
    const todo = { id: randomUUID(), title, completed: req.body.completed === true, ownerId: req.auth.sub };
    await client.setObject({ type: "resource", id: todo.id, displayName: title });
    await client.setRelation({ object: { type: "resource", id: todo.id }, relation: "owner", subject: { type: "user", id: todo.ownerId } });
    todos.set(todo.id, todo);
    res.status(201).json(todo);
  });

  app.put("/todos/:id", allowed, (req, res) => {
    const todo = todos.get(req.params.id);
    if (!todo) {
      res.status(404).json({ error: "not_found", message: `no todo ${req.params.id}` });
      return;
    }
    if (typeof req.body?.title === "string" && req.body.title.trim() !== "") todo.title = req.body.title;
    if (typeof req.body?.completed === "boolean") todo.completed = req.body.completed;
    res.json(todo);
  });

  app.delete("/todos/:id", allowed, async (req, res) => {
    if (!todos.delete(req.params.id)) {
      res.status(404).json({ error: "not_found", message: `no todo ${req.params.id}` });
      return;
    }
    await client.deleteObject({ type: "resource", id: req.params.id }, { withRelations: true });
    res.json({ deleted: req.params.id });
  });

  app.use((err, _req, res, _next) => {
    if (err.name === "UnauthorizedError") {
      res.status(401).json({ error: "unauthenticated", message: err.message });
    } else if (err instanceof LictorError && err.unavailable) {
      res.status(503).json({ error: "authorizer_unavailable", message: err.message, requestId: err.requestId });
    } else {
      console.error(err);
      res.status(500).json({ error: "internal", message: err.message });
    }
  });
  return app;
}
