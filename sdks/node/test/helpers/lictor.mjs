// Runs a real `lictor run --demo` process on ephemeral loopback ports for the tests.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

/** The server binary: $LICTOR_BIN, else the repository's debug build. */
export const lictorBin = process.env.LICTOR_BIN
  ? path.resolve(process.env.LICTOR_BIN)
  : path.join(repoRoot, "target/debug/lictor");

/**
 * Starts `lictor run --demo` with `extraConfig` (YAML lines appended to the configuration) and
 * resolves once it printed `ready`, with `url` (the authorizer-rest port) and `stop()`.
 */
export async function startLictor(extraConfig = "") {
  const dir = mkdtempSync(path.join(tmpdir(), "lictor-sdk-node-"));
  const config = path.join(dir, "lictor.yaml");
  writeFileSync(
    config,
    `data_dir: ${JSON.stringify(path.join(dir, "data"))}\n` +
      "listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0}\n" +
      "console: {port: 0}\n" +
      extraConfig,
  );
  const child = spawn(lictorBin, ["run", "--demo", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-16_000);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const addresses = {};
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`lictor printed no "ready" within 30 s\n${stderr}`)), 30_000);
      child.once("error", (error) => reject(new Error(`cannot start ${lictorBin}: ${error.message}`)));
      exited.then((code) => reject(new Error(`lictor exited (${code}) before "ready"\n${stderr}`)));
      createInterface({ input: child.stdout }).on("line", (line) => {
        const [word, name, address] = line.trim().split(/\s+/);
        if (word === "listening") addresses[name] = address;
        if (word === "ready") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  if (!addresses["authorizer-rest"]) throw new Error(`lictor reported no authorizer-rest address: ${JSON.stringify(addresses)}`);
  return {
    url: `http://${addresses["authorizer-rest"]}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
