# POST /todos: members of the resource creators may create todos.
package todoApp.POST.todos

import data.todoApp.common.user_can

default allowed := false

allowed if user_can("can_create_resource", "resource-creator", "resource-creators")

visible := true

enabled := true
