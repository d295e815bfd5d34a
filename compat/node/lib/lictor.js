// Starts a real `lictor run --demo` process on ephemeral ports and reports where it listens.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export function lictorBin() {
  return process.env.LICTOR_BIN
    ? path.resolve(process.env.LICTOR_BIN)
    : path.resolve(here, "../../../target/debug/lictor");
}

const STARTUP_TIMEOUT_MS = 60_000;

/**
 * Spawns lictor with the demo data and resolves once it printed `ready`.
 * Returns { addr: {authorizerGrpc, ...}, ca, stop() }; addresses are "ip:port".
 */
export async function startLictor() {
  const dir = mkdtempSync(path.join(tmpdir(), "lictor-compat-node-"));
  const config = path.join(dir, "lictor.yaml");
  writeFileSync(
    config,
    [
      `data_dir: ${JSON.stringify(path.join(dir, "data"))}`,
      "listen:",
      "  authorizer_grpc: 0",
      "  authorizer_rest: 0",
      "  directory_grpc: 0",
      "  directory_rest: 0",
      "  health: 0",
      "  metrics: 0",
      "console:",
      "  port: 0",
      "",
    ].join("\n"),
  );

  const child = spawn(lictorBin(), ["run", "--demo", "--config", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk.toString();
    if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));

  const addr = {};
  let ca;
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`lictor did not print "ready" within ${STARTUP_TIMEOUT_MS} ms\n${stderr}`)),
      STARTUP_TIMEOUT_MS,
    );
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${lictorBin()}: ${err.message} (build it with: cargo build -p lictor)`));
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`lictor exited before ready (code ${code}, signal ${signal})\n${stderr}`));
    });
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const words = line.trim().split(/\s+/);
      if (words[0] === "listening" && words.length === 3) {
        const key = words[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
        addr[key] = words[2];
      } else if (words[0] === "tls" && words[1] === "ca") {
        ca = words.slice(2).join(" ");
      } else if (words[0] === "ready") {
        clearTimeout(timer);
        resolve();
      }
    });
  });

  try {
    await ready;
  } catch (err) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  for (const key of ["authorizerGrpc", "authorizerRest", "directoryGrpc", "directoryRest"]) {
    if (!addr[key]) throw new Error(`lictor did not report a ${key} address`);
  }
  if (!ca) throw new Error("lictor did not report its TLS CA");

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { addr, ca, stop, stderr: () => stderr };
}
