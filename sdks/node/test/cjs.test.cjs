// The CommonJS build: `require("@lictor/node")` gives the same API as the ES module build.
const assert = require("node:assert/strict");
const { test } = require("node:test");

const sdk = require("@lictor/node");

test("require() exports the client, the error and the middleware", () => {
  for (const name of ["Lictor", "LictorError", "authorize", "check", "displayStateMap", "identityFromRequest", "policyPathFor"]) {
    assert.equal(typeof sdk[name], "function", name);
  }
  assert.equal(sdk.policyPathFor("todoApp", "get", "/todos/:id"), "todoApp.GET.todos.__id");
});

test("a CommonJS client fails with its own LictorError", async () => {
  // Port 9 (discard) on loopback has no listener here: the call is refused.
  const lictor = new sdk.Lictor({ url: "http://127.0.0.1:9", timeoutMs: 2000 });
  await assert.rejects(lictor.is({ policyPath: "todoApp.GET.todos" }), (error) => {
    assert.ok(error instanceof sdk.LictorError);
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.unavailable, true);
    return true;
  });
});
