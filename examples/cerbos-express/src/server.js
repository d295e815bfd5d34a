// Starts the example: the Cerbos PDP's gRPC API on localhost:3593 (or CERBOS_GRPC), the app on PORT (3000).
const { GRPC } = require("@cerbos/grpc");
const { createApp } = require("./app");
const { createDb } = require("./db");

const cerbos = new GRPC(process.env.CERBOS_GRPC ?? "localhost:3593", { tls: false });
const app = createApp(cerbos, createDb());

const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});
