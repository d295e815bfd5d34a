"""What the Flask and FastAPI guards share: value sources, policy paths, gateway ids, identities, and
how Lictor's answers and failures become HTTP statuses. The behaviour follows the Node SDK's Express
middleware."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Pattern, Protocol, Union

from ._errors import LictorError
from ._models import Identity, IdentityType

logger = logging.getLogger("lictor")

ValueSource = Union[str, Callable[[Any], Any]]
"""Where a guard's value comes from: a literal string, ``"$header(NAME)"``, ``"$param(NAME)"``,
``"$body(a.b.c)"``, or a callable taking the framework's request and returning the value."""

ResourceSpec = Union[None, Mapping[str, ValueSource], Callable[[Any], Any]]
"""Fields added to a policy's resource context over the route parameters: a mapping whose values are
:data:`ValueSource` values, or a callable taking the request and returning the mapping."""

FLASK_PARAM = re.compile(r"<(?:[^<>]*:)?([^<>:]+)>")
"""A Flask rule's variable part: ``<id>``, ``<int:id>``."""
STARLETTE_PARAM = re.compile(r"\{([^{}:]+)(?::[^{}]*)?\}")
"""A Starlette/FastAPI path's parameter: ``{id}``, ``{id:int}``."""

_SOURCE = re.compile(r"^\$(header|param|body)\((.+)\)$")

FAILURE_POLICIES = ("closed", "open")
DEFAULT_CHECK_POLICY = "rebac.check"
NO_IDENTITY = "no identity: the request carries no verified user and no bearer token"
UNAVAILABLE = "the authorization service is unavailable"


class Denial(Exception):
    """A request that a guard answers itself, with the HTTP status, error name and message."""

    def __init__(self, status: int, error: str, message: str, request_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.request_id = request_id

    def body(self) -> Dict[str, str]:
        """The JSON answer: ``{"error", "message"}``, and ``requestId`` when Lictor answered with one."""
        body = {"error": self.error, "message": self.message}
        if self.request_id:
            body["requestId"] = self.request_id
        return body


class Headers(Protocol):
    """Case-insensitive request headers (werkzeug's or Starlette's)."""

    def get(self, key: str, /) -> Optional[str]:
        """The header's value, or ``None``."""


@dataclass(frozen=True)
class RequestView:
    """The parts of a framework request that value sources read."""

    native: Any
    """The framework's own request object, handed to callables."""
    headers: Headers
    params: Mapping[str, Any]
    """The route's parameters (Flask view args, Starlette path params)."""
    body: Callable[[], Any]
    """Returns the parsed JSON body, or ``None`` when the request has none."""


class Source:
    """A compiled :data:`ValueSource` of the guard option called ``name``.

    Raises:
        ValueError: at construction, for a ``$...`` string that is no known source.
        TypeError: for a source that is neither a non-empty string nor a callable.
    """

    def __init__(self, spec: ValueSource, name: str) -> None:
        self.name = name
        self.spec = spec
        self.kind = "callable" if callable(spec) else "literal"
        self.arg = ""
        self.keys: List[str] = []
        if callable(spec):
            return
        if not isinstance(spec, str) or not spec:
            raise TypeError(f"{name} must be a non-empty string or a callable of the request, got {spec!r}")
        if not spec.startswith("$"):
            return
        match = _SOURCE.match(spec)
        if not match:
            raise ValueError(f"{name} {spec!r} is not '$header(NAME)', '$param(NAME)' or '$body(a.b.c)'")
        self.kind, self.arg = match.group(1), match.group(2)
        if self.kind == "body":
            self.keys = self.arg.split(".")
            if not all(self.keys):
                raise ValueError(f"{name} {spec!r} has an empty key")

    @property
    def reads_body(self) -> bool:
        """Whether resolving needs the request's JSON body."""
        return self.kind == "body"

    def _missing(self, what: str) -> Denial:
        source = "the callable" if self.kind == "callable" else str(self.spec)
        return Denial(400, "bad_request", f"{self.name}: {source}: {what}")

    def resolve(self, view: RequestView) -> Any:
        """The raw value for this request: for a callable, whatever it returned (maybe awaitable).

        Raises:
            Denial: 400, naming the option and the missing header, parameter or body key.
        """
        if self.kind == "literal":
            return self.spec
        if self.kind == "callable":
            assert callable(self.spec)
            return self.spec(view.native)
        if self.kind == "header":
            value = view.headers.get(self.arg)
            if value is None:
                raise self._missing(f"the request has no {json.dumps(self.arg)} header")
            return value
        if self.kind == "param":
            if self.arg not in view.params:
                raise self._missing(f"the route has no {json.dumps(self.arg)} parameter")
            return view.params[self.arg]
        value = view.body()
        if not isinstance(value, dict):
            raise self._missing("the request has no JSON object body")
        for i, key in enumerate(self.keys):
            if not isinstance(value, dict) or key not in value:
                at = "the request body" if i == 0 else json.dumps(".".join(self.keys[:i]))
                raise self._missing(f"{at} has no key {json.dumps(key)}")
            value = value[key]
        return value

    def text(self, value: Any) -> str:
        """A resolved value as the non-empty string Lictor takes; numbers and booleans are written out.

        Raises:
            Denial: 400 for anything else.
        """
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, str) or not value:
            raise self._missing(f"the value is {_describe(value)}, not a non-empty string")
        return value


