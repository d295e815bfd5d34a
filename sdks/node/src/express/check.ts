import { requireString } from "../refs.js";
import {
  authorizeRequest,
  BadRequestError,
  checkOptions,
  routePattern,
  type HttpRequest,
  type Middleware,
  type MiddlewareOptions,
} from "./shared.js";

/**
 * Where a value of {@link CheckOptions} comes from:
 * - a literal string, e.g. `"group"`;
 * - a function of the request, e.g. `(req) => req.params.id`;
 * - `"$header(NAME)"`: the request header NAME;
 * - `"$param(NAME)"`: the route parameter NAME;
 * - `"$body(a.b.c)"`: the value at keys a, b, c of the JSON body (`express.json()` must run first).
 *
 * A value that is missing at request time is answered 400, naming the option and the key.
 */
export type ValueSource = string | ((req: HttpRequest) => string | undefined | Promise<string | undefined>);

/** Options of {@link check}. */
export interface CheckOptions extends MiddlewareOptions {
  /** The object's type. */
  objectType?: ValueSource;
  /** The object's id. */
  objectId?: ValueSource;
  /** The relation the caller must have on the object (or give `permission`). */
  relation?: ValueSource;
  /** The permission the caller must have on the object (or give `relation`). */
  permission?: ValueSource;
  /**
   * Gateway mode, instead of the three above: the object is `endpoint:<service>:<METHOD>:<route>`
   * (e.g. `endpoint:todo:GET:/todos/:id`) and the permission `can_invoke`.
   */
  gateway?: { service: string };
  /** The policy that answers the check from the resource context; `rebac.check` when absent. */
  policyPath?: string;
}

type Resolver = (req: HttpRequest) => Promise<string>;

const MAPPER = /^\$(header|param|body)\((.+)\)$/;

function missing(option: string, source: string, what: string): BadRequestError {
  return new BadRequestError(`${option}: ${source}: ${what}`);
}

/** The value of a body key path, or a 400 naming the first key that is not there. */
function bodyValue(body: unknown, keys: string[], option: string, source: string): unknown {
  if (body === undefined || body === null || typeof body !== "object") {
    throw missing(option, source, "the request has no JSON object body (is express.json() mounted before?)");
  }
  let value: unknown = body;
  for (const [i, key] of keys.entries()) {
    if (value === null || typeof value !== "object" || !Object.prototype.hasOwnProperty.call(value, key)) {
      const at = i === 0 ? "the request body" : `"${keys.slice(0, i).join(".")}"`;
      throw missing(option, source, `${at} has no key "${key}"`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The value as a non-empty string, or a 400 naming the option. */
function asString(value: unknown, option: string, source: string): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string" || value === "") {
    throw missing(option, source, `the value is ${JSON.stringify(value) ?? "undefined"}, not a non-empty string`);
  }
  return value;
}

/** Turns a {@link ValueSource} into a resolver; a malformed `$…(…)` string is refused here, by name. */
function resolver(source: ValueSource, option: string, who: string): Resolver {
  if (typeof source === "function") {
    return async (req) => asString(await source(req), option, "the function");
  }
  if (typeof source !== "string" || source === "") {
    throw new TypeError(`${who}: options.${option} must be a non-empty string or a function of the request`);
  }
  if (!source.startsWith("$")) return async () => source;
  const match = MAPPER.exec(source);
  if (!match) {
    throw new TypeError(
      `${who}: options.${option} ${JSON.stringify(source)} is not "$header(NAME)", "$param(NAME)" or "$body(a.b.c)"`,
    );
  }
  const argument = match[2]!;
  switch (match[1] as "header" | "param" | "body") {
    case "header": {
      const name = argument.toLowerCase();
      return async (req) => {
        const value = req.headers[name];
        if (value === undefined) throw missing(option, source, `the request has no "${argument}" header`);
        return asString(Array.isArray(value) ? value[0] : value, option, source);
      };
    }
    case "param":
      return async (req) => {
        const value = req.params?.[argument];
        if (value === undefined) throw missing(option, source, `the route has no "${argument}" parameter`);
        return asString(Array.isArray(value) ? value.join("/") : value, option, source);
      };
    case "body": {
      const keys = argument.split(".");
      if (keys.some((k) => k === "")) {
        throw new TypeError(`${who}: options.${option} ${JSON.stringify(source)} has an empty key`);
      }
      return async (req) => asString(bodyValue(req.body, keys, option, source), option, source);
    }
  }
}

/**
 * Authorizes each request by a relationship check of the caller against an object (ReBAC): the
 * caller must hold `relation` (or `permission`) on `objectType:objectId`, each given as a
 * {@link ValueSource}. The check runs through the `rebac.check` policy, so the caller's identity is
 * resolved to a user as for {@link authorize}. Allowed → `next()`; denied → 403; a value missing
 * from the request → 400; no identity → 401; Lictor unreachable → 503 (see `failurePolicy`).
 *
 * `app.get("/groups/:id", check({ client, objectType: "group", objectId: "$param(id)", relation: "member" }), handler)`
 */
export function check(options: CheckOptions): Middleware {
  const who = "check()";
  checkOptions(options, who);
  const policyPath =
    options.policyPath === undefined ? "rebac.check" : requireString(options.policyPath, `${who}: options.policyPath`);
  if (options.relation !== undefined && options.permission !== undefined) {
    throw new TypeError(`${who}: give options.relation or options.permission, not both`);
  }
  let objectType: Resolver;
  let objectId: Resolver;
  let relation: Resolver;
  if (options.gateway !== undefined) {
    for (const name of ["objectType", "objectId", "relation", "permission"] as const) {
      if (options[name] !== undefined) {
        throw new TypeError(`${who}: options.${name} cannot be combined with options.gateway`);
      }
    }
    const service = requireString(options.gateway?.service, `${who}: options.gateway.service`);
    objectType = async () => "endpoint";
    objectId = async (req) => `${service}:${req.method.toUpperCase()}:${routePattern(req, who)}`;
    relation = async () => "can_invoke";
  } else {
    const relationOption = options.relation !== undefined ? "relation" : "permission";
    const required = { objectType: options.objectType, objectId: options.objectId, relation: options[relationOption] };
    for (const [name, value] of Object.entries(required)) {
      if (value === undefined) {
        const alternative = name === "relation" ? " (or options.permission)" : "";
        throw new TypeError(`${who}: options.${name}${alternative} is required, unless options.gateway is given`);
      }
    }
    objectType = resolver(options.objectType!, "objectType", who);
    objectId = resolver(options.objectId!, "objectId", who);
    relation = resolver(options[relationOption]!, relationOption, who);
  }
  return (req, res, next) =>
    authorizeRequest(options, req, res, next, async (identity, requestId) => {
      const resource = {
        object_type: await objectType(req),
        object_id: await objectId(req),
        relation: await relation(req),
      };
      const decisions = await options.client.is(
        { identity, policyPath, decisions: ["allowed"], resource },
        { requestId },
      );
      return decisions.allowed
        ? { allowed: true }
        : {
            allowed: false,
            reason: `denied by policy ${policyPath}: no ${resource.relation} on ${resource.object_type}:${resource.object_id}`,
          };
    });
}
