# The AuthZEN interop's API gateway scenario: a gateway asks about the route (the resource's id is the
# route's template) and the HTTP method (the action), for the caller's identity. Ownership of a todo is
# left to the backend, which asks authzen.todo: here editors may reach the routes that change todos.
package authzen.gateway

default allowed := false

# The roles of the directory user the subject's identity names.
roles := {role | some role in input.user.properties.roles}

known_user if input.user.id

allowed if {
	input.action.name == "GET"
	input.resource.id in {"/users/{userId}", "/todos"}
	known_user
}

allowed if {
	input.action.name == "POST"
	input.resource.id == "/todos"
	some role in {"admin", "editor"}
	role in roles
}

allowed if {
	input.action.name in {"PUT", "DELETE"}
	input.resource.id == "/todos/{todoId}"
	some role in {"admin", "editor", "evil_genius"}
	role in roles
}
