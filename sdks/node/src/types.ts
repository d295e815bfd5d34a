/** An object of the directory: `{ type: "resource", id: "todo-1" }`. */
export interface ObjectRef {
  type: string;
  id: string;
}

/** A subject of a relation: an object, or a subject set when `relation` is given (`group:editor#member`). */
export interface SubjectRef extends ObjectRef {
  relation?: string;
}

/** An object as a {@link ObjectRef} or the string `"type:id"`. The id is everything after the first `:`. */
export type ObjectInput = ObjectRef | string;

/**
 * A subject as a {@link SubjectRef} or the string `"type:id"` / `"type:id#relation"` (the relation is what
 * follows the last `#`; use the object form for ids that contain `#`).
 */
export type SubjectInput = SubjectRef | string;

/**
 * Who is asking, as the authorizer resolves it to a user of the directory:
 * - `sub`: a user id or an identity of a user (e.g. a JWT's `sub` claim, an email);
 * - `jwt`: a JWT that Lictor verifies against its configured issuers and takes the `sub` of;
 * - `manual`: a value handed to the policy as is, resolved to no user;
 * - `none`: anonymous.
 *
 * A plain string is short for `{ type: "sub", value }`.
 */
export type Identity =
  | { type: "sub" | "jwt" | "manual"; value: string }
  | { type: "none" }
  | string;

/** Per-call options. */
export interface CallOptions {
  /** Sent as `x-request-id` (e.g. the id of the incoming request being authorized); a UUID when absent. */
  requestId?: string;
  /**
   * A consistency token: the {@link Written.revision} of an earlier write, sent as `x-lictor-min-revision`.
   * The server answers only once its copy of the directory has applied that revision, so the call sees
   * the write even on a replica that has not caught up yet. It waits up to its bound
   * (`limits.min_revision_wait_ms`, 1000 ms by default) and then fails with `UNAVAILABLE` (HTTP 503),
   * naming the revision it wanted and the one it holds. A non-negative integer; anything else is a
   * `TypeError`, thrown before anything is sent.
   */
  minRevision?: number;
}

/**
 * What a directory write answers: the directory revision that holds it, from the answer's
 * `x-lictor-revision` header (0 when the server sends none). Revisions grow with every write.
 *
 * To read your own writes through any replica, write, keep `revision`, and pass it as
 * {@link CallOptions.minRevision} to the later check, decision or read:
 *
 * ```ts
 * const { revision } = await lictor.setRelation({ object: "resource:1", relation: "owner", subject: "user:beth" });
 * // Sees the new owner, whichever replica answers.
 * await lictor.check({ subject: "user:beth", permission: "can_delete", object: "resource:1" }, { minRevision: revision });
 * ```
 */
export interface Written {
  /** The directory revision that includes the write. */
  revision: number;
}

/** A decision request for {@link Lictor.is}. */
export interface IsRequest {
  /** The caller; anonymous when absent. */
  identity?: Identity;
  /** The policy package, e.g. `todoApp.GET.todos`. */
  policyPath: string;
  /** The rules to evaluate; `["allowed"]` when absent. */
  decisions?: string[];
  /** The resource context, the policy's `input.resource`. */
  resource?: Record<string, unknown>;
}

/** Each requested decision by name, e.g. `{ allowed: true }`. */
export type Decisions = Record<string, boolean>;

/** A relationship check for {@link Lictor.check} and {@link Lictor.checks}. */
export interface CheckRequest {
  /** Who: `"user:beth@the-smiths.com"`, or a subject set such as `"group:editor#member"`. */
  subject: SubjectInput;
  /** A permission or relation of the object's type, e.g. `can_read`. */
  permission: string;
  /** On what: `"resource:todo-1"`. */
  object: ObjectInput;
}

/** A check that may also ask for the evaluation tree. */
export interface ExplainableCheckRequest extends CheckRequest {
  /** Return the tree of relations and permissions the check walked ({@link CheckResult.explanation}). */
  explain?: boolean;
}

/** One node of an explain tree; `kind` tells which of the other fields it has. */
export interface ExplainNode {
  /** What the node evaluated. */
  kind:
    | "relation"
    | "permission"
    | "union"
    | "intersection"
    | "exclusion"
    | "arrow"
    | "tuple"
    | "wildcard"
    | "subject_set"
    | "cycle";
  /** Whether it granted. */
  allowed: boolean;
  /** `type:id#relation` of a relation, permission or cycle node. */
  node?: string;
  /** The matching subject of a tuple, wildcard or subject-set node. */
  subject?: string;
  /** The relation an arrow follows. */
  via?: string;
  /** The relation or permission an arrow evaluates on each subject of `via`. */
  target?: string;
  /** What it evaluated in turn, in order. */
  children?: ExplainNode[];
}

