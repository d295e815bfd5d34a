/**
 * `@lictor/node`: a client of Lictor's REST API and Express middleware that authorize requests with it.
 * @packageDocumentation
 */
export { Lictor, type LictorOptions } from "./client.js";
export { LictorError, type LictorErrorCode, type LictorErrorInit } from "./errors.js";
export type * from "./types.js";
export { authorize, policyPathFor, type AuthorizeOptions } from "./express/authorize.js";
export { check, type CheckOptions, type ValueSource } from "./express/check.js";
export { displayStateMap, type DisplayStateMapOptions } from "./express/displayStateMap.js";
export {
  identityFromRequest,
  type FailureHandler,
  type FailurePolicy,
  type HttpRequest,
  type HttpResponse,
  type IdentityMapper,
  type Middleware,
  type MiddlewareOptions,
  type NextFunction,
  type ResourceMapper,
} from "./express/shared.js";
