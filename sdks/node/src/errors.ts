/** gRPC status names, the vocabulary of Lictor's (and Topaz's) errors on every transport. */
export type LictorErrorCode =
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

const CODE_NAMES: readonly LictorErrorCode[] = [
  "UNKNOWN", // 0 (OK) never describes an error
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** The name of a numeric gRPC status code, or `UNKNOWN` for one outside the table. */
export function codeName(code: unknown): LictorErrorCode {
  return typeof code === "number" && Number.isInteger(code) && code > 0 && code < CODE_NAMES.length
    ? CODE_NAMES[code]!
    : "UNKNOWN";
}

/** The code an HTTP status stands for when a response carries no Lictor error body (e.g. a proxy's page). */
export function codeForStatus(status: number): LictorErrorCode {
  switch (status) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 501:
      return "UNIMPLEMENTED";
    case 502:
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "UNKNOWN";
  }
}

/** What a {@link LictorError} is built from. */
export interface LictorErrorInit {
  /** The gRPC status name. */
  code: LictorErrorCode;
  /** What went wrong; for server errors, the server's own message, which names the field at fault. */
  message: string;
  /** The call that failed, e.g. `POST /api/v2/authz/is`. */
  operation: string;
  /** The HTTP status, or 0 when no response arrived (connection refused, timeout). */
  status: number;
  /** The `x-request-id` the server answered with; for a call that got no response, the one that was sent. */
  requestId: string | undefined;
  /** The `details` array of the server's error body. */
  details?: unknown[];
  /** The underlying failure (a network error, a timeout). */
  cause?: unknown;
}

/**
 * Every failure of a {@link Lictor} call: the server's error (`{code, message, details}`), a network
 * failure (`UNAVAILABLE`, status 0), a timeout (`DEADLINE_EXCEEDED`, status 0) or an unreadable response.
 */
export class LictorError extends Error {
  /** The gRPC status name, e.g. `NOT_FOUND`. */
  readonly code: LictorErrorCode;
  /** The call that failed, e.g. `POST /api/v2/authz/is`. */
  readonly operation: string;
  /** The HTTP status, or 0 when no response arrived. */
  readonly status: number;
  /** The request id to look the call up by in Lictor's logs and decision log. */
  readonly requestId: string | undefined;
  /** The `details` array of the server's error body (empty when it had none). */
  readonly details: unknown[];

  constructor(init: LictorErrorInit) {
    super(`${init.operation}: ${init.message}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "LictorError";
    this.code = init.code;
    this.operation = init.operation;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details ?? [];
  }

  /** Whether Lictor could not be reached or did not answer in time: the error a failure policy is about. */
  get unavailable(): boolean {
    return this.code === "UNAVAILABLE" || this.code === "DEADLINE_EXCEEDED";
  }
}