/** Why a check answered as it did. */
export interface Explanation {
  /** The evaluation tree; absent when the check walked nothing. */
  tree: ExplainNode | undefined;
  /** The same tree as indented text, one `✓`/`✗` line per node. */
  text: string;
  /** The directory revision the check read. */
  revision: number;
}

/** The answer to {@link Lictor.check}. */
export interface CheckResult {
  allowed: boolean;
  /** Present when the request asked for `explain`. */
  explanation?: Explanation;
}

/** One answer of {@link Lictor.checks}: a bad item (unknown type, relation…) is answered in place. */
export interface BatchCheckResult {
  allowed: boolean;
  /** Why this item could not be checked (it then reads as not allowed). */
  error?: string;
}

/** A request for {@link Lictor.lookupObjects}. */
export interface LookupObjectsRequest {
  subject: SubjectInput;
  permission: string;
  /** The type of the objects to find. */
  objectType: string;
  /** At most this many ids; all when absent. */
  pageSize?: number;
  /** The `next` of the previous page. */
  after?: string;
}

/** A request for {@link Lictor.lookupSubjects}. */
export interface LookupSubjectsRequest {
  object: ObjectInput;
  permission: string;
  /** The type of the subjects to find. */
  subjectType: string;
  /** Find subject sets `subjectType:id#subjectRelation` instead of plain subjects. */
  subjectRelation?: string;
  pageSize?: number;
  after?: string;
}

/** A page of ids from a lookup. */
export interface LookupPage {
  ids: string[];
  /** Pass as `after` for the next page; `null` on the last one. */
  next: string | null;
  /** The directory revision the lookup read. */
  revision: number;
}

/** The subjects found by {@link Lictor.lookupSubjects}. */
export interface LookupSubjectsPage extends LookupPage {
  /** Subjects a wildcard admits but an exclusion takes away again. */
  excluded: string[];
}

/** How decision-tree keys are joined. */
export type PathSeparator = "dot" | "slash";

/** A request for {@link Lictor.decisionTree}. */
export interface DecisionTreeRequest {
  identity?: Identity;
  /** The package prefix to evaluate every package under, e.g. `todoApp`. */
  policyRoot: string;
  /** The rules to evaluate in each package; `["allowed"]` when absent. */
  decisions?: string[];
  resource?: Record<string, unknown>;
  /** `dot` (`todoApp.GET.todos`, the default) or `slash` (`todoApp/GET/todos`). */
  pathSeparator?: PathSeparator;
}

/** Every package under the root with its decisions, keyed by full path. */
export interface DecisionTree {
  pathRoot: string;
  paths: Record<string, Decisions>;
}

/** An object of the directory as stored. */
export interface DirectoryObject {
  type: string;
  id: string;
  displayName: string;
  properties: Record<string, unknown>;
  /** Pass back to {@link Lictor.setObject} to update only if nobody changed it meanwhile. */
  etag: string;
  createdAt: string | undefined;
  updatedAt: string | undefined;
}

/** An object to write with {@link Lictor.setObject}. */
export interface ObjectInit {
  type: string;
  id: string;
  displayName?: string;
  properties?: Record<string, unknown>;
  /** Write only if the stored object still has this etag. */
  etag?: string;
}

/** A relation of the directory as stored. */
export interface Relation {
  object: ObjectRef;
  relation: string;
  /** `relation` is set for a subject set (`group:editor#member`). */
  subject: SubjectRef;
  etag: string;
  createdAt: string | undefined;
  updatedAt: string | undefined;
}

/** One relation, for {@link Lictor.getRelation} and {@link Lictor.deleteRelation}. */
export interface RelationKey {
  object: ObjectInput;
  relation: string;
  subject: SubjectInput;
}

/** A relation to write with {@link Lictor.setRelation}. */
export interface RelationInit extends RelationKey {
  /** Write only if the stored relation still has this etag. */
  etag?: string;
}

/** Paging of directory listings. */
export interface PageRequest {
  pageSize?: number;
  /** The `nextPageToken` of the previous page. */
  pageToken?: string;
}

/** A filter for {@link Lictor.getRelations}; every field left out matches anything. */
export interface RelationFilter extends PageRequest {
  objectType?: string;
  objectId?: string;
  relation?: string;
  subjectType?: string;
  subjectId?: string;
  subjectRelation?: string;
}

/** A page of a directory listing. */
export interface Page<T> {
  results: T[];
  /** Pass as `pageToken` for the next page; empty on the last one. */
  nextPageToken: string;
}

/** The directory's manifest. */
export interface Manifest {
  /** The manifest's YAML source. */
  yaml: string;
  /** Its version, from the `ETag` header. */
  etag: string;
}
