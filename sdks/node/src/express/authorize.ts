import { requireString } from "../refs.js";
import {
  authorizeRequest,
  checkOptions,
  routePattern,
  type HttpRequest,
  type Middleware,
  type MiddlewareOptions,
  type ResourceMapper,
} from "./shared.js";

/** Options of {@link authorize}. */
export interface AuthorizeOptions extends MiddlewareOptions {
  /** The first segment of every policy path, e.g. `todoApp`. */
  policyRoot: string;
  /** The policy path to ask instead of the one derived from the route. */
  policyPath?: (req: HttpRequest) => string;
  /** The rule that must be true; `allowed` when absent. */
  decision?: string;
  /** Fields added to the resource context, over the route parameters (e.g. `{ object_id: req.params.id }`). */
  resource?: ResourceMapper;
}

/**
 * The policy path of a route: `<root>.<METHOD>.<segments>`, with `:param` segments written `__param`,
 * e.g. `GET /todos/:id` under root `todoApp` → `todoApp.GET.todos.__id`.
 */
export function policyPathFor(policyRoot: string, method: string, route: string): string {
  const segments = route
    .split("/")
    .filter((s) => s !== "")
    .map((s) => (s.startsWith(":") ? `__${s.slice(1)}` : s));
  return [policyRoot, method.toUpperCase(), ...segments].join(".");
}

/**
 * Authorizes each request by a policy named after its route (the `jwtAuthz` of Aserto's SDK). The
 * policy path is {@link policyPathFor} of the route that matched (router mount path included); the
 * identity comes from `options.identity` ({@link identityFromRequest} by default); the resource context
 * is the route parameters plus `options.resource(req)`. Allowed → `next()`; denied → 403; no identity,
 * or one Lictor refuses → 401; Lictor unreachable → 503 (see `failurePolicy`).
 *
 * Mount it on routes: `app.get("/todos/:id", authorize({ client, policyRoot: "todoApp" }), handler)`.
 */
export function authorize(options: AuthorizeOptions): Middleware {
  const who = "authorize()";
  checkOptions(options, who);
  const policyRoot = requireString(options.policyRoot, `${who}: options.policyRoot`);
  const decision = options.decision === undefined ? "allowed" : requireString(options.decision, `${who}: options.decision`);
  for (const name of ["policyPath", "resource"] as const) {
    if (options[name] !== undefined && typeof options[name] !== "function") {
      throw new TypeError(`${who}: options.${name} must be a function of the request`);
    }
  }
  return (req, res, next) =>
    authorizeRequest(options, req, res, next, async (identity, requestId) => {
      const policyPath = options.policyPath
        ? requireString(options.policyPath(req), `${who}: options.policyPath(req)`)
        : policyPathFor(policyRoot, req.method, routePattern(req, who));
      const resource = { ...req.params, ...(await options.resource?.(req)) };
      const decisions = await options.client.is(
        { identity, policyPath, decisions: [decision], resource },
        { requestId },
      );
      return decisions[decision]
        ? { allowed: true }
        : { allowed: false, reason: `denied by policy ${policyPath}` };
    });
}
