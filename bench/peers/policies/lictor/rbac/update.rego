package rbac.document.update

import data.rbac.common

default allowed := false

allowed if common.allow("update", input.resource)
