# A generic relationship check, driven entirely by the resource context:
#
#   {"object_type": "...", "object_id": "...", "relation": "relation or permission",
#    "subject_type": "optional; user unless given"}
#
# For a `user` subject the subject is the caller's resolved user; for any other subject type it is the
# caller's identity as given in the identity context (with IDENTITY_TYPE_MANUAL, any subject id).
package rebac.check

default allowed := false

subject_type := input.resource.subject_type if {
	input.resource.subject_type != ""
} else := "user"

subject_id := input.user.id if {
	subject_type == "user"
	input.user.id != ""
} else := input.identity.identity

allowed if {
	ds.check({
		"object_type": input.resource.object_type,
		"object_id": input.resource.object_id,
		"relation": input.resource.relation,
		"subject_type": subject_type,
		"subject_id": subject_id,
	})
}
