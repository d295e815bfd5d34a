# Helpers shared by the todo application's policies.
package todoApp.common

# Whether the signed-in user holds `permission` on `object_type:object_id` in the directory.
user_can(permission, object_type, object_id) if {
	ds.check({
		"object_type": object_type,
		"object_id": object_id,
		"relation": permission,
		"subject_type": "user",
		"subject_id": input.user.id,
	})
}
