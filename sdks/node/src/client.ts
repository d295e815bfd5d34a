import { randomUUID } from "node:crypto";

import { codeForStatus, codeName, LictorError } from "./errors.js";
import { requireString, toIdentityContext, toObjectRef, toSubjectRef } from "./refs.js";
import type {
  BatchCheckResult,
  CallOptions,
  CheckRequest,
  CheckResult,
  DecisionTree,
  DecisionTreeRequest,
  Decisions,
  DirectoryObject,
  ExplainableCheckRequest,
  ExplainNode,
  IsRequest,
  LookupObjectsRequest,
  LookupPage,
  LookupSubjectsPage,
  LookupSubjectsRequest,
  Manifest,
  ObjectInit,
  ObjectInput,
  Page,
  PageRequest,
  Relation,
  RelationFilter,
  RelationInit,
  RelationKey,
  Written,
} from "./types.js";

/** How to reach a Lictor server. */
export interface LictorOptions {
  /**
   * The base URL of any Lictor API port, e.g. `http://127.0.0.1:8383` (every API port serves the whole
   * REST API). A path prefix (a reverse proxy's) is kept.
   */
  url: string;
  /** Sent as `authorization: basic <apiKey>`; needed when the server has `api_keys`. */
  apiKey?: string;
  /** Sent as `aserto-tenant-id`; the default tenant when absent. */
  tenantId?: string;
  /** How long one call may take, response body included; 5000 when absent. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

/** The header a write's answer carries the revision that holds it in. */
const REVISION_HEADER = "x-lictor-revision";
/** The header a call names the revision it must see in ({@link CallOptions.minRevision}). */
const MIN_REVISION_HEADER = "x-lictor-min-revision";

/** The revision a write's answer names in `x-lictor-revision`; 0 when it names none. */
function revisionOf(headers: Headers): number {
  const value = headers.get(REVISION_HEADER)?.trim() ?? "";
  if (!/^[0-9]+$/.test(value)) return 0;
  const revision = Number(value);
  return Number.isSafeInteger(revision) ? revision : 0;
}

/** Checks {@link CallOptions.minRevision}; the error names the call. */
function checkMinRevision(value: unknown, operation: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    const shown = typeof value === "number" ? String(value) : JSON.stringify(value);
    throw new TypeError(
      `${operation}: options.minRevision must be a non-negative integer (the revision of a write), got ${shown}`,
    );
  }
  return value;
}

/** A request body or query, and how to read the answer. */
interface Call {
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  /** A raw text body with its content type. */
  text?: { body: string; contentType: string };
}

/** A successful response, read. */
interface Answer {
  text: string;
  headers: Headers;
}

interface WireObject {
  type: string;
  id: string;
  display_name?: string;
  properties?: Record<string, unknown>;
  etag?: string;
  created_at?: string | null;
  updated_at?: string | null;
}

interface WireRelation {
  object_type: string;
  object_id: string;
  relation: string;
  subject_type: string;
  subject_id: string;
  subject_relation?: string;
  etag?: string;
  created_at?: string | null;
  updated_at?: string | null;
}

function fromWireObject(o: WireObject): DirectoryObject {
  return {
    type: o.type,
    id: o.id,
    displayName: o.display_name ?? "",
    properties: o.properties ?? {},
    etag: o.etag ?? "",
    createdAt: o.created_at ?? undefined,
    updatedAt: o.updated_at ?? undefined,
  };
}

function fromWireRelation(r: WireRelation): Relation {
  return {
    object: { type: r.object_type, id: r.object_id },
    relation: r.relation,
    subject: r.subject_relation
      ? { type: r.subject_type, id: r.subject_id, relation: r.subject_relation }
      : { type: r.subject_type, id: r.subject_id },
    etag: r.etag ?? "",
    createdAt: r.created_at ?? undefined,
    updatedAt: r.updated_at ?? undefined,
  };
}

/** The wire fields of a relation key; errors name `field`. */
function relationFields(key: RelationKey, field: string) {
  const object = toObjectRef(key.object, `${field}.object`);
  const subject = toSubjectRef(key.subject, `${field}.subject`);
  return {
    object_type: object.type,
    object_id: object.id,
    relation: requireString(key.relation, `${field}.relation`),
    subject_type: subject.type,
    subject_id: subject.id,
    subject_relation: subject.relation ?? "",
  };
}

