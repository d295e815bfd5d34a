# Unit tests of the demo's policies, run by `lictor test examples/demo` against the demo directory.
package todoApp.test

import rego.v1

creator(user) := {"user": {"id": user}}

todo(user, id) := {"user": {"id": user}, "resource": {"object_id": id}}

test_resource_creators_may_create_todos if {
	data.todoApp.POST.todos.allowed with input as creator("rick@the-citadel.com")
	data.todoApp.POST.todos.allowed with input as creator("summer@the-smiths.com")
}

test_others_may_not_create_todos if {
	not data.todoApp.POST.todos.allowed with input as creator("beth@the-smiths.com")
	not data.todoApp.POST.todos.allowed with input as creator("nobody@example.com")
}

test_nobody_may_change_a_todo_that_does_not_exist if {
	not data.todoApp.PUT.todos.__id.allowed with input as todo("rick@the-citadel.com", "missing")
	not data.todoApp.DELETE.todos.__id.allowed with input as todo("rick@the-citadel.com", "missing")
}

test_every_todo_route_is_visible_and_enabled if {
	every route in ["GET", "POST"] {
		data.todoApp[route].todos.visible
		data.todoApp[route].todos.enabled
	}
}
