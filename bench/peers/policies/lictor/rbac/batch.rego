# Workload (c): 50 documents x 3 actions in one request, through the query API.
package rbac.batch

import data.rbac.common

results[r.id] := {a: common.allow(a, r) | some a in ["read", "update", "delete"]} if {
	some r in input.resource.resources
}
