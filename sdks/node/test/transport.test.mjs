// The client's HTTP behaviour against small local stand-ins: headers, keep-alive, timeouts, refused
// connections, and error bodies that are not Lictor's.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { Lictor, LictorError } from "@lictor/node";

import { closedUrl, listen } from "./helpers/http.mjs";

/** A server that records requests and answers each with `reply(req, body)` → {status, body, headers}. */
async function standIn(reply) {
  const seen = [];
  let connections = 0;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const answer = reply(req, body);
      if (answer === undefined) return; // never answer
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body);
    });
  });
  server.on("connection", () => connections++);
  const url = await listen(server);
  return {
    url,
    seen,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("requests", () => {
  let stand;
  before(async () => {
    stand = await standIn(() => ({ status: 200, body: JSON.stringify({ decisions: [{ decision: "allowed", is: true }] }) }));
  });
  after(() => stand.close());

  test("carry the API key, the tenant, a request id and a JSON body; a URL path prefix is kept", async () => {
    const lictor = new Lictor({ url: `${stand.url}/lictor/`, apiKey: "k-123", tenantId: "acme" });
    assert.deepEqual(
      await lictor.is({ identity: "beth", policyPath: "todoApp.GET.todos", resource: { id: "1" } }, { requestId: "r-1" }),
      { allowed: true },
    );
    const request = stand.seen.at(-1);
    assert.equal(request.method, "POST");
    assert.equal(request.url, "/lictor/api/v2/authz/is");
    assert.equal(request.headers.authorization, "basic k-123");
    assert.equal(request.headers["aserto-tenant-id"], "acme");
    assert.equal(request.headers["x-request-id"], "r-1");
    assert.equal(request.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(request.body), {
      identity_context: { type: "IDENTITY_TYPE_SUB", identity: "beth" },
      policy_context: { path: "todoApp.GET.todos", decisions: ["allowed"] },
      resource_context: { id: "1" },
    });
  });

  test("reuse one kept-alive connection", async () => {
    const lictor = new Lictor({ url: stand.url });
    const before = stand.connections();
    for (let i = 0; i < 5; i++) await lictor.is({ policyPath: "todoApp.GET.todos" });
    assert.ok(stand.connections() - before <= 1, `${stand.connections() - before} connections for 5 calls`);
  });

  test("put query parameters on reads and leave out the absent ones", async () => {
    const lictor = new Lictor({ url: stand.url });
    await lictor.getRelations({ objectType: "resource", subjectId: "a b", pageSize: 2 }).catch(() => {});
    assert.equal(stand.seen.at(-1).url, "/api/v3/directory/relations?object_type=resource&subject_id=a+b&page.size=2");
  });
});

describe("consistency tokens", () => {
  let stand;
  before(async () => {
    // Writes answer x-lictor-revision 41 for objects and relations; the manifest's body names no revision.
    stand = await standIn((req) => {
      const path = req.url.split("?")[0];
      const revision = { "x-lictor-revision": "41" };
      if (path === "/api/v3/directory/manifest") return { status: 200, body: "{}", headers: { "x-lictor-revision": "43" } };
      if (path === "/api/v3/directory/object" && req.method === "POST") {
        return { status: 200, body: JSON.stringify({ result: { type: "t", id: "x" } }), headers: revision };
      }
      if (path === "/api/v3/directory/relation" && req.method === "POST") {
        const result = { object_type: "t", object_id: "x", relation: "r", subject_type: "u", subject_id: "y" };
        return { status: 200, body: JSON.stringify({ result }), headers: revision };
      }
      if (req.method === "DELETE" && path === "/api/v3/directory/relation") return { status: 200, body: "{}", headers: revision };
      if (req.method === "DELETE") return { status: 200, body: "{}" }; // a server that sends no revision
      return { status: 200, body: JSON.stringify({ check: true }) };
    });
  });
  after(() => stand.close());

  test("minRevision is sent as x-lictor-min-revision, and only when given", async () => {
    const lictor = new Lictor({ url: stand.url });
    const check = { subject: "user:a", permission: "p", object: "t:o" };
    await lictor.check(check, { minRevision: 42 });
    assert.equal(stand.seen.at(-1).headers["x-lictor-min-revision"], "42");
    await lictor.check(check, { minRevision: 0 });
    assert.equal(stand.seen.at(-1).headers["x-lictor-min-revision"], "0");
    await lictor.check(check, { minRevision: Number.MAX_SAFE_INTEGER });
    assert.equal(stand.seen.at(-1).headers["x-lictor-min-revision"], "9007199254740991");
    await lictor.check(check);
    assert.equal(stand.seen.at(-1).headers["x-lictor-min-revision"], undefined);
    await lictor.check(check, { requestId: "r-2", minRevision: undefined });
    assert.equal(stand.seen.at(-1).headers["x-lictor-min-revision"], undefined);
  });

  test("a malformed minRevision is a TypeError thrown before anything is sent", async () => {
    const lictor = new Lictor({ url: stand.url });
    const sent = stand.seen.length;
    for (const bad of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "3", null, {}]) {
      await assert.rejects(lictor.check({ subject: "user:a", permission: "p", object: "t:o" }, { minRevision: bad }), {
        name: "TypeError",
        message: /^POST \/api\/v3\/directory\/check: options\.minRevision must be a non-negative integer \(the revision of a write\), got /,
      });
      await assert.rejects(lictor.setObject({ type: "t", id: "x" }, { minRevision: bad }), { name: "TypeError" });
    }
    await assert.rejects(lictor.is({ policyPath: "p" }, { minRevision: -1 }), {
      message: "POST /api/v2/authz/is: options.minRevision must be a non-negative integer (the revision of a write), got -1",
    });
    assert.equal(stand.seen.length, sent, "a request went out");
  });

  test("writes answer the revision of x-lictor-revision, 0 when the server sends none", async () => {
    const lictor = new Lictor({ url: stand.url });
    const object = await lictor.setObject({ type: "t", id: "x" });
    assert.equal(object.revision, 41);
    assert.equal(object.id, "x");
    const relation = await lictor.setRelation({ object: "t:x", relation: "r", subject: "u:y" });
    assert.equal(relation.revision, 41);
    assert.deepEqual(relation.subject, { type: "u", id: "y" });
    assert.deepEqual(await lictor.deleteRelation({ object: "t:x", relation: "r", subject: "u:y" }), { revision: 41 });
    assert.deepEqual(await lictor.deleteObject("t:x"), { revision: 0 });
    // The manifest's answer names its revision in the body; the header stands in when the body does not.
    assert.deepEqual(await lictor.setManifest("model: {version: 3}\n"), { revision: 43 });
  });
});

