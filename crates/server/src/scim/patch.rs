//! SCIM PATCH (RFC 7644 section 3.5.2): `add`, `replace` and `remove` operations, with or without a
//! path, paths with value filters (`emails[type eq "work"].value`) and extension URNs, applied to a
//! resource's attributes. Operation names are read without regard to case, as Entra ID capitalizes
//! them.

use super::error::ScimError;
use super::filter::{elements, AttrPath, Filter};
use super::schema::{self, Attribute};
use serde_json::{Map, Value};

/// The PatchOp message's schema.
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations in one request.
const MAX_OPERATIONS: usize = 1000;

/// Applies a PatchOp body to `resource` (its attributes, `core` schema with `extensions`).
pub fn apply(
    core: &str,
    extensions: &[&str],
    resource: &mut Map<String, Value>,
    body: &Value,
) -> Result<(), ScimError> {
    let schemas = super::filter::field(body, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| {
        s.iter()
            .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(PATCH_OP)))
    }) {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("a PATCH body's `schemas` must list {PATCH_OP}"),
        ));
    }
    let operations = super::filter::field(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimError::bad("invalidSyntax", "a PATCH body needs an `Operations` array")
        })?;
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            "tooMany",
            format!("at most {MAX_OPERATIONS} operations are accepted in one PATCH"),
        ));
    }
    let context = Context { core, extensions };
    for (i, operation) in operations.iter().enumerate() {
        let at = |e: ScimError| ScimError {
            detail: format!("Operations[{i}]: {}", e.detail),
            ..e
        };
        let op = super::filter::field(operation, "op")
            .and_then(Value::as_str)
            .ok_or_else(|| at(ScimError::bad("invalidSyntax", "`op` is required")))?
            .to_ascii_lowercase();
        let path = super::filter::field(operation, "path")
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty());
        let value = super::filter::field(operation, "value");
        // A path that is an extension's URN names the whole extension object.
        let extension =
            path.and_then(|p| extensions.iter().find(|e| e.eq_ignore_ascii_case(p.trim())));
        if let Some(urn) = extension {
            match op.as_str() {
                "remove" => {
                    resource.retain(|key, _| !key.eq_ignore_ascii_case(urn));
                }
                "add" | "replace" => {
                    let value = value.ok_or_else(|| {
                        at(ScimError::bad(
                            "invalidValue",
                            format!("`{op}` needs a `value`"),
                        ))
                    })?;
                    // Replacing the extension replaces all of it.
                    if op == "replace" {
                        resource.retain(|key, _| !key.eq_ignore_ascii_case(urn));
                    }
                    let mut whole = Map::new();
                    whole.insert((*urn).to_string(), value.clone());
                    context
                        .set_each(resource, &Value::Object(whole), false)
                        .map_err(at)?;
                }
                other => return Err(at(unknown_op(other))),
            }
            continue;
        }
        let target = path.map(Target::parse).transpose().map_err(at)?;
        match op.as_str() {
            "add" | "replace" => {
                let value = value.ok_or_else(|| {
                    at(ScimError::bad(
                        "invalidValue",
                        format!("`{op}` needs a `value`"),
                    ))
                })?;
                let replace = op == "replace";
                match &target {
                    Some(target) => context.set(resource, target, value, replace).map_err(at)?,
                    None => context.set_each(resource, value, replace).map_err(at)?,
                }
            }
            "remove" => {
                let target = target
                    .ok_or_else(|| at(ScimError::bad("noTarget", "`remove` needs a `path`")))?;
                context.remove(resource, &target, value).map_err(at)?;
            }
            other => return Err(at(unknown_op(other))),
        }
    }
    Ok(())
}

fn unknown_op(op: &str) -> ScimError {
    ScimError::bad(
        "invalidSyntax",
        format!("`{op}` is not add, replace or remove"),
    )
}

