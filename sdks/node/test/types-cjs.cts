// Compiled by `npm run typecheck`, never run: the published CommonJS typings resolve through require.
import sdk = require("@lictor/node");

const client: sdk.Lictor = new sdk.Lictor({ url: "http://127.0.0.1:8383" });
const decisions: Promise<sdk.Decisions> = client.is({ identity: "beth", policyPath: "todoApp.GET.todos" });
void decisions;
