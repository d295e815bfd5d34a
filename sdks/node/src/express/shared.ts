import type { Lictor } from "../client.js";
import { LictorError } from "../errors.js";
import type { Identity } from "../types.js";

/**
 * The parts of an Express request the middleware read. Express's `Request` fits it; so does any
 * framework's request that has these fields.
 */
export interface HttpRequest {
  method: string;
  /** The path relative to where the middleware is mounted. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Route parameters, e.g. `{ id: "42" }` for `/todos/:id`. */
  params?: Record<string, string | string[] | undefined>;
  /** The parsed body (`express.json()`). */
  body?: unknown;
  /** Where the router that matched is mounted, e.g. `/api`. */
  baseUrl?: string;
  /** The route that matched; its `path` is the pattern, e.g. `/todos/:id`. */
  route?: { path?: unknown };
  /** JWT claims as express-jwt (v7+) puts them. */
  auth?: unknown;
  /** JWT claims or a user as passport and older express-jwt put them. */
  user?: unknown;
}

/** The parts of an Express response the middleware use. */
export interface HttpResponse {
  status(code: number): HttpResponse;
  json(body: unknown): unknown;
}

/** Express's `next`: no argument to go on, an error to hand it to the error handlers. */
export type NextFunction = (error?: unknown) => void;

/** An Express middleware. It never rejects: every failure is answered or handed to `next`. */
export type Middleware = (req: HttpRequest, res: HttpResponse, next: NextFunction) => Promise<void>;

/** Who the request is from; `undefined` when nobody is signed in (answered 401). */
export type IdentityMapper = (req: HttpRequest) => Identity | undefined | Promise<Identity | undefined>;

/** Extra fields for the policy's resource context (`input.resource`). */
export type ResourceMapper = (
  req: HttpRequest,
) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;

/** Answers a request when Lictor cannot be reached or does not answer in time. */
export type FailureHandler = (
  error: LictorError,
  req: HttpRequest,
  res: HttpResponse,
  next: NextFunction,
) => void | Promise<void>;

/**
 * What to do when Lictor is unreachable or times out: `"closed"` (the default) answers 503, `"open"`
 * lets the request through unauthorized, a function decides itself.
 */
export type FailurePolicy = "closed" | "open" | FailureHandler;

/** Options every middleware takes. */
export interface MiddlewareOptions {
  /** The client to ask. */
  client: Lictor;
  /** Who the request is from; {@link identityFromRequest} when absent. */
  identity?: IdentityMapper;
  /** What to do when Lictor is unreachable; `"closed"` (503) when absent. */
  failurePolicy?: FailurePolicy;
}

/** A request the middleware cannot map to an authorization question: answered 400 with its message. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }
}

/** A middleware's answer: go on, or refuse with a reason. */
export type Verdict = { allowed: true } | { allowed: false; reason: string };

