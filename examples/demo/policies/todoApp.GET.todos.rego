# GET /todos: any signed-in user may list the todos.
package todoApp.GET.todos

default allowed := false

# The server resolves the caller's identity to a user; an unresolved caller has no user.
allowed if input.user != {}

visible := true

enabled := true
