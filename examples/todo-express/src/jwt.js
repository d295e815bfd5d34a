// HS256 tokens for the demo: the app verifies them with express-jwt; `npm run token` signs them.
import { createHmac } from "node:crypto";

/** The signing secret: $JWT_SECRET, or a fixed development secret. */
export const secret = process.env.JWT_SECRET || "todo-express-development-secret";

/** A token whose `sub` is `user`, valid for `seconds`. */
export function sign(user, seconds = 8 * 3600) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${part({ sub: user, iat: now, exp: now + seconds })}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
