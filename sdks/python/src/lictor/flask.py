"""Flask guards backed by Lictor: ``@authorize``, ``@check`` (and its gateway mode), and the display
state map blueprint. They behave as the Node SDK's Express middleware do.

Example::

    from flask import Flask, g
    from lictor import Lictor
    from lictor.flask import Authorizer

    app = Flask(__name__)
    authz = Authorizer(Lictor(url="http://localhost:8383"), policy_root="todoApp",
                       identity=lambda request: g.get("user"))   # None -> 401

    @app.get("/todos")
    @authz.authorize                                # policy todoApp.GET.todos
    def list_todos(): ...

A guard answers by itself with a JSON body ``{"error", "message"}`` (plus ``requestId`` when Lictor
gave one): 401 without an identity or when Lictor refuses it, 403 when denied, 400 when a value source
finds nothing, 503 when Lictor cannot be reached (unless ``failure_policy="open"``). The answers are
werkzeug ``HTTPException`` subclasses (:class:`GuardError`), so handlers registered with
``app.errorhandler(403)`` and the like apply. Any other failure of Lictor propagates as
:class:`~lictor.LictorError` (500 unless the app handles it).
"""

from __future__ import annotations

import functools
import json
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    NoReturn,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

import flask
from werkzeug.exceptions import HTTPException, default_exceptions

from . import _guard
from ._client import Lictor
from ._errors import LictorError
from ._guard import Denial, RequestView, ResourceSpec, ValueSource, bearer_jwt
from ._models import Identity, IdentityLike