describe("failures", () => {
  test("a refused connection is UNAVAILABLE with status 0 and the request id sent", async () => {
    const url = await closedUrl();
    const lictor = new Lictor({ url });
    await assert.rejects(lictor.check({ subject: "user:a", permission: "p", object: "t:o" }, { requestId: "r-down" }), (error) => {
      assert.ok(error instanceof LictorError);
      assert.equal(error.code, "UNAVAILABLE");
      assert.equal(error.status, 0);
      assert.equal(error.requestId, "r-down");
      assert.equal(error.unavailable, true);
      assert.equal(error.message, `POST /api/v3/directory/check: cannot reach ${url}: ECONNREFUSED`);
      return true;
    });
  });

  test("no answer within timeoutMs is DEADLINE_EXCEEDED", async () => {
    const silent = await standIn(() => undefined);
    try {
      const lictor = new Lictor({ url: silent.url, timeoutMs: 200 });
      const started = Date.now();
      await assert.rejects(lictor.is({ policyPath: "p" }), (error) => {
        assert.equal(error.code, "DEADLINE_EXCEEDED");
        assert.equal(error.unavailable, true);
        assert.match(error.message, /within 200 ms/);
        return true;
      });
      assert.ok(Date.now() - started < 2000);
    } finally {
      await silent.close();
    }
  });

  test("an error page that is not Lictor's maps its HTTP status", async () => {
    const proxy = await standIn(() => ({ status: 502, body: "<html>bad gateway</html>", headers: { "content-type": "text/html" } }));
    try {
      await assert.rejects(new Lictor({ url: proxy.url }).is({ policyPath: "p" }), (error) => {
        assert.equal(error.code, "UNAVAILABLE");
        assert.equal(error.status, 502);
        assert.match(error.message, /HTTP 502: <html>bad gateway/);
        return true;
      });
    } finally {
      await proxy.close();
    }
  });

  test("a Lictor error body keeps its code, message, details and request id", async () => {
    const failing = await standIn(() => ({
      status: 409,
      body: JSON.stringify({ code: 10, message: "conflict on x", details: [{ reason: "r" }] }),
      headers: { "x-request-id": "srv-1" },
    }));
    try {
      await assert.rejects(new Lictor({ url: failing.url }).setObject({ type: "t", id: "x" }), (error) => {
        assert.equal(error.code, "ABORTED");
        assert.equal(error.status, 409);
        assert.equal(error.requestId, "srv-1");
        assert.deepEqual(error.details, [{ reason: "r" }]);
        assert.equal(error.message, "POST /api/v3/directory/object: conflict on x");
        return true;
      });
    } finally {
      await failing.close();
    }
  });
});

describe("construction", () => {
  test("bad options are TypeErrors naming the option", () => {
    assert.throws(() => new Lictor({}), { name: "TypeError", message: /options\.url must be a non-empty string/ });
    assert.throws(() => new Lictor({ url: "localhost:8383" }), { message: /must be http:\/\/ or https:\/\// });
    assert.throws(() => new Lictor({ url: "not a url" }), { message: /options\.url "not a url" is not a URL/ });
    assert.throws(() => new Lictor({ url: "http://x", timeoutMs: 0 }), { message: /options\.timeoutMs must be a positive number/ });
  });
});
