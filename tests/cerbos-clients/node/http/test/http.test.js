// @cerbos/http against the PDP at CERBOS_HTTP (a base URL), as an application would use it.
import { HTTP } from "@cerbos/http";
import { defineClientSuite } from "../../shared/suite.js";

const target = process.env.CERBOS_HTTP ?? "http://127.0.0.1:3592";

defineClientSuite(`@cerbos/http at ${target}`, () => new HTTP(target));
