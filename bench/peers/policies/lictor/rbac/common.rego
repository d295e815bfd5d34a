# RBAC with a role hierarchy (admin > editor > viewer) and an ABAC owner condition.
# The caller's id is the manual identity; its roles and the document's attributes come in the resource
# context, the same facts the Cerbos PDP is given in its principal and resource.
package rbac.common

# Each role and every role it inherits.
implied := {
	"admin": {"admin", "editor", "viewer"},
	"editor": {"editor", "viewer"},
	"viewer": {"viewer"},
}

has_role(role) if {
	some held in input.resource.roles
	role in implied[held]
}

is_owner if input.resource.owner == input.identity.identity

# The rules of one action, for a resource `r` (used by the single and the batch decisions).
allow(action, r) if {
	action == "read"
	has_role("viewer")
}

allow(action, r) if {
	action == "update"
	has_role("editor")
}

allow(action, r) if {
	action == "delete"
	has_role("admin")
}

allow(action, r) if {
	action in {"read", "update"}
	r.owner == input.identity.identity
}

allow(action, r) if {
	action == "delete"
	r.owner == input.identity.identity
	r.status == "draft"
}
