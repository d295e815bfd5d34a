// The README's quickstart, pasted into a file and run against a real `lictor run --demo`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { startLictor } from "./helpers/lictor.mjs";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

let server;
before(async () => {
  server = await startLictor();
});
after(() => server?.stop());

test("the quickstart runs as pasted and prints the demo's answers", async () => {
  const readme = readFileSync(path.join(packageDir, "README.md"), "utf8");
  const quickstart = /## Quickstart[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(quickstart, "README.md has a ```js block under ## Quickstart");
  assert.ok(quickstart.trim().split("\n").length <= 10, "the quickstart is at most 10 lines");
  // Inside the package, so that "@lictor/node" resolves to this build as it would once installed.
  const file = path.join(packageDir, `.quickstart-${process.pid}.mjs`);
  writeFileSync(file, quickstart);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [file], {
      env: { ...process.env, LICTOR_URL: server.url },
      timeout: 20_000,
    });
    assert.match(stdout, /^beth may create todos: false\nrick is an editor: true\n/);
    assert.match(stdout, /✓ group:editor#member \(relation\)\n {2}✓ group:admin#member/);
  } finally {
    rmSync(file, { force: true });
  }
});