/** The wire fields of a check; errors name `field`. */
function checkFields(request: CheckRequest, field: string) {
  const object = toObjectRef(request.object, `${field}.object`);
  const subject = toSubjectRef(request.subject, `${field}.subject`);
  return {
    object_type: object.type,
    object_id: object.id,
    relation: requireString(request.permission, `${field}.permission`),
    subject_type: subject.type,
    subject_id: subject.id,
    subject_relation: subject.relation ?? "",
  };
}

function resourceContext(resource: Record<string, unknown> | undefined, field: string) {
  if (resource === undefined) return {};
  if (resource === null || typeof resource !== "object" || Array.isArray(resource)) {
    throw new TypeError(`${field} must be a plain object, got ${JSON.stringify(resource)}`);
  }
  return resource;
}

/**
 * A client of Lictor's REST API: decisions (Is, DecisionTree), relationship checks with explanations,
 * lookups, and directory and manifest reads and writes. Calls go through Node's `fetch`, whose
 * connection pool keeps connections alive between calls. Every failure is a {@link LictorError}; a
 * malformed argument is a `TypeError` naming it, thrown before anything is sent.
 *
 * Directory writes answer the revision that holds them ({@link Written}); passing it as
 * {@link CallOptions.minRevision} to a later call makes that call see the write on any replica.
 */
