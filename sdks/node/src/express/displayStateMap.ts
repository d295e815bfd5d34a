import { requireString } from "../refs.js";
import type { PathSeparator } from "../types.js";
import {
  authorizeRequest,
  checkOptions,
  type FailureHandler,
  type Middleware,
  type MiddlewareOptions,
  type ResourceMapper,
} from "./shared.js";

/** Options of {@link displayStateMap}. */
export interface DisplayStateMapOptions extends Omit<MiddlewareOptions, "failurePolicy"> {
  /** The policy root whose packages make up the map, e.g. `todoApp`. */
  policyRoot: string;
  /** Where the map is served; `/__displaystatemap` when absent. */
  endpointPath?: string;
  /** The rules evaluated in each package; `["visible", "enabled", "allowed"]` when absent. */
  decisions?: string[];
  /**
   * How the map's keys are joined: `slash` (`todoApp/GET/todos`, the default, as Aserto's
   * displayStateMap and aserto-react use) or `dot` (`todoApp.GET.todos`, the policy paths).
   */
  pathSeparator?: PathSeparator;
  /** The resource context of every package's evaluation. */
  resource?: ResourceMapper;
  /** What to do when Lictor is unreachable: `"closed"` (503, the default) or a function. */
  failurePolicy?: "closed" | FailureHandler;
}

/**
 * Serves `GET <endpointPath>`: for the caller, every route's decisions (`{visible, enabled, allowed}`)
 * from Lictor's DecisionTree under the policy root, as `{ "<path>": { visible, enabled, allowed } }`,
 * for a front end to show, hide or disable what the user may not do. Any other request goes on to
 * `next()`. No identity → 401; Lictor unreachable → 503.
 *
 * `app.use(displayStateMap({ client, policyRoot: "todoApp" }))`
 */
export function displayStateMap(options: DisplayStateMapOptions): Middleware {
  const who = "displayStateMap()";
  checkOptions(options, who);
  if ((options.failurePolicy as unknown) === "open") {
    throw new TypeError(`${who}: options.failurePolicy "open" has no meaning for a map; use "closed" or a function`);
  }
  const policyRoot = requireString(options.policyRoot, `${who}: options.policyRoot`);
  const endpointPath = options.endpointPath ?? "/__displaystatemap";
  if (typeof endpointPath !== "string" || !endpointPath.startsWith("/")) {
    throw new TypeError(`${who}: options.endpointPath must start with "/", got ${JSON.stringify(endpointPath)}`);
  }
  const decisions = options.decisions ?? ["visible", "enabled", "allowed"];
  if (!Array.isArray(decisions) || decisions.length === 0) {
    throw new TypeError(`${who}: options.decisions must be a non-empty array of rule names`);
  }
  decisions.forEach((d, i) => requireString(d, `${who}: options.decisions[${i}]`));
  const pathSeparator = options.pathSeparator ?? "slash";
  if (pathSeparator !== "dot" && pathSeparator !== "slash") {
    throw new TypeError(`${who}: options.pathSeparator must be "dot" or "slash", got ${JSON.stringify(pathSeparator)}`);
  }
  if (options.resource !== undefined && typeof options.resource !== "function") {
    throw new TypeError(`${who}: options.resource must be a function of the request`);
  }
  return async (req, res, next) => {
    if (req.method !== "GET" || req.path !== endpointPath) {
      next();
      return;
    }
    let map: Record<string, Record<string, boolean>> = {};
    await authorizeRequest(
      options,
      req,
      res,
      next,
      async (identity, requestId) => {
        const tree = await options.client.decisionTree(
          { identity, policyRoot, decisions, resource: await options.resource?.(req), pathSeparator },
          { requestId },
        );
        map = tree.paths;
        return { allowed: true };
      },
      () => res.status(200).json(map),
    );
  };
}
