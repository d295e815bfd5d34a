"""The REST calls, independent of how they are sent: each builds a :class:`Call` that the sync and
async clients send and whose ``parse`` reads the answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Sequence, Tuple, TypeVar
from urllib.parse import quote

import httpx

from ._errors import LictorError, StatusCode
from ._models import (
    CheckResult,
    DirectoryObject,
    Explanation,
    Identity,
    IdentityLike,
    IdentityType,
    Lookup,
    Manifest,
    Page,
    RefLike,
    Relation,
    ExplainNode,
    to_ref,
)

T = TypeVar("T")

DecisionTree = Dict[str, Dict[str, bool]]
"""Full policy path -> decision name -> outcome."""

_SEPARATORS = {"dot": "PATH_SEPARATOR_DOT", "slash": "PATH_SEPARATOR_SLASH"}

REVISION_HEADER = "x-lictor-revision"
"""The header a write's answer carries the directory revision that holds it in."""
MIN_REVISION_HEADER = "x-lictor-min-revision"
"""The header a request names the directory revision it must see in."""
_MAX_REVISION = 2**64 - 1

# HTTP statuses of answers without a JSON error body (e.g. from a proxy), as gRPC codes.
_HTTP_CODES = {
    400: StatusCode.INVALID_ARGUMENT,
    401: StatusCode.UNAUTHENTICATED,
    403: StatusCode.PERMISSION_DENIED,
    404: StatusCode.NOT_FOUND,
    409: StatusCode.ABORTED,
    429: StatusCode.RESOURCE_EXHAUSTED,
    501: StatusCode.UNIMPLEMENTED,
    502: StatusCode.UNAVAILABLE,
    503: StatusCode.UNAVAILABLE,
    504: StatusCode.DEADLINE_EXCEEDED,
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and the reader of its successful answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: Optional[Dict[str, str]] = None
    content: Optional[bytes] = None
    headers: Dict[str, str] = field(default_factory=dict)

    def send_args(self, request_id: str, min_revision: Optional[int] = None) -> Dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request``, sending ``request_id`` as ``x-request-id``
        and ``min_revision``, when given, as ``x-lictor-min-revision``.

        Raises:
            TypeError, ValueError: ``min_revision`` is not a non-negative integer.
        """
        headers = {**self.headers, "x-request-id": request_id}
        if min_revision is not None:
            headers[MIN_REVISION_HEADER] = str(check_min_revision(min_revision))
        args: Dict[str, Any] = {"params": self.params, "headers": headers}
        if self.content is not None:
            args["content"] = self.content
        elif self.json is not None:
            args["json"] = self.json
        return args


def check_min_revision(min_revision: int) -> int:
    """Checks a ``min_revision`` argument: a revision number, as a write answered it."""
    if isinstance(min_revision, bool) or not isinstance(min_revision, int):
        raise TypeError(f"min_revision must be an int (the revision of a write), got {type(min_revision).__name__}")
    if not 0 <= min_revision <= _MAX_REVISION:
        raise ValueError(f"min_revision must be a non-negative integer (the revision of a write), got {min_revision!r}")
    return min_revision


def revision_of(response: httpx.Response) -> int:
    """The revision a write's answer names in ``x-lictor-revision``; 0 when it names none."""
    value = response.headers.get(REVISION_HEADER, "").strip()
    return int(value) if value.isascii() and value.isdigit() else 0


def _operation(response: httpx.Response) -> str:
    return f"{response.request.method} {response.request.url.path}"


def error_from_response(response: httpx.Response) -> LictorError:
    """The error an unsuccessful answer stands for."""
    request_id = response.headers.get("x-request-id")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        return LictorError(
            body["code"],
            str(body.get("message", "")),
            operation=_operation(response),
            request_id=request_id,
            status=response.status_code,
            details=body.get("details") or [],
        )
    text = response.text.strip()[:200]
    return LictorError(
        _HTTP_CODES.get(response.status_code, StatusCode.UNKNOWN),
        f"HTTP {response.status_code}" + (f": {text}" if text else ""),
        operation=_operation(response),
        request_id=request_id,
        status=response.status_code,
    )


def _json(response: httpx.Response) -> Dict[str, Any]:
    try:
        data = response.json()
    except ValueError as e:
        raise LictorError(
            StatusCode.INTERNAL,
            "the answer is not JSON",
            operation=_operation(response),
            request_id=response.headers.get("x-request-id"),
            status=response.status_code,
        ) from e
    if not isinstance(data, dict):
        raise LictorError(
            StatusCode.INTERNAL,
            "the answer is not a JSON object",
            operation=_operation(response),
            request_id=response.headers.get("x-request-id"),
            status=response.status_code,
        )
    return data


def _nonempty(value: str, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _decisions(decisions: Sequence[str]) -> List[str]:
    if isinstance(decisions, str):
        raise TypeError("decisions must be a sequence of decision names, not a string")
    names = list(decisions)
    if not names:
        raise ValueError("decisions must name at least one decision")
    for d in names:
        _nonempty(d, "decisions")
    return names


def identity_context(identity: IdentityLike) -> Dict[str, str]:
    """The ``identity_context`` of an identity argument."""
    if identity is None:
        identity = Identity.anonymous()
    elif isinstance(identity, str):
        identity = Identity.sub(_nonempty(identity, "identity"))
    elif not isinstance(identity, Identity):
        raise TypeError(f"identity must be an Identity, a subject string or None, got {type(identity).__name__}")
    if identity.type is not IdentityType.NONE and not identity.value:
        raise ValueError(f"identity: {identity.type.value} needs a value")
    return {"type": identity.type.value, "identity": identity.value}


def _resource(resource: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    if resource is None:
        return {}
    if not isinstance(resource, Mapping):
        raise TypeError(f"resource must be a mapping, got {type(resource).__name__}")
    return dict(resource)


def is_(
    identity: IdentityLike,
    policy_path: str,
    decisions: Sequence[str],
    resource: Optional[Mapping[str, Any]],
) -> Call[Dict[str, bool]]:
    """``POST /api/v2/authz/is``: the outcome of each named decision."""
    names = _decisions(decisions)

    def parse(response: httpx.Response) -> Dict[str, bool]:
        outcomes = {str(d.get("decision")): bool(d.get("is")) for d in _json(response).get("decisions") or []}
        # A decision the answer leaves out did not grant: fail closed.
        return {name: outcomes.get(name, False) for name in names}

    return Call(
        "POST",
        "/api/v2/authz/is",
        parse,
        json={
            "identity_context": identity_context(identity),
            "policy_context": {"path": _nonempty(policy_path, "policy_path"), "decisions": names},
            "resource_context": _resource(resource),
        },
    )


def decision_tree(
    identity: IdentityLike,
    policy_root: str,
    decisions: Optional[Sequence[str]],
    resource: Optional[Mapping[str, Any]],
    separator: str,
) -> Call[DecisionTree]:
    """``POST /api/v2/authz/decisiontree``: every decision of every package under a root."""
    if separator not in _SEPARATORS:
        raise ValueError(f"separator must be 'dot' or 'slash', got {separator!r}")
    policy_context: Dict[str, Any] = {"path": _nonempty(policy_root, "policy_root")}
    if decisions is not None:
        policy_context["decisions"] = _decisions(decisions)

    def parse(response: httpx.Response) -> DecisionTree:
        paths = _json(response).get("path") or {}
        return {str(path): {str(k): bool(v) for k, v in (outcomes or {}).items()} for path, outcomes in paths.items()}

    return Call(
        "POST",
        "/api/v2/authz/decisiontree",
        parse,
        json={
            "identity_context": identity_context(identity),
            "policy_context": policy_context,
            "resource_context": _resource(resource),
            "options": {"path_separator": _SEPARATORS[separator]},
        },
    )


def _check_body(subject: RefLike, permission: str, object: RefLike, prefix: str = "") -> Dict[str, str]:
    s = to_ref(subject, name=f"{prefix}subject")
    o = to_ref(object, name=f"{prefix}object", allow_relation=False)
    return {
        "object_type": o.type,
        "object_id": o.id,
        "relation": _nonempty(permission, f"{prefix}permission"),
        "subject_type": s.type,
        "subject_id": s.id,
        "subject_relation": s.relation,
    }


def check(subject: RefLike, permission: str, object: RefLike, explain: bool) -> Call[CheckResult]:
    """``POST /api/v3/directory/check``, or ``/api/v3/lictor/explain`` with ``explain``."""
    body = _check_body(subject, permission, object)
    if not explain:
        return Call(
            "POST",
            "/api/v3/directory/check",
            lambda r: CheckResult(allowed=bool(_json(r).get("check"))),
            json=body,
        )

    def parse(response: httpx.Response) -> CheckResult:
        data = _json(response)
        tree = data.get("trace")
        return CheckResult(
            allowed=bool(data.get("allowed")),
            explanation=Explanation(
                tree=ExplainNode.from_json(tree) if isinstance(tree, dict) else None,
                text=str(data.get("text", "")),
                revision=int(data.get("revision", 0)),
            ),
        )

    return Call("POST", "/api/v3/lictor/explain", parse, json=body)


def checks(items: Sequence[Tuple[RefLike, str, RefLike]]) -> Call[List[CheckResult]]:
    """``POST /api/v3/directory/checks``: one answer per item, in order."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"checks must be a sequence of CheckItem, got {type(items).__name__}")
    bodies = []
    for i, item in enumerate(items):
        try:
            subject, permission, object = item
        except (TypeError, ValueError):
            raise TypeError(f"checks[{i}] must be a CheckItem or a (subject, permission, object) tuple") from None
        bodies.append(_check_body(subject, permission, object, prefix=f"checks[{i}]."))

    def parse(response: httpx.Response) -> List[CheckResult]:
        answers = _json(response).get("checks") or []
        if len(answers) != len(bodies):
            raise LictorError(
                StatusCode.INTERNAL,
                f"asked {len(bodies)} checks, got {len(answers)} answers",
                operation=_operation(response),
                request_id=response.headers.get("x-request-id"),
                status=response.status_code,
            )
        results = []
        for answer in answers:
            error = (answer.get("context") or {}).get("error")
            results.append(CheckResult(allowed=bool(answer.get("check")), error=str(error) if error else None))
        return results

    return Call("POST", "/api/v3/directory/checks", parse, json={"checks": bodies})


def _lookup(key: str) -> Callable[[httpx.Response], Lookup]:
    def parse(response: httpx.Response) -> Lookup:
        data = _json(response)
        return Lookup(
            type=str(data.get(key, "")),
            ids=[str(i) for i in data.get("ids") or []],
            next=data.get("next") or None,
            revision=int(data.get("revision", 0)),
            excluded=[str(i) for i in data.get("excluded") or []],
        )

    return parse


def _page_size(page_size: int) -> int:
    if not isinstance(page_size, int) or page_size < 0:
        raise ValueError(f"page_size must be a non-negative integer, got {page_size!r}")
    return page_size


def lookup_objects(
    subject: RefLike, permission: str, object_type: str, page_size: int, after: Optional[str]
) -> Call[Lookup]:
    """``POST /api/v3/lictor/lookup/objects``."""
    s = to_ref(subject, name="subject")
    return Call(
        "POST",
        "/api/v3/lictor/lookup/objects",
        _lookup("object_type"),
        json={
            "subject_type": s.type,
            "subject_id": s.id,
            "subject_relation": s.relation,
            "permission": _nonempty(permission, "permission"),
            "object_type": _nonempty(object_type, "object_type"),
            "page_size": _page_size(page_size),
            "after": after or "",
        },
    )


def lookup_subjects(
    object: RefLike,
    permission: str,
    subject_type: str,
    subject_relation: str,
    page_size: int,
    after: Optional[str],
) -> Call[Lookup]:
    """``POST /api/v3/lictor/lookup/subjects``."""
    o = to_ref(object, name="object", allow_relation=False)
    return Call(
        "POST",
        "/api/v3/lictor/lookup/subjects",
        _lookup("subject_type"),
        json={
            "object_type": o.type,
            "object_id": o.id,
            "permission": _nonempty(permission, "permission"),
            "subject_type": _nonempty(subject_type, "subject_type"),
            "subject_relation": subject_relation,
            "page_size": _page_size(page_size),
            "after": after or "",
        },
    )


def _object_path(object: RefLike) -> str:
    o = to_ref(object, name="object", allow_relation=False)
    return f"/api/v3/directory/object/{quote(o.type, safe='')}/{quote(o.id, safe='')}"


def get_object(object: RefLike) -> Call[DirectoryObject]:
    """``GET /api/v3/directory/object/{type}/{id}``."""
    return Call("GET", _object_path(object), lambda r: DirectoryObject.from_json(_json(r).get("result") or {}))


def get_objects(object_type: Optional[str], page_size: int, page_token: str) -> Call[Page[DirectoryObject]]:
    """``GET /api/v3/directory/objects``."""
    params = {"page.size": str(_page_size(page_size))}
    if object_type:
        params["object_type"] = object_type
    if page_token:
        params["page.token"] = page_token

    def parse(response: httpx.Response) -> Page[DirectoryObject]:
        data = _json(response)
        return Page(
            results=[DirectoryObject.from_json(o) for o in data.get("results") or []],
            next_page_token=str((data.get("page") or {}).get("next_token", "")),
        )

    return Call("GET", "/api/v3/directory/objects", parse, params=params)


def set_object(
    object: RefLike, display_name: str, properties: Optional[Mapping[str, Any]], etag: str
) -> Call[DirectoryObject]:
    """``POST /api/v3/directory/object``."""
    o = to_ref(object, name="object", allow_relation=False)
    if properties is not None and not isinstance(properties, Mapping):
        raise TypeError(f"properties must be a mapping, got {type(properties).__name__}")
    body = {
        "type": o.type,
        "id": o.id,
        "display_name": display_name,
        "properties": dict(properties or {}),
        "etag": etag,
    }
    return Call(
        "POST",
        "/api/v3/directory/object",
        lambda r: DirectoryObject.from_json(_json(r).get("result") or {}, revision=revision_of(r)),
        json={"object": body},
    )


def delete_object(object: RefLike, with_relations: bool) -> Call[int]:
    """``DELETE /api/v3/directory/object/{type}/{id}``; parses the revision that holds the deletion."""
    params = {"with_relations": "true"} if with_relations else None
    return Call("DELETE", _object_path(object), revision_of, params=params)


def _relation_key(object: RefLike, relation: str, subject: RefLike) -> Dict[str, str]:
    o = to_ref(object, name="object", allow_relation=False)
    s = to_ref(subject, name="subject")
    return {
        "object_type": o.type,
        "object_id": o.id,
        "relation": _nonempty(relation, "relation"),
        "subject_type": s.type,
        "subject_id": s.id,
        "subject_relation": s.relation,
    }


def get_relation(object: RefLike, relation: str, subject: RefLike) -> Call[Relation]:
    """``GET /api/v3/directory/relation``."""
    return Call(
        "GET",
        "/api/v3/directory/relation",
        lambda r: Relation.from_json(_json(r).get("result") or {}),
        params=_relation_key(object, relation, subject),
    )


def get_relations(filters: Mapping[str, str], page_size: int, page_token: str) -> Call[Page[Relation]]:
    """``GET /api/v3/directory/relations`` with the non-empty filters."""
    params = {k: v for k, v in filters.items() if v}
    params["page.size"] = str(_page_size(page_size))
    if page_token:
        params["page.token"] = page_token

    def parse(response: httpx.Response) -> Page[Relation]:
        data = _json(response)
        return Page(
            results=[Relation.from_json(r) for r in data.get("results") or []],
            next_page_token=str((data.get("page") or {}).get("next_token", "")),
        )

    return Call("GET", "/api/v3/directory/relations", parse, params=params)


def set_relation(object: RefLike, relation: str, subject: RefLike, etag: str) -> Call[Relation]:
    """``POST /api/v3/directory/relation``."""
    body = {**_relation_key(object, relation, subject), "etag": etag}
    return Call(
        "POST",
        "/api/v3/directory/relation",
        lambda r: Relation.from_json(_json(r).get("result") or {}, revision=revision_of(r)),
        json={"relation": body},
    )


def delete_relation(object: RefLike, relation: str, subject: RefLike) -> Call[int]:
    """``DELETE /api/v3/directory/relation``; parses the revision that holds the deletion."""
    return Call("DELETE", "/api/v3/directory/relation", revision_of, params=_relation_key(object, relation, subject))


def get_manifest() -> Call[Manifest]:
    """``GET /api/v3/directory/manifest``."""
    return Call(
        "GET",
        "/api/v3/directory/manifest",
        lambda r: Manifest(yaml=r.text, etag=r.headers.get("etag", "")),
    )


def _manifest_revision(response: httpx.Response) -> int:
    return revision_of(response) or int(_json(response).get("revision", 0))


def set_manifest(yaml: str) -> Call[int]:
    """``POST /api/v3/directory/manifest`` with the YAML as the body; parses the new revision (from
    ``x-lictor-revision``, else from the body)."""
    if not isinstance(yaml, str):
        raise TypeError(f"yaml must be a string, got {type(yaml).__name__}")
    return Call(
        "POST",
        "/api/v3/directory/manifest",
        _manifest_revision,
        content=yaml.encode("utf-8"),
        headers={"content-type": "application/yaml"},
    )
