# Reading, writing and deleting records over AuthZEN (`input.action.name`), for a user the directory
# knows: owners delete their records (the interop's search scenario); records with a status (the
# AuthZEN certification fixture's record-1 and record-2) are read by everyone, written by managers
# while active and by admins once archived, and soft-deleted by anyone.
package records.authzen

default allowed := false

status := input.resource.properties.status

admin if input.subject.properties.role == "admin"

admin if "admin" in input.subject.properties.roles

allowed if {
	input.user.id
	permitted
}

permitted if {
	input.action.name == "delete"
	input.resource.properties.owner == input.subject.id
}

permitted if {
	input.action.name == "read"
	status
}

permitted if {
	input.action.name == "write"
	status == "active"
	input.subject.properties.role == "manager"
}

permitted if {
	input.action.name == "write"
	status == "archived"
	admin
}

permitted if {
	input.action.name == "delete"
	status
	input.action.properties.soft == true
}
