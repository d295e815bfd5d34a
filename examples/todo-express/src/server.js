// Starts the todo API: `npm start`. Settings come from the environment (see README.md).
import { Lictor } from "@lictor/node";

import { createApp } from "./app.js";
import { secret } from "./jwt.js";

const client = new Lictor({
  url: process.env.LICTOR_URL || "http://127.0.0.1:8383",
  apiKey: process.env.LICTOR_API_KEY,
  tenantId: process.env.LICTOR_TENANT_ID,
});
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 3001);

const server = createApp({ client, secret }).listen(port, host, (error) => {
  if (error) {
    console.error(`todo-express: cannot listen on ${host}:${port}: ${error.message}`);
    process.exit(1);
  }
  const { address, port: bound } = server.address();
  console.log(`todo-express listening on http://${address}:${bound}, authorized by ${client.url}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => server.close(() => process.exit(0)));
