// Compiled by `npm run typecheck`, never run: the published ES module typings fit Express's own types.
import express from "express";

import {
  authorize,
  check,
  displayStateMap,
  identityFromRequest,
  Lictor,
  LictorError,
  type CheckResult,
  type Decisions,
  type Identity,
  type LictorErrorCode,
  type Written,
} from "@lictor/node";

const client = new Lictor({ url: "http://127.0.0.1:8383", apiKey: "key", tenantId: "acme", timeoutMs: 1000 });
const app = express();
app.use(express.json());
app.use(displayStateMap({ client, policyRoot: "todoApp", pathSeparator: "dot" }));
app.get("/todos/:id", authorize({ client, policyRoot: "todoApp", resource: (req) => ({ object_id: req.params?.id }) }), (_req, res) => {
  res.json({});
});
app.post(
  "/groups/:id",
  check({ client, objectType: "group", objectId: (req) => req.params?.id as string | undefined, relation: "$body(relation)" }),
  (_req, res) => res.json({}),
);
const router = express.Router();
router.get("/x", check({ client, gateway: { service: "svc" }, failurePolicy: "open" }));
app.use("/api", router);

async function usage(): Promise<void> {
  const identity: Identity = identityFromRequest({ method: "GET", path: "/", headers: {} }) ?? { type: "none" };
  const decisions: Decisions = await client.is({ identity, policyPath: "todoApp.GET.todos" });
  const allowed: boolean | undefined = decisions.allowed;
  const result: CheckResult = await client.check({ subject: "user:beth", permission: "can_read", object: "resource:1", explain: true });
  const kind: string | undefined = result.explanation?.tree?.kind;
  try {
    await client.getObject({ type: "user", id: "beth" });
  } catch (error) {
    if (error instanceof LictorError) {
      const code: LictorErrorCode = error.code;
      const id: string | undefined = error.requestId;
      void [code, id, error.status, error.unavailable];
    }
  }
  const written: Written = await client.setRelation({ object: "resource:1", relation: "owner", subject: "user:beth" });
  const etag: string = (await client.setObject({ type: "resource", id: "1" })).etag;
  const deleted: Written = await client.deleteObject("resource:1", { withRelations: true });
  const seen: CheckResult = await client.check(
    { subject: "user:beth", permission: "can_read", object: "resource:1" },
    { minRevision: Math.max(written.revision, deleted.revision), requestId: "r" },
  );
  void [allowed, kind, etag, seen];
}
void usage;
