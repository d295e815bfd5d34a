# Unit tests of the demo's generic relationship check (`rebac.check`).
package rebac.test

import rego.v1

check(user, object_type, object_id, relation) := {
	"identity": {"type": "IDENTITY_TYPE_SUB", "identity": user},
	"user": {"id": user},
	"resource": {"object_type": object_type, "object_id": object_id, "relation": relation},
}

test_group_members_are_members if {
	data.rebac.check.allowed with input as check("rick@the-citadel.com", "group", "admin", "member")
}

test_nested_group_members_are_members if {
	# viewer holds editor#member, which holds admin#member.
	data.rebac.check.allowed with input as check("rick@the-citadel.com", "group", "viewer", "member")
}

test_non_members_are_not if {
	not data.rebac.check.allowed with input as check("jerry@the-smiths.com", "group", "admin", "member")
}

test_without_a_resolved_user_the_identity_is_the_subject if {
	data.rebac.check.allowed with input as {
		"identity": {"type": "IDENTITY_TYPE_MANUAL", "identity": "rick@the-citadel.com"},
		"resource": {"object_type": "group", "object_id": "admin", "relation": "member"},
	}
}
