"""FastAPI dependencies backed by Lictor: ``Depends(authz.authorize(...))``,
``Depends(authz.check(...))`` (and its gateway mode), and a display state map router. They behave as
the Node SDK's Express middleware do.

Example::

    from fastapi import Depends, FastAPI
    from lictor import AsyncLictor
    from lictor.fastapi import Authorizer

    app = FastAPI()
    authz = Authorizer(AsyncLictor(url="http://localhost:8383"), policy_root="todoApp",
                       identity=lambda request: request.state.user_sub)   # None -> 401

    @app.get("/todos", dependencies=[Depends(authz.authorize())])   # policy todoApp.GET.todos
    async def list_todos(): ...

A dependency refuses with ``fastapi.HTTPException`` (``{"detail": message}``): 401 without an
identity or when Lictor refuses it, 403 when denied, 400 when a value source finds nothing, 503 when
Lictor cannot be reached (unless ``failure_policy="open"``). Any other failure of Lictor propagates
as :class:`~lictor.LictorError` (500 unless the app handles it).
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Dict, NoReturn, Optional, Sequence, TypeVar, Union, cast

from fastapi import APIRouter, HTTPException, Request

from . import _guard
from ._client import AsyncLictor
from ._errors import LictorError
from ._guard import Denial, RequestView, ResourceSpec, ValueSource, bearer_jwt
from ._models import Identity, IdentityLike

__all__ = ["Authorizer", "Dependency", "IdentityProvider", "ResourceSpec", "ValueSource", "bearer_jwt"]

T = TypeVar("T")

IdentityProvider = Callable[[Request], Union[IdentityLike, Awaitable[IdentityLike]]]
"""Returns (or resolves to) the caller's identity for a request: a subject string
(``IDENTITY_TYPE_SUB``, e.g. a verified JWT's ``sub``), an :class:`~lictor.Identity`, or ``None``
when there is none (401)."""

Dependency = Callable[[Request], Awaitable[None]]
"""A FastAPI dependency that raises ``HTTPException`` to refuse the request."""


def _raise(denial: Denial) -> NoReturn:
    headers = {"WWW-Authenticate": "Bearer"} if denial.status == 401 else None
    raise HTTPException(status_code=denial.status, detail=denial.message, headers=headers) from None


async def _value(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _view(request: Request, reads_body: bool) -> RequestView:
    body: Any = None
    if reads_body:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
    return RequestView(native=request, headers=request.headers, params=request.path_params, body=lambda: body)


def _route(request: Request) -> str:
    path = getattr(request.scope.get("route"), "path", None)
    if not isinstance(path, str):
        raise RuntimeError("lictor.fastapi dependencies must guard a routed path operation")
    return path


async def _text(source: _guard.Source, view: RequestView) -> str:
    return source.text(await _value(source.resolve(view)))


class Authorizer:
    """Guards FastAPI path operations with Lictor decisions.

    Args:
        client: the :class:`~lictor.AsyncLictor` client to ask.
        policy_root: the first segment of the policy paths ``authorize()`` derives, e.g.
            ``todoApp``, and the root of the display state map.
        identity: a callable of the request, sync or async, returning the caller's identity (see
            :data:`IdentityProvider`); by default :func:`bearer_jwt`, which hands the bearer token to
            Lictor to verify.
        failure_policy: what to do when Lictor cannot be reached or times out: ``"closed"`` (the
            default) answers 503, ``"open"`` lets the request through unauthorized, with a warning
            logged on the ``lictor`` logger.
    """

    def __init__(
        self,
        client: AsyncLictor,
        *,
        policy_root: str,
        identity: IdentityProvider = bearer_jwt,
        failure_policy: str = "closed",
    ) -> None:
        if not isinstance(client, AsyncLictor):
            raise TypeError(f"client must be a lictor.AsyncLictor, got {type(client).__name__}")
        if not isinstance(policy_root, str) or not policy_root:
            raise ValueError(f"policy_root must be a non-empty string, got {policy_root!r}")
        if not callable(identity):
            raise TypeError("identity must be a callable of the request")
        self.client = client
        self.policy_root = policy_root
        self.failure_policy = _guard.check_failure_policy(failure_policy)
        self._identity = identity

    async def _run(
        self,
        request: Request,
        decide: Callable[[Identity, Optional[str]], Awaitable[T]],
        failure_policy: str,
    ) -> Optional[T]:
        """Runs one authorization: the identity (none: 401), then ``decide``'s answer; a failure of
        Lictor as :func:`lictor._guard.on_error` says, ``None`` when it lets the request through."""
        try:
            identity = _guard.to_identity(await _value(self._identity(request)))
            request_id = _guard.request_id_of(request.headers)
            try:
                return await decide(identity, request_id)
            except LictorError as e:
                _guard.on_error(e, failure_policy, f"{request.method} {request.url.path}")
                return None
        except Denial as d:
            _raise(d)

    def authorize(
        self,
        *,
        policy_path: Union[str, Callable[[Request], str], None] = None,
        resource: ResourceSpec = None,
        decision: str = "allowed",
    ) -> Dependency:
        """A dependency letting the request through only if the policy's ``decision`` is true.

        Args:
            policy_path: the policy to ask (a string, or a callable of the request); by default
                derived from the route and method: ``GET /todos/{id}`` -> ``<root>.GET.todos.__id``.
            resource: fields of the resource context, over the path parameters: a mapping of value
                sources (``{"object_id": "$param(id)"}``) or a callable of the request (sync or
                async) returning the mapping.
            decision: the rule that must be true.
        """
        mapper = _guard.ResourceMapper(resource)
        if not isinstance(decision, str) or not decision:
            raise ValueError(f"decision must be a non-empty string, got {decision!r}")

        async def authorize(request: Request) -> None:
            async def decide(identity: Identity, request_id: Optional[str]) -> None:
                if policy_path is None:
                    path = _guard.policy_path(self.policy_root, request.method, _route(request), _guard.STARLETTE_PARAM)
                else:
                    path = policy_path if isinstance(policy_path, str) else policy_path(request)
                outcomes = await self.client.is_(
                    identity=identity,
                    policy_path=path,
                    decisions=[decision],
                    resource=await _resource(mapper, request),
                    request_id=request_id,
                )
                if not outcomes[decision]:
                    raise Denial(403, "forbidden", f"denied by policy {path}")

            await self._run(request, decide, self.failure_policy)

        return authorize

    def check(
        self,
        *,
        object_type: Optional[ValueSource] = None,
        object_id: Optional[ValueSource] = None,
        relation: Optional[ValueSource] = None,
        permission: Optional[ValueSource] = None,
        gateway: Optional[str] = None,
        policy_path: str = _guard.DEFAULT_CHECK_POLICY,
    ) -> Dependency:
        """A dependency letting the request through only if the caller holds ``relation`` (or
        ``permission``) on ``object_type:object_id``, as answered by ``policy_path``
        (``rebac.check``, which resolves the caller's identity to a user).

        Each of them is a literal, a callable of the request (sync or async), ``"$header(NAME)"``,
        ``"$param(NAME)"`` (a path parameter) or ``"$body(a.b.c)"`` (nested keys of the JSON body);
        one that finds nothing answers 400. Gateway mode, ``gateway="<service>"`` instead of them,
        checks ``can_invoke`` on the object ``endpoint:<service>:<METHOD>:<path>``
        (``endpoint:todo:GET:/todos/{id}``).
        """
        spec = _guard.check_spec(object_type, object_id, relation, permission, gateway, policy_path)

        async def check(request: Request) -> None:
            async def decide(identity: Identity, request_id: Optional[str]) -> None:
                view = await _view(request, spec.reads_body)
                resource = {"object_type": await _text(spec.object_type, view)}
                if spec.object_id is None:
                    service = cast(str, spec.gateway)
                    resource["object_id"] = _guard.gateway_object_id(service, request.method, _route(request))
                else:
                    resource["object_id"] = await _text(spec.object_id, view)
                resource["relation"] = await _text(spec.relation, view)
                outcomes = await self.client.is_(
                    identity=identity, policy_path=spec.policy_path, resource=resource, request_id=request_id
                )
                if not outcomes["allowed"]:
                    raise spec.denial(resource)

            await self._run(request, decide, self.failure_policy)

        return check

    def display_state_map(
        self,
        url: str = "/__displaystatemap",
        *,
        decisions: Sequence[str] = ("visible", "enabled", "allowed"),
        separator: str = "slash",
        resource: Optional[Callable[[Request], Any]] = None,
    ) -> APIRouter:
        """A router serving ``GET <url>``: for the caller, every policy under the root with its
        decisions, as Lictor's decision tree answers them. No identity: 401; Lictor unreachable:
        503, whatever the failure policy (there is no map to give).

        Args:
            url: where to serve it.
            decisions: the rules evaluated in each package.
            separator: ``"slash"`` (as Aserto's display state map) or ``"dot"`` between the parts of
                each policy path.
            resource: a callable of the request (sync or async) returning the resource context.
        """
        if separator not in ("slash", "dot"):
            raise ValueError(f"separator must be 'slash' or 'dot', got {separator!r}")
        router = APIRouter()

        @router.get(url)
        async def display_state_map(request: Request) -> Optional[Dict[str, Dict[str, bool]]]:
            async def decide(identity: Identity, request_id: Optional[str]) -> Dict[str, Dict[str, bool]]:
                context = _guard.called_resource(await _value(resource(request))) if resource else None
                return await self.client.decision_tree(
                    identity=identity,
                    policy_root=self.policy_root,
                    decisions=decisions,
                    resource=context,
                    separator=separator,
                    request_id=request_id,
                )

            # Failing closed whatever the policy: there is no map to give without Lictor.
            return await self._run(request, decide, "closed")

        return router


async def _resource(mapper: _guard.ResourceMapper, request: Request) -> Dict[str, Any]:
    fields: Dict[str, Any] = dict(request.path_params)
    if mapper.call is not None:
        fields.update(_guard.called_resource(await _value(mapper.call(request))))
    if mapper.fields:
        view = await _view(request, mapper.reads_body)
        for key, source in mapper.fields.items():
            fields[key] = await _text(source, view)
    return fields