/// A PATCH path: an attribute, an optional value filter on it, an optional sub-attribute.
struct Target {
    path: AttrPath,
    filter: Option<Filter>,
}

impl Target {
    fn parse(text: &str) -> Result<Target, ScimError> {
        let Some((attribute, rest)) = text.split_once('[') else {
            return Ok(Target {
                path: AttrPath::parse(text)?,
                filter: None,
            });
        };
        let (filter, after) = rest
            .rsplit_once(']')
            .ok_or_else(|| ScimError::bad("invalidPath", format!("`{text}`: missing `]`")))?;
        let mut path = AttrPath::parse(attribute)?;
        if path.sub.is_some() {
            return Err(ScimError::bad(
                "invalidPath",
                format!("`{text}`: a value filter applies to an attribute, not a sub-attribute"),
            ));
        }
        if let Some(sub) = after.strip_prefix('.') {
            path.sub = Some(AttrPath::parse(sub)?.attr);
        } else if !after.is_empty() {
            return Err(ScimError::bad(
                "invalidPath",
                format!("`{text}`: unexpected `{after}`"),
            ));
        }
        let filter = Filter::parse(filter).map_err(|e| ScimError::bad("invalidPath", e.detail))?;
        Ok(Target {
            path,
            filter: Some(filter),
        })
    }
}

struct Context<'a> {
    core: &'a str,
    extensions: &'a [&'a str],
}

