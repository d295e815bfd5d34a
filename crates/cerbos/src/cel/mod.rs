//! CEL conditions with Cerbos's extension library, on the `cel` crate's interpreter.
//!
//! An [`Expr`] is compiled once (parsed, its macros expanded, identifiers checked, Cerbos's
//! request-bound functions rewritten) and evaluated many times against [`Bindings`]. A
//! [`RequestValues`] holds one request: the fields and attributes an expression names are read
//! from the request's data when evaluated, borrowed, and the whole principal, resource or
//! auxiliary data is converted at most once per request, when an expression needs it as a value.
//! [`Expr::plan`] partially evaluates a condition for PlanResources.
//!
//! # Names an expression can use
//!
//! - `request.principal` / `P`: `id`, `roles`, `attr`, `policyVersion` (also `policy_version`),
//!   `scope`; `request.resource` / `R`: `kind`, `id`, `attr`, `policyVersion`, `scope`;
//!   `request.auxData.jwt` (also `request.aux_data`);
//! - `variables` / `V`, `constants` / `C`, `globals` / `G`;
//! - `runtime.effectiveDerivedRoles` (also `effective_derived_roles`);
//! - `now()`: one instant per request (the [`RequestValues`]' clock reading), which `timeSince`
//!   also uses.
//!
//! JSON numbers are CEL doubles, as in Cerbos: `P.attr.level + 1` is an error (int + double),
//! while `==`, `<` and `in` compare ints with doubles; the set functions do not.
//!
//! # Functions
//!
//! The CEL standard library; cel-go's string, list, math, encoder, set, network (`ip`, `cidr`,
//! `isIP`, `isCIDR`, `ip.isCanonical`), regex (`regex.replace`, `regex.extract`,
//! `regex.extractAll`) and two-variable comprehension (`all`, `exists`, `existsOne`,
//! `transformList`, `transformMap`, `transformMapEntry` with two variables) extensions;
//! `cel.bind`; `json.encode`; and Cerbos's own: `hierarchy` (with `ancestorOf`, `descendentOf`,
//! `immediateChildOf`, `immediateParentOf`, `commonAncestors`, `overlaps`, `siblingOf`, `size`,
//! indexing), `inIPAddrRange`, `intersect`, `except`, `hasIntersection`, `isSubset` (and the
//! older `has_intersection`, `is_subset`), `now`, `timeSince`, `id`, the path functions
//! (`basePath`, `dirPath`, `extPath`, `joinPath`, `pathHasPrefix`, `pathMatch`, `pathMatchAnyOf`,
//! `relPath`, `volumeName`) and the SPIFFE functions (`spiffeID`, `spiffeTrustDomain`,
//! `spiffeMatchAny`, `spiffeMatchExact`, `spiffeMatchOneOf`, `spiffeMatchTrustDomain`).
//! Timestamp getters without a time zone use UTC, as in Cerbos.
//!
//! # Lictor's directory check
//!
//! `lictor.check(subject, relation, object)` asks Lictor's directory whether `subject` has
//! `relation` (a relation or permission) on `object`; subject and object are `"type:id"`
//! strings, e.g. `lictor.check("user:" + P.id, "can_read", "document:" + R.id)`. It is `false`
//! when no directory is bound to the request (see [`RelationCheck`]). The `lictor.` prefix keeps
//! it apart from every Cerbos function.

mod bindings;
mod convert;
mod deadline;
mod env;
mod expr;
mod functions;
mod hierarchy;
mod network;
mod paths;
mod plan;
mod spiffe;
mod text;

pub use ::cel::Value;
pub use bindings::{Bindings, Constants, Globals, RelationCheck, RequestValues, Variables};
pub use convert::{json_to_value, value_to_json};
pub use deadline::Deadline;
pub use expr::{CelError, EvalError, Expr};
pub use plan::{FilterExpression, Operand, PlanBindings, Residual};

#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod tests;
