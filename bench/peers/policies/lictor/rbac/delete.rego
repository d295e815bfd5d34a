package rbac.document.delete

import data.rbac.common

default allowed := false

allowed if common.allow("delete", input.resource)