impl Context<'_> {
    /// The definitions of the schema a path's attribute belongs to.
    fn definitions(&self, path: &AttrPath) -> Result<&'static [Attribute], ScimError> {
        match &path.schema {
            None => Ok(schema::attributes(self.core)),
            Some(urn) if self.extensions.iter().any(|e| e.eq_ignore_ascii_case(urn)) => {
                Ok(schema::attributes(urn))
            }
            Some(urn) => Err(ScimError::bad(
                "invalidPath",
                format!("`{urn}` is not a schema of this resource"),
            )),
        }
    }

    /// The object holding a path's attribute: the resource, or its extension's object.
    fn holder<'r>(
        &self,
        resource: &'r mut Map<String, Value>,
        path: &AttrPath,
        create: bool,
    ) -> Option<&'r mut Map<String, Value>> {
        let Some(urn) = &path.schema else {
            return Some(resource);
        };
        let canonical = self
            .extensions
            .iter()
            .find(|e| e.eq_ignore_ascii_case(urn))
            .map_or(urn.as_str(), |e| *e);
        let key = key_for(resource, canonical);
        if create && !resource.contains_key(&key) {
            resource.insert(key.clone(), Value::Object(Map::new()));
        }
        resource.get_mut(&key)?.as_object_mut()
    }

    /// `add` or `replace` without a path: each attribute of the value object.
    fn set_each(
        &self,
        resource: &mut Map<String, Value>,
        value: &Value,
        replace: bool,
    ) -> Result<(), ScimError> {
        let fields = value.as_object().ok_or_else(|| {
            ScimError::bad(
                "invalidValue",
                "without a `path`, `value` must be an object of attributes",
            )
        })?;
        for (name, value) in fields {
            if let Some(urn) = self
                .extensions
                .iter()
                .find(|e| e.eq_ignore_ascii_case(name))
            {
                let inner = value.as_object().ok_or_else(|| {
                    ScimError::bad("invalidValue", format!("`{urn}` must be an object"))
                })?;
                for (sub, value) in inner {
                    let target = Target {
                        path: AttrPath {
                            schema: Some((*urn).to_string()),
                            attr: sub.clone(),
                            sub: None,
                        },
                        filter: None,
                    };
                    self.set(resource, &target, value, replace)?;
                }
                continue;
            }
            if name.eq_ignore_ascii_case("schemas") {
                continue;
            }
            // `"name.givenName": "x"` as a key is a path too (as some clients send it).
            let target = Target::parse(name)?;
            self.set(resource, &target, value, replace)?;
        }
        Ok(())
    }

    fn set(
        &self,
        resource: &mut Map<String, Value>,
        target: &Target,
        value: &Value,
        replace: bool,
    ) -> Result<(), ScimError> {
        let path = &target.path;
        if path.schema.is_none()
            && ["id", "meta", "schemas"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&path.attr))
        {
            return Err(ScimError::bad(
                "mutability",
                format!("`{}` cannot be changed", path.attr),
            ));
        }
        let definitions = self.definitions(path)?;
        let definition = schema::find(definitions, &path.attr);
        if definition.is_some_and(|d| d.mutability == "readOnly") {
            return Err(ScimError::bad(
                "mutability",
                format!("`{}` is read-only", path.attr),
            ));
        }
        let canonical = definition.map_or(path.attr.as_str(), |d| d.name.as_str());
        let sub_definition = definition
            .zip(path.sub.as_deref())
            .and_then(|(d, sub)| schema::find(&d.sub_attributes, sub));
        let value = match (sub_definition, definition) {
            (Some(sub), _) => schema::shaped(sub, value),
            (None, Some(definition)) if path.sub.is_none() => schema::shaped(definition, value),
            _ => value.clone(),
        };
        let holder = self
            .holder(resource, path, true)
            .ok_or_else(|| ScimError::bad("invalidPath", "the extension is not an object"))?;
        let key = key_for(holder, canonical);
        let multi = definition.is_some_and(|d| d.multi_valued)
            || holder.get(&key).is_some_and(Value::is_array);
        if let Some(filter) = &target.filter {
            let Some(Value::Array(items)) = holder.get_mut(&key) else {
                return Err(ScimError::bad(
                    "noTarget",
                    format!("`{}` has no values to filter", path.attr),
                ));
            };
            let mut hit = false;
            for item in items.iter_mut() {
                if !filter.matches(item)? {
                    continue;
                }
                hit = true;
                match (&path.sub, item.as_object_mut()) {
                    (Some(sub), Some(fields)) => {
                        let sub_key = key_for(
                            fields,
                            sub_definition.map_or(sub.as_str(), |d| d.name.as_str()),
                        );
                        fields.insert(sub_key, value.clone());
                    }
                    (None, Some(fields)) if !replace => {
                        if let Value::Object(more) = &value {
                            for (k, v) in more {
                                fields.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    _ => *item = value.clone(),
                }
            }
            if !hit {
                return Err(ScimError::bad(
                    "noTarget",
                    format!("no value of `{}` matches the filter", path.attr),
                ));
            }
            return Ok(());
        }
        match &path.sub {
            Some(sub) => {
                let entry = holder
                    .entry(key)
                    .or_insert_with(|| Value::Object(Map::new()));
                let sub_name = sub_definition.map_or(sub.as_str(), |d| d.name.as_str());
                match entry {
                    Value::Object(fields) => {
                        let sub_key = key_for(fields, sub_name);
                        fields.insert(sub_key, value);
                    }
                    Value::Array(items) => {
                        for item in items.iter_mut().filter_map(Value::as_object_mut) {
                            let sub_key = key_for(item, sub_name);
                            item.insert(sub_key, value.clone());
                        }
                    }
                    other => {
                        return Err(ScimError::bad(
                            "invalidPath",
                            format!("`{}` has no sub-attributes, it is {other}", path.attr),
                        ))
                    }
                }
            }
            None if multi && !replace => {
                let additions: Vec<Value> = elements(&value).cloned().collect();
                let entry = holder
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !entry.is_array() {
                    *entry = Value::Array(vec![entry.clone()]);
                }
                if let Value::Array(items) = entry {
                    for addition in additions {
                        if !items.iter().any(|item| same_value(item, &addition)) {
                            items.push(addition);
                        }
                    }
                }
            }
            None if multi => {
                let items = match value {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    single => vec![single],
                };
                holder.insert(key, Value::Array(items));
            }
            None => match (holder.get_mut(&key), value) {
                // Adding to a complex attribute merges its sub-attributes.
                (Some(Value::Object(fields)), Value::Object(more)) if !replace => {
                    for (k, v) in more {
                        let sub_key = key_for(fields, &k);
                        fields.insert(sub_key, v);
                    }
                }
                (_, value) => {
                    holder.insert(key, value);
                }
            },
        }
        Ok(())
    }

    fn remove(
        &self,
        resource: &mut Map<String, Value>,
        target: &Target,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let path = &target.path;
        let definitions = self.definitions(path)?;
        let definition = schema::find(definitions, &path.attr);
        if definition.is_some_and(|d| d.mutability == "readOnly") {
            return Err(ScimError::bad(
                "mutability",
                format!("`{}` is read-only", path.attr),
            ));
        }
        if definition.is_some_and(|d| d.required) {
            return Err(ScimError::bad(
                "mutability",
                format!("`{}` is required", path.attr),
            ));
        }
        let Some(holder) = self.holder(resource, path, false) else {
            return Ok(());
        };
        let key = key_for(
            holder,
            definition.map_or(path.attr.as_str(), |d| d.name.as_str()),
        );
        match (&target.filter, &path.sub) {
            (Some(filter), sub) => {
                let Some(Value::Array(items)) = holder.get_mut(&key) else {
                    return Ok(());
                };
                let mut kept = Vec::with_capacity(items.len());
                for mut item in std::mem::take(items) {
                    if !filter.matches(&item)? {
                        kept.push(item);
                        continue;
                    }
                    if let (Some(sub), Some(fields)) = (sub, item.as_object_mut()) {
                        let sub_key = key_for(fields, sub);
                        fields.remove(&sub_key);
                        kept.push(item);
                    }
                }
                *items = kept;
                if items.is_empty() {
                    holder.remove(&key);
                }
            }
            (None, Some(sub)) => match holder.get_mut(&key) {
                Some(Value::Object(fields)) => {
                    let sub_key = key_for(fields, sub);
                    fields.remove(&sub_key);
                }
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        let sub_key = key_for(item, sub);
                        item.remove(&sub_key);
                    }
                }
                _ => {}
            },
            (None, None) => match (value, holder.get_mut(&key)) {
                // `remove members` with the members to remove as the value (Entra ID's form).
                (Some(value), Some(Value::Array(items))) if !value.is_null() => {
                    let removals: Vec<&Value> = elements(value).collect();
                    items.retain(|item| !removals.iter().any(|r| same_value(item, r)));
                    if items.is_empty() {
                        holder.remove(&key);
                    }
                }
                _ => {
                    holder.remove(&key);
                }
            },
        }
        Ok(())
    }
}