export class Lictor {
  /** The base URL calls go to, without a trailing slash. */
  readonly url: string;
  readonly #apiKey: string | undefined;
  readonly #tenantId: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: LictorOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("new Lictor(options): options must be an object with a url");
    }
    const url = requireString(options.url, "new Lictor(options): options.url");
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`new Lictor(options): options.url ${JSON.stringify(url)} is not a URL`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new TypeError(
        `new Lictor(options): options.url ${JSON.stringify(options.url)} must be http:// or https://`,
      );
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError(`new Lictor(options): options.timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    this.url = url.replace(/\/+$/, "");
    this.#apiKey = options.apiKey || undefined;
    this.#tenantId = options.tenantId || undefined;
    this.#timeoutMs = timeoutMs;
  }

  /** Evaluates decisions of one policy package, e.g. `{ allowed: true }` for `todoApp.GET.todos`. */
  async is(request: IsRequest, options?: CallOptions): Promise<Decisions> {
    const decisions = request.decisions ?? ["allowed"];
    const body = await this.#json<{ decisions?: { decision: string; is: boolean }[] }>(
      "POST",
      "/api/v2/authz/is",
      {
        json: {
          identity_context: toIdentityContext(request.identity, "is(): identity"),
          policy_context: { path: requireString(request.policyPath, "is(): policyPath"), decisions },
          resource_context: resourceContext(request.resource, "is(): resource"),
        },
      },
      options,
    );
    const result: Decisions = {};
    for (const d of body.decisions ?? []) result[d.decision] = d.is === true;
    return result;
  }

  /** Evaluates decisions of every policy package under a root, keyed by full package path. */
  async decisionTree(request: DecisionTreeRequest, options?: CallOptions): Promise<DecisionTree> {
    const separator = request.pathSeparator ?? "dot";
    if (separator !== "dot" && separator !== "slash") {
      throw new TypeError(`decisionTree(): pathSeparator must be "dot" or "slash", got ${JSON.stringify(separator)}`);
    }
    const body = await this.#json<{ path_root?: string; path?: Record<string, Decisions> }>(
      "POST",
      "/api/v2/authz/decisiontree",
      {
        json: {
          identity_context: toIdentityContext(request.identity, "decisionTree(): identity"),
          policy_context: {
            path: requireString(request.policyRoot, "decisionTree(): policyRoot"),
            decisions: request.decisions ?? ["allowed"],
          },
          resource_context: resourceContext(request.resource, "decisionTree(): resource"),
          options: { path_separator: separator === "slash" ? "PATH_SEPARATOR_SLASH" : "PATH_SEPARATOR_DOT" },
        },
      },
      options,
    );
    return { pathRoot: body.path_root ?? request.policyRoot, paths: body.path ?? {} };
  }

  /**
   * Whether a subject holds a permission (or relation) on an object. With `explain`, the answer carries
   * the evaluation tree.
   */
  async check(request: ExplainableCheckRequest, options?: CallOptions): Promise<CheckResult> {
    const fields = checkFields(request, "check()");
    if (request.explain) {
      const body = await this.#json<{ allowed: boolean; trace?: ExplainNode | null; text?: string; revision?: number }>(
        "POST",
        "/api/v3/lictor/explain",
        { json: fields },
        options,
      );
      return {
        allowed: body.allowed === true,
        explanation: { tree: body.trace ?? undefined, text: body.text ?? "", revision: body.revision ?? 0 },
      };
    }
    const body = await this.#json<{ check?: boolean }>("POST", "/api/v3/directory/check", { json: fields }, options);
    return { allowed: body.check === true };
  }

  /** Runs several checks in one call; the answers are in the order of the requests. */
  async checks(requests: CheckRequest[], options?: CallOptions): Promise<BatchCheckResult[]> {
    if (!Array.isArray(requests)) throw new TypeError("checks(): requests must be an array");
    const checks = requests.map((r, i) => checkFields(r, `checks()[${i}]`));
    const body = await this.#json<{ checks?: { check?: boolean; context?: { error?: string } }[] }>(
      "POST",
      "/api/v3/directory/checks",
      { json: { checks } },
      options,
    );
    return (body.checks ?? []).map((c) =>
      c.context?.error ? { allowed: c.check === true, error: c.context.error } : { allowed: c.check === true },
    );
  }

  /** The ids of the objects of a type on which the subject holds the permission. */
  async lookupObjects(request: LookupObjectsRequest, options?: CallOptions): Promise<LookupPage> {
    const subject = toSubjectRef(request.subject, "lookupObjects(): subject");
    const body = await this.#json<{ ids?: string[]; next?: string | null; revision?: number }>(
      "POST",
      "/api/v3/lictor/lookup/objects",
      {
        json: {
          subject_type: subject.type,
          subject_id: subject.id,
          subject_relation: subject.relation ?? "",
          permission: requireString(request.permission, "lookupObjects(): permission"),
          object_type: requireString(request.objectType, "lookupObjects(): objectType"),
          page_size: request.pageSize ?? 0,
          after: request.after,
        },
      },
      options,
    );
    return { ids: body.ids ?? [], next: body.next ?? null, revision: body.revision ?? 0 };
  }

  /** The ids of the subjects of a type that hold the permission on an object. */
  async lookupSubjects(request: LookupSubjectsRequest, options?: CallOptions): Promise<LookupSubjectsPage> {
    const object = toObjectRef(request.object, "lookupSubjects(): object");
    const body = await this.#json<{ ids?: string[]; excluded?: string[]; next?: string | null; revision?: number }>(
      "POST",
      "/api/v3/lictor/lookup/subjects",
      {
        json: {
          object_type: object.type,
          object_id: object.id,
          permission: requireString(request.permission, "lookupSubjects(): permission"),
          subject_type: requireString(request.subjectType, "lookupSubjects(): subjectType"),
          subject_relation: request.subjectRelation ?? "",
          page_size: request.pageSize ?? 0,
          after: request.after,
        },
      },
      options,
    );
    return {
      ids: body.ids ?? [],
      excluded: body.excluded ?? [],
      next: body.next ?? null,
      revision: body.revision ?? 0,
    };
  }

  /** One object; `NOT_FOUND` when there is none. */
  async getObject(object: ObjectInput, options?: CallOptions): Promise<DirectoryObject> {
    const ref = toObjectRef(object, "getObject(): object");
    const body = await this.#json<{ result: WireObject }>(
      "GET",
      `/api/v3/directory/object/${encodeURIComponent(ref.type)}/${encodeURIComponent(ref.id)}`,
      {},
      options,
    );
    return fromWireObject(body.result);
  }

  /** A page of objects, of one type when `objectType` is given. */
  async getObjects(
    request: PageRequest & { objectType?: string } = {},
    options?: CallOptions,
  ): Promise<Page<DirectoryObject>> {
    const body = await this.#json<{ results?: WireObject[]; page?: { next_token?: string } }>(
      "GET",
      "/api/v3/directory/objects",
      {
        query: {
          object_type: request.objectType,
          "page.size": request.pageSize,
          "page.token": request.pageToken,
        },
      },
      options,
    );
    return { results: (body.results ?? []).map(fromWireObject), nextPageToken: body.page?.next_token ?? "" };
  }

  /**
   * Creates or replaces an object; its type must be declared in the manifest. The answer carries the
   * {@link Written.revision} that holds the write.
   */
  async setObject(object: ObjectInit, options?: CallOptions): Promise<DirectoryObject & Written> {
    if (object === null || typeof object !== "object") {
      throw new TypeError("setObject(): object must be {type, id, displayName?, properties?, etag?}");
    }
    const { body, revision } = await this.#write<{ result: WireObject }>(
      "POST",
      "/api/v3/directory/object",
      {
        json: {
          object: {
            type: requireString(object.type, "setObject(): object.type"),
            id: requireString(object.id, "setObject(): object.id"),
            display_name: object.displayName ?? "",
            properties: resourceContext(object.properties, "setObject(): object.properties"),
            etag: object.etag ?? "",
          },
        },
      },
      options,
    );
    return { ...fromWireObject(body.result), revision };
  }

  /**
   * Deletes an object; with `withRelations`, the relations it is part of too. Answers the
   * {@link Written.revision} that holds the deletion.
   */
  async deleteObject(
    object: ObjectInput,
    request: { withRelations?: boolean } = {},
    options?: CallOptions,
  ): Promise<Written> {
    const ref = toObjectRef(object, "deleteObject(): object");
    const { revision } = await this.#write(
      "DELETE",
      `/api/v3/directory/object/${encodeURIComponent(ref.type)}/${encodeURIComponent(ref.id)}`,
      { query: { with_relations: request.withRelations ? true : undefined } },
      options,
    );
    return { revision };
  }

  /** One relation; `NOT_FOUND` when there is none. */
  async getRelation(key: RelationKey, options?: CallOptions): Promise<Relation> {
    const body = await this.#json<{ result: WireRelation }>(
      "GET",
      "/api/v3/directory/relation",
      { query: relationFields(key, "getRelation()") },
      options,
    );
    return fromWireRelation(body.result);
  }

  /** A page of the relations matching a filter. */
  async getRelations(filter: RelationFilter = {}, options?: CallOptions): Promise<Page<Relation>> {
    const body = await this.#json<{ results?: WireRelation[]; page?: { next_token?: string } }>(
      "GET",
      "/api/v3/directory/relations",
      {
        query: {
          object_type: filter.objectType,
          object_id: filter.objectId,
          relation: filter.relation,
          subject_type: filter.subjectType,
          subject_id: filter.subjectId,
          subject_relation: filter.subjectRelation,
          "page.size": filter.pageSize,
          "page.token": filter.pageToken,
        },
      },
      options,
    );
    return { results: (body.results ?? []).map(fromWireRelation), nextPageToken: body.page?.next_token ?? "" };
  }

  /**
   * Creates a relation (or rewrites it, with `etag`); both ends must fit the manifest. The answer carries
   * the {@link Written.revision} that holds the write.
   */
  async setRelation(relation: RelationInit, options?: CallOptions): Promise<Relation & Written> {
    const { body, revision } = await this.#write<{ result: WireRelation }>(
      "POST",
      "/api/v3/directory/relation",
      { json: { relation: { ...relationFields(relation, "setRelation()"), etag: relation.etag ?? "" } } },
      options,
    );
    return { ...fromWireRelation(body.result), revision };
  }

  /**
   * Deletes a relation; deleting one that does not exist succeeds. Answers the {@link Written.revision}
   * that holds the deletion.
   */
  async deleteRelation(key: RelationKey, options?: CallOptions): Promise<Written> {
    const { revision } = await this.#write(
      "DELETE",
      "/api/v3/directory/relation",
      { query: relationFields(key, "deleteRelation()") },
      options,
    );
    return { revision };
  }

  /** The manifest's YAML and etag. */
  async getManifest(options?: CallOptions): Promise<Manifest> {
    const answer = await this.#send("GET", "/api/v3/directory/manifest", {}, options);
    return { yaml: answer.text, etag: (answer.headers.get("etag") ?? "").replace(/^"|"$/g, "") };
  }

  /**
   * Replaces the manifest; refused (`FAILED_PRECONDITION` or `INVALID_ARGUMENT`, naming the objects,
   * relations or `line:column` at fault) when it does not parse or stored data would no longer fit it.
   * Returns the directory revision that holds it, a {@link Written.revision} like any write's.
   */
  async setManifest(yaml: string, options?: CallOptions): Promise<Written> {
    const answer = await this.#send(
      "POST",
      "/api/v3/directory/manifest",
      { text: { body: requireString(yaml, "setManifest(): yaml"), contentType: "application/yaml" } },
      options,
    );
    const body = this.#parse<{ revision?: number }>(answer, "POST /api/v3/directory/manifest");
    return { revision: body.revision ?? revisionOf(answer.headers) };
  }

  async #json<T>(method: string, path: string, call: Call, options: CallOptions | undefined): Promise<T> {
    const answer = await this.#send(method, path, call, options);
    return this.#parse<T>(answer, `${method} ${path}`);
  }

  /** A directory write: its answer's body and the revision that holds it. */
  async #write<T>(
    method: string,
    path: string,
    call: Call,
    options: CallOptions | undefined,
  ): Promise<{ body: T; revision: number }> {
    const answer = await this.#send(method, path, call, options);
    return { body: this.#parse<T>(answer, `${method} ${path}`), revision: revisionOf(answer.headers) };
  }

  #parse<T>(answer: Answer, operation: string): T {
    try {
      return JSON.parse(answer.text) as T;
    } catch (cause) {
      throw new LictorError({
        code: "INTERNAL",
        message: `the response is not JSON: ${answer.text.slice(0, 200)}`,
        operation,
        status: 200,
        requestId: answer.headers.get("x-request-id") ?? undefined,
        cause,
      });
    }
  }

  async #send(method: string, path: string, call: Call, options: CallOptions | undefined): Promise<Answer> {
    const operation = `${method} ${path}`;
    const minRevision =
      options?.minRevision === undefined ? undefined : checkMinRevision(options.minRevision, operation);
    const sentId = options?.requestId || randomUUID();
    const url = new URL(this.url + path);
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined && value !== "") url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: "application/json", "x-request-id": sentId };
    if (this.#apiKey) headers.authorization = `basic ${this.#apiKey}`;
    if (this.#tenantId) headers["aserto-tenant-id"] = this.#tenantId;
    if (minRevision !== undefined) headers[MIN_REVISION_HEADER] = String(minRevision);
    let body: string | undefined;
    if (call.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.json);
    } else if (call.text !== undefined) {
      headers["content-type"] = call.text.contentType;
      body = call.text.body;
    }

    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.#timeoutMs) });
      text = await response.text();
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError");
      const reason = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
      const detail =
        reason && typeof reason === "object" && "code" in reason ? String(reason.code) : String(reason);
      throw new LictorError({
        code: timedOut ? "DEADLINE_EXCEEDED" : "UNAVAILABLE",
        message: timedOut
          ? `no answer from ${this.url} within ${this.#timeoutMs} ms`
          : `cannot reach ${this.url}: ${detail}`,
        operation,
        status: 0,
        requestId: sentId,
        cause,
      });
    }

    const requestId = response.headers.get("x-request-id") ?? undefined;
    if (!response.ok) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const error = parsed as { code?: unknown; message?: unknown; details?: unknown } | undefined;
      if (error && typeof error === "object" && typeof error.message === "string") {
        throw new LictorError({
          code: typeof error.code === "number" ? codeName(error.code) : codeForStatus(response.status),
          message: error.message,
          operation,
          status: response.status,
          requestId,
          details: Array.isArray(error.details) ? error.details : [],
        });
      }
      throw new LictorError({
        code: codeForStatus(response.status),
        message: `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`,
        operation,
        status: response.status,
        requestId,
      });
    }
    return { text, headers: response.headers };
  }
}
