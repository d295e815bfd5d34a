# DELETE /todos/{id}: only the todo's owner may delete it.
package todoApp.DELETE.todos.__id

import data.todoApp.common.user_can

default allowed := false

allowed if user_can("can_delete", "resource", input.resource.object_id)

visible := true

enabled := true