/// The key a map holds for `name` (matched without regard to case), or `name` itself.
fn key_for(fields: &Map<String, Value>, name: &str) -> String {
    fields
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// Whether two values of a multi-valued attribute are the same: equal, or with equal `value`s.
fn same_value(left: &Value, right: &Value) -> bool {
    let value = |v: &Value| super::filter::field(v, "value").cloned();
    left == right || matches!((value(left), value(right)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::scim::schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER};
    use serde_json::json;

    fn patch(resource: Value, operations: Value) -> Result<Value, ScimError> {
        let mut resource = resource.as_object().unwrap().clone();
        let body = json!({"schemas": [PATCH_OP], "Operations": operations});
        apply(CORE_USER, &[ENTERPRISE_USER], &mut resource, &body)?;
        Ok(Value::Object(resource))
    }

    fn user() -> Value {
        json!({
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work"}],
            "active": true
        })
    }

    #[test]
    fn operations_as_okta_and_entra_send_them() {
        let out = patch(
            user(),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();
        assert_eq!(out["active"], false);
        let out = patch(
            user(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .unwrap();
        assert_eq!(out["active"], false);
        let out = patch(
            user(),
            json!([{"op": "replace", "path": "name.givenName", "value": "Babs"}]),
        )
        .unwrap();
        assert_eq!(
            out["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );
        let out = patch(
            user(),
            json!([{"op": "Add", "path": "emails", "value": [{"value": "h@example.com", "type": "home"}]}]),
        )
        .unwrap();
        assert_eq!(out["emails"].as_array().unwrap().len(), 2);
        let out = patch(
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]),
        )
        .unwrap();
        assert_eq!(out["emails"][0]["value"], "new@example.com");
        let out = patch(
            user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        )
        .unwrap();
        assert!(out.get("emails").is_none(), "{out}");
        let out = patch(
            user(),
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Tour"}]),
        )
        .unwrap();
        assert_eq!(out[ENTERPRISE_USER]["department"], "Tour");
        let out = patch(
            user(),
            json!([{"op": "add", "value": {ENTERPRISE_USER: {"costCenter": "4130"}, "title": "Tour Guide"}}]),
        )
        .unwrap();
        assert_eq!(out[ENTERPRISE_USER]["costCenter"], "4130");
        assert_eq!(out["title"], "Tour Guide");
        let out = patch(
            out,
            json!([{"op": "replace", "path": ENTERPRISE_USER, "value": {"division": "Theme Park"}}]),
        )
        .unwrap();
        assert_eq!(out[ENTERPRISE_USER], json!({"division": "Theme Park"}));
        let out = patch(out, json!([{"op": "remove", "path": ENTERPRISE_USER}])).unwrap();
        assert!(out.get(ENTERPRISE_USER).is_none());
    }

    #[test]
    fn group_members_are_added_and_removed_by_value_or_filter() {
        let group = json!({"displayName": "g", "members": [{"value": "a"}, {"value": "b"}]});
        let run = |ops: Value| {
            let mut resource = group.as_object().unwrap().clone();
            let body = json!({"schemas": [PATCH_OP], "Operations": ops});
            apply(CORE_GROUP, &[], &mut resource, &body).map(|()| Value::Object(resource))
        };
        let out = run(
            json!([{"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "a"}]}]),
        )
        .unwrap();
        assert_eq!(
            out["members"],
            json!([{"value": "a"}, {"value": "b"}, {"value": "c"}])
        );
        let out = run(json!([{"op": "remove", "path": "members[value eq \"a\"]"}])).unwrap();
        assert_eq!(out["members"], json!([{"value": "b"}]));
        let out =
            run(json!([{"op": "Remove", "path": "members", "value": [{"value": "b"}]}])).unwrap();
        assert_eq!(out["members"], json!([{"value": "a"}]));
        let out = run(json!([{"op": "remove", "path": "members"}])).unwrap();
        assert!(out.get("members").is_none());
    }

    #[test]
    fn bad_operations_are_refused_naming_the_operation() {
        let error = patch(user(), json!([{"op": "remove"}])).unwrap_err();
        assert_eq!(error.scim_type, Some("noTarget"));
        assert!(
            error.detail.starts_with("Operations[0]"),
            "{}",
            error.detail
        );
        let error = patch(
            user(),
            json!([{"op": "replace", "path": "id", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type, Some("mutability"));
        let error =
            patch(user(), json!([{"op": "move", "path": "title", "value": 1}])).unwrap_err();
        assert!(error.detail.contains("move"));
        let error = patch(
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}]),
        )
        .unwrap_err();
        assert_eq!(error.scim_type, Some("noTarget"));
        let error = patch(user(), json!([{"op": "remove", "path": "userName"}])).unwrap_err();
        assert_eq!(error.scim_type, Some("mutability"));
        let mut resource = user().as_object().unwrap().clone();
        let error = apply(CORE_USER, &[], &mut resource, &json!({"Operations": []})).unwrap_err();
        assert_eq!(error.scim_type, Some("invalidSyntax"));
    }
}
