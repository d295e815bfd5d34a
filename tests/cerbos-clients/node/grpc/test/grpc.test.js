// @cerbos/grpc against the PDP at CERBOS_GRPC (host:port, plaintext), as an application would use it.
import { after } from "node:test";
import { GRPC } from "@cerbos/grpc";
import { defineClientSuite } from "../../shared/suite.js";

const target = process.env.CERBOS_GRPC ?? "127.0.0.1:3593";
const clients = [];

defineClientSuite(`@cerbos/grpc at ${target}`, () => {
  const client = new GRPC(target, { tls: false });
  clients.push(client);
  return client;
});

after(() => {
  for (const client of clients) client.close();
});
