// Prints a bearer token for a demo user: `npm run token -- rick@the-citadel.com`.
import { sign } from "./jwt.js";

const user = process.argv[2];
if (!user) {
  console.error("usage: npm run token -- <user id, e.g. rick@the-citadel.com>");
  process.exit(2);
}
console.log(sign(user));
