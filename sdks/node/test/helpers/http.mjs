// Small HTTP helpers for the tests: listening on a free loopback port, an address nothing listens on,
// and HS256 JWTs.
import { createHmac } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";

/** Starts `server` (an http.Server, e.g. `createServer(expressApp)`) on 127.0.0.1; returns its base URL. */
export async function listen(server) {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${server.address().port}`;
}

/** A loopback URL on which nothing listens (a port just bound and released). */
export async function closedUrl() {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** The secret the test apps verify tokens with. */
export const JWT_SECRET = "sdk-node-test-secret-0123456789abcdef";

/** An HS256 JWT for `sub`, signed with `secret`, valid for an hour. */
export function signJwt(sub, secret = JWT_SECRET) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub, iat: now, exp: now + 3600 })}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