function header(req: HttpRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function subOf(claims: unknown): string | undefined {
  if (claims && typeof claims === "object" && "sub" in claims) {
    const sub = (claims as { sub: unknown }).sub;
    if (typeof sub === "string" && sub !== "") return sub;
  }
  return undefined;
}

/**
 * The default {@link IdentityMapper}: the `sub` claim of `req.auth` (express-jwt) or `req.user`
 * (passport, older express-jwt) as a `sub` identity; else the bearer token of the `authorization`
 * header as a `jwt` identity, for Lictor to verify; else nobody.
 */
export function identityFromRequest(req: HttpRequest): Identity | undefined {
  const sub = subOf(req.auth) ?? subOf(req.user);
  if (sub !== undefined) return { type: "sub", value: sub };
  const match = /^bearer\s+(\S+)\s*$/i.exec(header(req, "authorization") ?? "");
  return match ? { type: "jwt", value: match[1]! } : undefined;
}

/** The full route pattern that matched, e.g. `/api/todos/:id`; errors name `who`. */
export function routePattern(req: HttpRequest, who: string): string {
  const path = req.route?.path;
  if (typeof path !== "string") {
    throw new Error(
      `${who}: ${req.method} ${req.path} matched no route with a string path (req.route.path is ` +
        `${JSON.stringify(path)}); mount the middleware on a route, e.g. app.get("/todos/:id", ${who.replace("()", "(…)")}, handler)`,
    );
  }
  return (req.baseUrl ?? "") + path;
}

/** The `google.rpc.ErrorInfo` reasons with which Lictor refuses an identity. */
const IDENTITY_REASONS: ReadonlySet<string> = new Set(["INVALID_JWT", "IDENTITY_NOT_FOUND"]);

/** Whether Lictor refused the identity itself: a JWT it could not verify, or a subject of no user. */
function identityRejected(error: LictorError): boolean {
  return error.details.some(
    (detail) =>
      typeof detail === "object" &&
      detail !== null &&
      IDENTITY_REASONS.has(String((detail as { reason?: unknown }).reason)),
  );
}

function respond(res: HttpResponse, status: number, error: string, message: string, requestId?: string): void {
  res.status(status).json({ error, message, requestId });
}

/** Checks the options every middleware shares; errors name `who`. */
export function checkOptions(options: MiddlewareOptions, who: string): void {
  if (options === null || typeof options !== "object") throw new TypeError(`${who}: options must be an object`);
  if (options.client === null || typeof options.client !== "object" || typeof options.client.is !== "function") {
    throw new TypeError(`${who}: options.client must be a Lictor client (new Lictor({ url }))`);
  }
  if (options.identity !== undefined && typeof options.identity !== "function") {
    throw new TypeError(`${who}: options.identity must be a function of the request`);
  }
  const policy: unknown = options.failurePolicy;
  if (policy !== undefined && policy !== "closed" && policy !== "open" && typeof policy !== "function") {
    throw new TypeError(`${who}: options.failurePolicy must be "closed", "open" or a function, got ${JSON.stringify(policy)}`);
  }
}

/**
 * Runs one authorization: resolves the identity (none → 401), asks `decide`, and answers: allowed →
 * `proceed()` (`next()` unless given), denied → 403, a {@link BadRequestError} → 400, an identity
 * Lictor refused → 401, Lictor unreachable → the failure policy, any other error → `next(error)`.
 */
export async function authorizeRequest(
  options: MiddlewareOptions,
  req: HttpRequest,
  res: HttpResponse,
  next: NextFunction,
  decide: (identity: Identity, requestId: string | undefined) => Promise<Verdict>,
  proceed: () => void = () => next(),
): Promise<void> {
  const requestId = header(req, "x-request-id");
  let verdict: Verdict;
  try {
    const identity = await (options.identity ?? identityFromRequest)(req);
    if (identity === undefined) {
      respond(res, 401, "unauthenticated", "no identity: the request carries no verified user and no bearer token");
      return;
    }
    verdict = await decide(identity, requestId);
  } catch (error) {
    if (error instanceof BadRequestError) {
      respond(res, 400, "bad_request", error.message);
    } else if (error instanceof LictorError && error.unavailable) {
      await onUnavailable(options.failurePolicy, error, req, res, next);
    } else if (error instanceof LictorError && identityRejected(error)) {
      const reason = error.message.slice(error.operation.length + 2);
      respond(res, 401, "unauthenticated", `the authorizer refused the identity: ${reason}`, error.requestId);
    } else {
      next(error);
    }
    return;
  }
  if (verdict.allowed) {
    proceed();
  } else {
    respond(res, 403, "forbidden", verdict.reason);
  }
}

async function onUnavailable(
  policy: FailurePolicy | undefined,
  error: LictorError,
  req: HttpRequest,
  res: HttpResponse,
  next: NextFunction,
): Promise<void> {
  if (typeof policy === "function") {
    try {
      await policy(error, req, res, next);
    } catch (handlerError) {
      next(handlerError);
    }
  } else if (policy === "open") {
    next();
  } else {
    respond(res, 503, "authorizer_unavailable", "the authorization service is unavailable", error.requestId);
  }
}