def _describe(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return type(value).__name__


class ResourceMapper:
    """A compiled :data:`ResourceSpec`."""

    def __init__(self, spec: ResourceSpec) -> None:
        self.call: Optional[Callable[[Any], Any]] = None
        self.fields: Dict[str, Source] = {}
        if spec is None:
            return
        if callable(spec):
            self.call = spec
        elif isinstance(spec, Mapping):
            self.fields = {str(k): Source(v, f"resource[{str(k)!r}]") for k, v in spec.items()}
        else:
            raise TypeError(f"resource must be a mapping, a callable of the request or None, got {type(spec).__name__}")

    @property
    def reads_body(self) -> bool:
        """Whether resolving needs the request's JSON body."""
        return any(s.reads_body for s in self.fields.values())


def called_resource(value: Any) -> Mapping[str, Any]:
    """What a resource callable returned, checked to be a mapping (``None`` adds nothing)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"the resource callable returned {type(value).__name__}, not a mapping")
    return value


def policy_path(root: str, method: str, route: str, param: Pattern[str]) -> str:
    """``<root>.<METHOD>.<segments>`` of a route template, each route parameter becoming ``__name``.

    ``GET /todos/<id>`` under root ``todoApp`` is ``todoApp.GET.todos.__id``.
    """
    segments = [param.sub(r"__\1", s) for s in route.split("/") if s]
    return ".".join([root, method.upper(), *segments])


def gateway_object_id(service: str, method: str, route: str) -> str:
    """The endpoint object id of gateway mode: ``{service}:{METHOD}:{route}``."""
    return f"{service}:{method.upper()}:{route}"


def to_identity(value: Any) -> Identity:
    """What an identity provider returned, as an identity to send.

    Raises:
        Denial: 401 when it returned no identity.
        TypeError: when it returned something else than ``None``, a string or an ``Identity``.
    """
    if value is None or value == "":
        raise Denial(401, "unauthenticated", NO_IDENTITY)
    if isinstance(value, str):
        return Identity.sub(value)
    if isinstance(value, Identity):
        return value
    raise TypeError(f"the identity provider returned {type(value).__name__}; expected None, a string or an Identity")


def bearer_jwt(request: Any) -> Optional[Identity]:
    """The default identity provider, for Flask and FastAPI alike: the request's
    ``Authorization: Bearer <token>`` as an ``IDENTITY_TYPE_JWT`` identity, which Lictor verifies
    against its configured issuers (``jwt.issuers``).

    ``None`` (so 401) without a bearer token; Lictor refusing the token is a 401 as well.
    """
    scheme, _, token = (request.headers.get("authorization") or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return Identity(IdentityType.JWT, token)


def check_failure_policy(policy: str) -> str:
    """Validates a ``failure_policy`` option."""
    if policy not in FAILURE_POLICIES:
        raise ValueError(f"failure_policy must be 'closed' or 'open', got {policy!r}")
    return policy


IDENTITY_REASONS = frozenset({"INVALID_JWT", "IDENTITY_NOT_FOUND"})
"""The ``google.rpc.ErrorInfo`` reasons with which Lictor refuses an identity."""


def identity_refused(error: LictorError) -> bool:
    """Whether Lictor refused the identity itself: a JWT it could not verify, or a subject no user has."""
    return any(
        isinstance(detail, dict) and detail.get("reason") in IDENTITY_REASONS for detail in error.details
    )


def on_error(error: LictorError, failure_policy: str, what: str) -> None:
    """Handles a failed call to Lictor made by a guard; returns only to let the request through.

    Raises:
        Denial: 503 when Lictor is unreachable or timed out (unless ``failure_policy`` is ``"open"``);
            401 when Lictor refused the identity.
        LictorError: any other failure, unchanged, for the framework to answer (500).
    """
    if error.unavailable:
        if failure_policy == "open":
            logger.warning("lictor: %s: letting the request through: %s", what, error)
            return
        logger.error("lictor: %s: %s", what, error)
        raise Denial(503, "authorizer_unavailable", UNAVAILABLE, error.request_id) from error
    if identity_refused(error):
        raise Denial(
            401, "unauthenticated", f"the authorizer refused the identity: {error.message}", error.request_id
        ) from error
    raise error


@dataclass(frozen=True)
class CheckSpec:
    """The compiled options of a ``check`` guard."""

    object_type: Source
    object_id: Optional[Source]
    """``None`` in gateway mode, where the id is the endpoint's."""
    relation: Source
    gateway: Optional[str]
    """The service name in gateway mode."""
    policy_path: str

    @property
    def reads_body(self) -> bool:
        """Whether resolving needs the request's JSON body."""
        return any(s is not None and s.reads_body for s in (self.object_type, self.object_id, self.relation))

    def denial(self, resource: Mapping[str, str]) -> Denial:
        """The 403 of a denied check."""
        return Denial(
            403,
            "forbidden",
            f"denied by policy {self.policy_path}: no {resource['relation']} on "
            f"{resource['object_type']}:{resource['object_id']}",
        )


def check_spec(
    object_type: Optional[ValueSource],
    object_id: Optional[ValueSource],
    relation: Optional[ValueSource],
    permission: Optional[ValueSource],
    gateway: Optional[str],
    policy_path: str,
) -> CheckSpec:
    """Compiles a ``check`` guard's options, refusing missing or conflicting ones by name."""
    if not isinstance(policy_path, str) or not policy_path:
        raise ValueError(f"policy_path must be a non-empty string, got {policy_path!r}")
    if relation is not None and permission is not None:
        raise ValueError("give relation or permission, not both")
    if gateway is not None:
        given = [
            n
            for n, v in [
                ("object_type", object_type),
                ("object_id", object_id),
                ("relation", relation),
                ("permission", permission),
            ]
            if v is not None
        ]
        if given:
            raise ValueError(f"{', '.join(given)} cannot be combined with gateway")
        if not isinstance(gateway, str) or not gateway:
            raise ValueError(f"gateway must be the service's name, got {gateway!r}")
        return CheckSpec(
            Source("endpoint", "object_type"), None, Source("can_invoke", "relation"), gateway, policy_path
        )
    relation_name, relation_value = ("relation", relation) if permission is None else ("permission", permission)
    for name, value in [("object_type", object_type), ("object_id", object_id), (relation_name, relation_value)]:
        if value is None:
            alternative = " (or permission)" if name == "relation" else ""
            raise ValueError(f"{name}{alternative} is required, unless gateway is given")
    assert object_type is not None and object_id is not None and relation_value is not None
    return CheckSpec(
        Source(object_type, "object_type"),
        Source(object_id, "object_id"),
        Source(relation_value, relation_name),
        None,
        policy_path,
    )


def request_id_of(headers: Headers) -> Optional[str]:
    """The incoming request's ``x-request-id``, forwarded to Lictor so that its logs match."""
    return headers.get("x-request-id") or None
