# The AuthZEN interop's todo application, one package for every action (`input.action.name`):
# a known user reads users and todos; editors and admins create todos; admins and evil geniuses
# update and delete any todo, editors only the todos they own (the resource's `ownerID`).
package authzen.todo

default allowed := false

# The subject's roles, from its directory user (a request's own properties would override them).
roles := {role | some role in input.subject.properties.roles}

# The todo's owner, as a property or, in older clients, a field of the resource itself.
owner := input.resource.properties.ownerID if {
	input.resource.properties.ownerID
} else := input.resource.ownerID

known_user if input.user.id

allowed if {
	input.action.name in {"can_read_user", "can_read_todos"}
	known_user
}

allowed if {
	input.action.name == "can_create_todo"
	some role in {"admin", "editor"}
	role in roles
}

allowed if {
	input.action.name in {"can_update_todo", "can_delete_todo"}
	some role in {"admin", "evil_genius"}
	role in roles
}

allowed if {
	input.action.name in {"can_update_todo", "can_delete_todo"}
	"editor" in roles
	owner == input.subject.id
}
