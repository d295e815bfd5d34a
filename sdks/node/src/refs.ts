import type { Identity, ObjectInput, ObjectRef, SubjectInput, SubjectRef } from "./types.js";

/** Checks a required string argument; the error names `field`. */
export function requireString(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") {
    throw new TypeError(`${field} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** An object from `"type:id"` or `{type, id}`; errors name `field`. */
export function toObjectRef(input: ObjectInput, field: string): ObjectRef {
  if (typeof input === "string") {
    const colon = input.indexOf(":");
    if (colon <= 0 || colon === input.length - 1) {
      throw new TypeError(`${field} ${JSON.stringify(input)} is not of the form "type:id"`);
    }
    return { type: input.slice(0, colon), id: input.slice(colon + 1) };
  }
  if (input === null || typeof input !== "object") {
    throw new TypeError(`${field} must be "type:id" or {type, id}, got ${JSON.stringify(input)}`);
  }
  return { type: requireString(input.type, `${field}.type`), id: requireString(input.id, `${field}.id`) };
}

/** A subject from `"type:id"`, `"type:id#relation"` or `{type, id, relation?}`; errors name `field`. */
export function toSubjectRef(input: SubjectInput, field: string): SubjectRef {
  if (typeof input === "string") {
    const hash = input.lastIndexOf("#");
    const relation = hash > input.indexOf(":") ? input.slice(hash + 1) : undefined;
    if (relation === "") {
      throw new TypeError(`${field} ${JSON.stringify(input)} has an empty relation after "#"`);
    }
    const object = toObjectRef(relation === undefined ? input : input.slice(0, hash), field);
    return relation === undefined ? object : { ...object, relation };
  }
  const object = toObjectRef(input, field);
  if (input.relation !== undefined && input.relation !== "") {
    return { ...object, relation: requireString(input.relation, `${field}.relation`) };
  }
  return object;
}

/** The authorizer's `identity_context` for an {@link Identity}; anonymous when absent. */
export function toIdentityContext(
  identity: Identity | undefined,
  field: string,
): { type: string; identity: string } {
  if (identity === undefined) return { type: "IDENTITY_TYPE_NONE", identity: "" };
  if (typeof identity === "string") {
    return { type: "IDENTITY_TYPE_SUB", identity: requireString(identity, field) };
  }
  switch (identity.type) {
    case "none":
      return { type: "IDENTITY_TYPE_NONE", identity: "" };
    case "sub":
      return { type: "IDENTITY_TYPE_SUB", identity: requireString(identity.value, `${field}.value`) };
    case "jwt":
      return { type: "IDENTITY_TYPE_JWT", identity: requireString(identity.value, `${field}.value`) };
    case "manual":
      return { type: "IDENTITY_TYPE_MANUAL", identity: requireString(identity.value, `${field}.value`) };
    default:
      throw new TypeError(
        `${field}.type must be "sub", "jwt", "manual" or "none", got ${JSON.stringify((identity as { type: unknown }).type)}`,
      );
  }
}
