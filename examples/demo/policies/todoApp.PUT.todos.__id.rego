# PUT /todos/{id}: the todo's owner or a writer may update it.
package todoApp.PUT.todos.__id

import data.todoApp.common.user_can

default allowed := false

allowed if user_can("can_write", "resource", input.resource.object_id)

visible := true

enabled := true