__all__ = ["Authorizer", "GuardError", "IdentityProvider", "ResourceSpec", "ValueSource", "bearer_jwt"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

IdentityProvider = Callable[[flask.Request], IdentityLike]
"""Returns the caller's identity for a request: a subject string (``IDENTITY_TYPE_SUB``, e.g. a
verified JWT's ``sub``), an :class:`~lictor.Identity`, or ``None`` when there is none (401)."""


class GuardError(HTTPException):
    """A request answered by a guard; renders as JSON ``{"error", "message", "requestId"?}``."""

    denial: Denial

    def get_body(self, environ: Any = None, scope: Any = None) -> str:
        return json.dumps(self.denial.body())

    def get_headers(self, environ: Any = None, scope: Any = None) -> List[Tuple[str, str]]:
        headers = [("Content-Type", "application/json")]
        if self.code == 401:
            headers.append(("WWW-Authenticate", "Bearer"))
        return headers


_error_classes: Dict[int, Type[GuardError]] = {}


def _raise(denial: Denial) -> NoReturn:
    # One class per status, deriving from werkzeug's own (Forbidden, ...) so that handlers
    # registered for the status code or that class catch it.
    cls = _error_classes.get(denial.status)
    if cls is None:
        base = default_exceptions.get(denial.status, HTTPException)
        cls = type(f"Lictor{base.__name__}", (GuardError, base), {"code": denial.status})
        _error_classes[denial.status] = cls
    error = cls(description=denial.message)
    error.denial = denial
    raise error from None


def _view(request: flask.Request) -> RequestView:
    return RequestView(
        native=request,
        headers=request.headers,
        params=request.view_args or {},
        body=lambda: request.get_json(silent=True),
    )


def _route(request: flask.Request) -> str:
    rule = request.url_rule
    if rule is None:
        raise RuntimeError("lictor.flask guards must decorate a routed view")
    return rule.rule


class Authorizer:
    """Guards Flask views with Lictor decisions.

    Args:
        client: the :class:`~lictor.Lictor` client to ask.
        policy_root: the first segment of the policy paths ``@authorize`` derives, e.g. ``todoApp``,
            and the root of the display state map.
        identity: a callable of the request returning the caller's identity (see
            :data:`IdentityProvider`); by default :func:`bearer_jwt`, which hands the bearer token to
            Lictor to verify.
        failure_policy: what to do when Lictor cannot be reached or times out: ``"closed"`` (the
            default) answers 503, ``"open"`` lets the request through unauthorized, with a warning
            logged on the ``lictor`` logger.
    """

    def __init__(
        self,
        client: Lictor,
        *,
        policy_root: str,
        identity: IdentityProvider = bearer_jwt,
        failure_policy: str = "closed",
    ) -> None:
        if not isinstance(client, Lictor):
            raise TypeError(f"client must be a lictor.Lictor, got {type(client).__name__}")
        if not isinstance(policy_root, str) or not policy_root:
            raise ValueError(f"policy_root must be a non-empty string, got {policy_root!r}")
        if not callable(identity):
            raise TypeError("identity must be a callable of the request")
        self.client = client
        self.policy_root = policy_root
        self.failure_policy = _guard.check_failure_policy(failure_policy)
        self._identity = identity

    def _run(self, decide: Callable[[Identity, Optional[str]], T], failure_policy: str) -> Optional[T]:
        """Runs one authorization: the identity (none: 401), then ``decide``'s answer; a failure of
        Lictor as :func:`lictor._guard.on_error` says, ``None`` when it lets the request through."""
        try:
            identity = _guard.to_identity(self._identity(flask.request))
            request_id = _guard.request_id_of(flask.request.headers)
            try:
                return decide(identity, request_id)
            except LictorError as e:
                _guard.on_error(e, failure_policy, f"{flask.request.method} {flask.request.path}")
                return None
        except Denial as d:
            _raise(d)

    @overload
    def authorize(self, view: F) -> F: ...

    @overload
    def authorize(
        self,
        *,
        policy_path: Union[str, Callable[[flask.Request], str], None] = None,
        resource: ResourceSpec = None,
        decision: str = "allowed",
    ) -> Callable[[F], F]: ...

    def authorize(
        self,
        view: Optional[F] = None,
        *,
        policy_path: Union[str, Callable[[flask.Request], str], None] = None,
        resource: ResourceSpec = None,
        decision: str = "allowed",
    ) -> Any:
        """Decorator: lets the request through only if the policy's ``decision`` is true.

        Use it bare (``@authz.authorize``) or with arguments, below ``@app.route``.

        Args:
            policy_path: the policy to ask (a string, or a callable of the request); by default
                derived from the rule and method: ``GET /todos/<id>`` -> ``<root>.GET.todos.__id``.
            resource: fields of the resource context, over the route's parameters: a mapping of
                value sources (``{"object_id": "$param(id)"}``) or a callable of the request
                returning the mapping.
            decision: the rule that must be true.
        """
        mapper = _guard.ResourceMapper(resource)
        if not isinstance(decision, str) or not decision:
            raise ValueError(f"decision must be a non-empty string, got {decision!r}")

        def decorate(fn: F) -> F:
            def decide(identity: Identity, request_id: Optional[str]) -> None:
                request = flask.request
                if policy_path is None:
                    path = _guard.policy_path(self.policy_root, request.method, _route(request), _guard.FLASK_PARAM)
                else:
                    path = policy_path if isinstance(policy_path, str) else policy_path(request)
                outcomes = self.client.is_(
                    identity=identity,
                    policy_path=path,
                    decisions=[decision],
                    resource=_resource(mapper, request),
                    request_id=request_id,
                )
                if not outcomes[decision]:
                    raise Denial(403, "forbidden", f"denied by policy {path}")

            @functools.wraps(fn)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                self._run(decide, self.failure_policy)
                return fn(*args, **kwargs)

            return cast(F, guarded)

        return decorate(view) if view is not None else decorate

    def check(
        self,
        *,
        object_type: Optional[ValueSource] = None,
        object_id: Optional[ValueSource] = None,
        relation: Optional[ValueSource] = None,
        permission: Optional[ValueSource] = None,
        gateway: Optional[str] = None,
        policy_path: str = _guard.DEFAULT_CHECK_POLICY,
    ) -> Callable[[F], F]:
        """Decorator: lets the request through only if the caller holds ``relation`` (or
        ``permission``) on ``object_type:object_id``, as answered by ``policy_path`` (``rebac.check``,
        which resolves the caller's identity to a user).

        Each of them is a literal, a callable of the request, ``"$header(NAME)"``, ``"$param(NAME)"``
        (a route parameter) or ``"$body(a.b.c)"`` (nested keys of the JSON body); one that finds
        nothing answers 400. Gateway mode, ``gateway="<service>"`` instead of them, checks
        ``can_invoke`` on the object ``endpoint:<service>:<METHOD>:<rule>``
        (``endpoint:todo:GET:/todos/<id>``).
        """
        spec = _guard.check_spec(object_type, object_id, relation, permission, gateway, policy_path)

        def decorate(fn: F) -> F:
            def decide(identity: Identity, request_id: Optional[str]) -> None:
                request = flask.request
                view = _view(request)
                resource = {"object_type": spec.object_type.text(spec.object_type.resolve(view))}
                if spec.object_id is None:
                    resource["object_id"] = _guard.gateway_object_id(
                        cast(str, spec.gateway), request.method, _route(request)
                    )
                else:
                    resource["object_id"] = spec.object_id.text(spec.object_id.resolve(view))
                resource["relation"] = spec.relation.text(spec.relation.resolve(view))
                outcomes = self.client.is_(
                    identity=identity, policy_path=spec.policy_path, resource=resource, request_id=request_id
                )
                if not outcomes["allowed"]:
                    raise spec.denial(resource)

            @functools.wraps(fn)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                self._run(decide, self.failure_policy)
                return fn(*args, **kwargs)

            return cast(F, guarded)

        return decorate

    def display_state_map(
        self,
        url: str = "/__displaystatemap",
        *,
        decisions: Sequence[str] = ("visible", "enabled", "allowed"),
        separator: str = "slash",
        resource: Optional[Callable[[flask.Request], Optional[Mapping[str, Any]]]] = None,
        name: str = "lictor_display_state_map",
    ) -> flask.Blueprint:
        """A blueprint serving ``GET <url>``: for the caller, every policy under the root with its
        decisions, as Lictor's decision tree answers them
        (``{"todoApp/GET/todos": {"visible": true, "enabled": true, "allowed": true}, ...}``), for a
        front end to show, hide or disable what the user may not do. No identity: 401; Lictor
        unreachable: 503, whatever the failure policy (there is no map to give).

        Args:
            url: where to serve it.
            decisions: the rules evaluated in each package.
            separator: ``"slash"`` (as Aserto's display state map) or ``"dot"`` between the parts of
                each policy path.
            resource: a callable of the request returning the resource context.
            name: the blueprint's name.
        """
        if separator not in ("slash", "dot"):
            raise ValueError(f"separator must be 'slash' or 'dot', got {separator!r}")
        blueprint = flask.Blueprint(name, __name__)

        def decide(identity: Identity, request_id: Optional[str]) -> Dict[str, Dict[str, bool]]:
            return self.client.decision_tree(
                identity=identity,
                policy_root=self.policy_root,
                decisions=decisions,
                resource=_guard.called_resource(resource(flask.request)) if resource else None,
                separator=separator,
                request_id=request_id,
            )

        @blueprint.get(url)
        def display_state_map() -> flask.Response:
            # Failing closed whatever the policy: there is no map to give without Lictor.
            return flask.jsonify(self._run(decide, "closed"))

        return blueprint


def _resource(mapper: _guard.ResourceMapper, request: flask.Request) -> Dict[str, Any]:
    fields: Dict[str, Any] = dict(request.view_args or {})
    if mapper.call is not None:
        fields.update(_guard.called_resource(mapper.call(request)))
    if mapper.fields:
        view = _view(request)
        for key, source in mapper.fields.items():
            fields[key] = source.text(source.resolve(view))
    return fields
