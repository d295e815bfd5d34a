package rbac.document.read

import data.rbac.common

default allowed := false

allowed if common.allow("read", input.resource)
