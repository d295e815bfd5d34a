"""The clients: :class:`Lictor` (blocking) and :class:`AsyncLictor` (asyncio), with the same methods."""

from __future__ import annotations

import ssl
import uuid
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union

import httpx

from . import _api
from ._api import Call, DecisionTree
from ._errors import LictorConnectionError, StatusCode
from ._models import CheckResult, DirectoryObject, IdentityLike, Lookup, Manifest, Page, RefLike, Relation

T = TypeVar("T")
DEFAULT_DECISIONS = ("allowed",)


class _Base:
    """What both clients share: settings, headers, and reading answers."""

    def __init__(
        self,
        url: str,
        api_key: Optional[str],
        tenant_id: Optional[str],
        timeout: float,
        ca_file: Optional[str],
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"url must be an http:// or https:// URL, got {url!r}")
        if not timeout or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        headers = {"accept": "application/json"}
        if api_key:
            headers["authorization"] = f"basic {api_key}"
        if tenant_id:
            headers["aserto-tenant-id"] = tenant_id
        verify: Union[bool, ssl.SSLContext] = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._client_args: Dict[str, Any] = {
            "base_url": self.url,
            "headers": headers,
            "timeout": self.timeout,
            "verify": verify,
        }

    def _transport_error(self, call: Call[Any], request_id: str, error: httpx.TransportError) -> LictorConnectionError:
        if isinstance(error, httpx.TimeoutException):
            return LictorConnectionError(
                StatusCode.DEADLINE_EXCEEDED,
                f"no answer from {self.url} within {self.timeout:g}s",
                operation=f"{call.method} {call.path}",
                request_id=request_id,
            )
        return LictorConnectionError(
            StatusCode.UNAVAILABLE,
            f"cannot reach {self.url}: {str(error) or type(error).__name__}",
            operation=f"{call.method} {call.path}",
            request_id=request_id,
        )

    @staticmethod
    def _finish(call: Call[T], response: httpx.Response) -> T:
        if response.status_code >= 400:
            raise _api.error_from_response(response)
        return call.parse(response)


class Lictor(_Base):
    """A blocking client of Lictor's REST API.

    Args:
        url: the server's REST base URL, e.g. ``http://localhost:8383`` (any of Lictor's API ports).
        api_key: sent as ``authorization: basic <api_key>``; not needed when the server has no keys.
        tenant_id: sent as ``aserto-tenant-id``; the server's default tenant when ``None``.
        timeout: seconds to wait for each answer.
        ca_file: a PEM CA to trust for an ``https://`` URL (Lictor's is ``DATA_DIR/certs/ca.crt``).

    Every method takes ``request_id=``, sent as ``x-request-id`` (e.g. the id of the incoming request
    being authorized; a random one when absent), raises :class:`~lictor.LictorError` when the server
    answers with an error, and :class:`~lictor.LictorConnectionError` when no answer comes back.

    Every method also takes ``min_revision=``, a consistency token sent as ``x-lictor-min-revision``:
    the revision an earlier write answered (``set_object(...).revision``, ``set_relation(...).revision``,
    what ``delete_object``, ``delete_relation`` and ``set_manifest`` return). The server answers only
    once its copy of the directory has applied that revision, so the call sees the write on any
    replica; past its wait bound (``limits.min_revision_wait_ms``, 1000 ms by default) it fails with
    ``LictorError`` code ``UNAVAILABLE`` (HTTP 503), naming the revision. It must be a non-negative
    ``int`` (``TypeError`` / ``ValueError`` before anything is sent); ``None`` sends nothing.
    Use it as a context manager, or call :meth:`close`, to release its connections.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: Optional[str] = None,
        tenant_id: Optional[str] = None,
        timeout: float = 5.0,
        ca_file: Optional[str] = None,
    ) -> None:
        super().__init__(url, api_key, tenant_id, timeout, ca_file)
        self._http = httpx.Client(**self._client_args)

    def _send(self, call: Call[T], request_id: Optional[str], min_revision: Optional[int]) -> T:
        request_id = request_id or uuid.uuid4().hex
        args = call.send_args(request_id, min_revision)
        try:
            response = self._http.request(call.method, call.path, **args)
        except httpx.TransportError as e:
            raise self._transport_error(call, request_id, e) from e
        return self._finish(call, response)

    def close(self) -> None:
        """Closes the client's connections."""
        self._http.close()

    def __enter__(self) -> Lictor:
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    # Authorizer

    def is_(
        self,
        *,
        identity: IdentityLike,
        policy_path: str,
        decisions: Sequence[str] = DEFAULT_DECISIONS,
        resource: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Dict[str, bool]:
        """Evaluates decisions of a policy package (Topaz's ``Is``).

        Args:
            identity: who asks: an :class:`~lictor.Identity`, a subject string
                (``IDENTITY_TYPE_SUB``) or ``None`` (anonymous).
            policy_path: the package, e.g. ``todoApp.GET.todos``.
            decisions: the rules to evaluate.
            resource: the resource context, the policy's ``input.resource``.

        Returns:
            Each requested decision's outcome; a decision the policy does not define is ``False``.
        """
        return self._send(_api.is_(identity, policy_path, decisions, resource), request_id, min_revision)

    def is_allowed(
        self,
        *,
        identity: IdentityLike,
        policy_path: str,
        decisions: Sequence[str] = DEFAULT_DECISIONS,
        resource: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> bool:
        """Like :meth:`is_`, but answers whether every requested decision is true."""
        return all(
            self.is_(
                identity=identity,
                policy_path=policy_path,
                decisions=decisions,
                resource=resource,
                request_id=request_id,
                min_revision=min_revision,
            ).values()
        )

    def decision_tree(
        self,
        *,
        identity: IdentityLike,
        policy_root: str,
        decisions: Optional[Sequence[str]] = None,
        resource: Optional[Mapping[str, Any]] = None,
        separator: str = "dot",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> DecisionTree:
        """Evaluates decisions of every policy package under ``policy_root``.

        Args:
            identity: who asks, as for :meth:`is_`.
            policy_root: the root package, e.g. ``todoApp``.
            decisions: the rules to evaluate; every rule of each package when ``None``.
            resource: the resource context.
            separator: ``"dot"`` (``todoApp.GET.todos``) or ``"slash"`` (``todoApp/GET/todos``) in
                the answer's paths.

        Returns:
            Full package path -> decision -> outcome.
        """
        return self._send(
            _api.decision_tree(identity, policy_root, decisions, resource, separator), request_id, min_revision
        )

    # Relationship checks and lookups

    def check(
        self,
        *,
        subject: RefLike,
        permission: str,
        object: RefLike,
        explain: bool = False,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> CheckResult:
        """Does ``subject`` hold ``permission`` (a permission or relation) on ``object``?

        Args:
            subject: ``type:id``, or a subject set ``type:id#relation``.
            permission: the permission or relation to test.
            object: ``type:id``.
            explain: also return the evaluation tree (``result.explanation``).

        Returns:
            The answer; truthy when allowed.
        """
        return self._send(_api.check(subject, permission, object, explain), request_id, min_revision)

    def checks(
        self,
        checks: Sequence[Tuple[RefLike, str, RefLike]],
        *,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> List[CheckResult]:
        """Runs a batch of checks in one call.

        Args:
            checks: :class:`~lictor.CheckItem` values or ``(subject, permission, object)`` tuples.

        Returns:
            One answer per check, in order. A check that cannot be evaluated (e.g. an unknown type)
            answers not allowed with its ``error`` set, and does not fail the batch.
        """
        return self._send(_api.checks(checks), request_id, min_revision)

    def lookup_objects(
        self,
        *,
        subject: RefLike,
        permission: str,
        object_type: str,
        page_size: int = 0,
        after: Optional[str] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Lookup:
        """The objects of ``object_type`` on which ``subject`` holds ``permission``.

        Args:
            subject: ``type:id`` or ``type:id#relation``.
            permission: permission or relation.
            object_type: the type of the objects sought.
            page_size: the most ids to return; 0 returns them all.
            after: the ``next`` of the previous page.
        """
        return self._send(
            _api.lookup_objects(subject, permission, object_type, page_size, after), request_id, min_revision
        )

    def lookup_subjects(
        self,
        *,
        object: RefLike,
        permission: str,
        subject_type: str,
        subject_relation: str = "",
        page_size: int = 0,
        after: Optional[str] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Lookup:
        """The subjects of ``subject_type`` that hold ``permission`` on ``object``.

        Args:
            object: ``type:id``.
            permission: permission or relation.
            subject_type: the type of the subjects sought.
            subject_relation: seek subject sets ``subject_type:id#subject_relation`` instead.
            page_size: the most ids to return; 0 returns them all.
            after: the ``next`` of the previous page.
        """
        return self._send(
            _api.lookup_subjects(object, permission, subject_type, subject_relation, page_size, after),
            request_id,
            min_revision,
        )

    # Directory

    def get_object(
        self,
        object: RefLike,
        *,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> DirectoryObject:
        """The object ``type:id``; raises ``LictorError`` with code ``NOT_FOUND`` if absent."""
        return self._send(_api.get_object(object), request_id, min_revision)

    def get_objects(
        self,
        *,
        object_type: Optional[str] = None,
        page_size: int = 0,
        page_token: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Page[DirectoryObject]:
        """One page of objects, of one type or of all types."""
        return self._send(_api.get_objects(object_type, page_size, page_token), request_id, min_revision)

    def set_object(
        self,
        object: RefLike,
        *,
        display_name: str = "",
        properties: Optional[Mapping[str, Any]] = None,
        etag: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> DirectoryObject:
        """Creates or replaces the object ``type:id``.

        Args:
            object: ``type:id``.
            display_name: human-readable name.
            properties: free-form JSON attributes.
            etag: update only if the stored object still has this etag (``FAILED_PRECONDITION``
                otherwise); empty writes unconditionally.

        Returns:
            The object as stored, its ``revision`` the directory revision that holds the write.
        """
        return self._send(_api.set_object(object, display_name, properties, etag), request_id, min_revision)

    def delete_object(
        self,
        object: RefLike,
        *,
        with_relations: bool = False,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> int:
        """Deletes the object ``type:id``, and with ``with_relations`` every relation naming it.
        Returns the directory revision that holds the deletion."""
        return self._send(_api.delete_object(object, with_relations), request_id, min_revision)

    def get_relation(
        self,
        *,
        object: RefLike,
        relation: str,
        subject: RefLike,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Relation:
        """The relation ``object#relation@subject``; ``NOT_FOUND`` if absent."""
        return self._send(_api.get_relation(object, relation, subject), request_id, min_revision)

    def get_relations(
        self,
        *,
        object_type: str = "",
        object_id: str = "",
        relation: str = "",
        subject_type: str = "",
        subject_id: str = "",
        subject_relation: str = "",
        page_size: int = 0,
        page_token: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Page[Relation]:
        """One page of the relations matching every non-empty filter."""
        filters = {
            "object_type": object_type,
            "object_id": object_id,
            "relation": relation,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "subject_relation": subject_relation,
        }
        return self._send(_api.get_relations(filters, page_size, page_token), request_id, min_revision)

    def set_relation(
        self,
        *,
        object: RefLike,
        relation: str,
        subject: RefLike,
        etag: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Relation:
        """Creates or replaces the relation ``object#relation@subject``. Returns it as stored, its
        ``revision`` the directory revision that holds the write."""
        return self._send(_api.set_relation(object, relation, subject, etag), request_id, min_revision)

    def delete_relation(
        self,
        *,
        object: RefLike,
        relation: str,
        subject: RefLike,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> int:
        """Deletes the relation ``object#relation@subject`` (deleting one that does not exist succeeds).
        Returns the directory revision that holds the deletion."""
        return self._send(_api.delete_relation(object, relation, subject), request_id, min_revision)

    def get_manifest(self, *, request_id: Optional[str] = None, min_revision: Optional[int] = None) -> Manifest:
        """The directory's manifest (YAML) and its ETag."""
        return self._send(_api.get_manifest(), request_id, min_revision)

    def set_manifest(self, yaml: str, *, request_id: Optional[str] = None, min_revision: Optional[int] = None) -> int:
        """Replaces the manifest; refused (``INVALID_ARGUMENT`` / ``FAILED_PRECONDITION``) when it
        does not parse or the stored data would not fit it. Returns the new directory revision."""
        return self._send(_api.set_manifest(yaml), request_id, min_revision)


class AsyncLictor(_Base):
    """The asyncio client of Lictor's REST API: :class:`Lictor`'s methods, as coroutines.

    Takes the same arguments as :class:`Lictor`. Use it as an async context manager, or await
    :meth:`aclose`, to release its connections.
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: Optional[str] = None,
        tenant_id: Optional[str] = None,
        timeout: float = 5.0,
        ca_file: Optional[str] = None,
    ) -> None:
        super().__init__(url, api_key, tenant_id, timeout, ca_file)
        self._http = httpx.AsyncClient(**self._client_args)

    async def _send(self, call: Call[T], request_id: Optional[str], min_revision: Optional[int]) -> T:
        request_id = request_id or uuid.uuid4().hex
        args = call.send_args(request_id, min_revision)
        try:
            response = await self._http.request(call.method, call.path, **args)
        except httpx.TransportError as e:
            raise self._transport_error(call, request_id, e) from e
        return self._finish(call, response)

    async def aclose(self) -> None:
        """Closes the client's connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncLictor:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.aclose()

    async def is_(
        self,
        *,
        identity: IdentityLike,
        policy_path: str,
        decisions: Sequence[str] = DEFAULT_DECISIONS,
        resource: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Dict[str, bool]:
        """See :meth:`Lictor.is_`."""
        return await self._send(_api.is_(identity, policy_path, decisions, resource), request_id, min_revision)

    async def is_allowed(
        self,
        *,
        identity: IdentityLike,
        policy_path: str,
        decisions: Sequence[str] = DEFAULT_DECISIONS,
        resource: Optional[Mapping[str, Any]] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> bool:
        """See :meth:`Lictor.is_allowed`."""
        outcomes = await self.is_(
            identity=identity,
            policy_path=policy_path,
            decisions=decisions,
            resource=resource,
            request_id=request_id,
            min_revision=min_revision,
        )
        return all(outcomes.values())

    async def decision_tree(
        self,
        *,
        identity: IdentityLike,
        policy_root: str,
        decisions: Optional[Sequence[str]] = None,
        resource: Optional[Mapping[str, Any]] = None,
        separator: str = "dot",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> DecisionTree:
        """See :meth:`Lictor.decision_tree`."""
        return await self._send(
            _api.decision_tree(identity, policy_root, decisions, resource, separator), request_id, min_revision
        )

    async def check(
        self,
        *,
        subject: RefLike,
        permission: str,
        object: RefLike,
        explain: bool = False,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> CheckResult:
        """See :meth:`Lictor.check`."""
        return await self._send(_api.check(subject, permission, object, explain), request_id, min_revision)

    async def checks(
        self,
        checks: Sequence[Tuple[RefLike, str, RefLike]],
        *,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> List[CheckResult]:
        """See :meth:`Lictor.checks`."""
        return await self._send(_api.checks(checks), request_id, min_revision)

    async def lookup_objects(
        self,
        *,
        subject: RefLike,
        permission: str,
        object_type: str,
        page_size: int = 0,
        after: Optional[str] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Lookup:
        """See :meth:`Lictor.lookup_objects`."""
        return await self._send(
            _api.lookup_objects(subject, permission, object_type, page_size, after), request_id, min_revision
        )

    async def lookup_subjects(
        self,
        *,
        object: RefLike,
        permission: str,
        subject_type: str,
        subject_relation: str = "",
        page_size: int = 0,
        after: Optional[str] = None,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Lookup:
        """See :meth:`Lictor.lookup_subjects`."""
        return await self._send(
            _api.lookup_subjects(object, permission, subject_type, subject_relation, page_size, after),
            request_id,
            min_revision,
        )

    async def get_object(
        self,
        object: RefLike,
        *,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> DirectoryObject:
        """See :meth:`Lictor.get_object`."""
        return await self._send(_api.get_object(object), request_id, min_revision)

    async def get_objects(
        self,
        *,
        object_type: Optional[str] = None,
        page_size: int = 0,
        page_token: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Page[DirectoryObject]:
        """See :meth:`Lictor.get_objects`."""
        return await self._send(_api.get_objects(object_type, page_size, page_token), request_id, min_revision)

    async def set_object(
        self,
        object: RefLike,
        *,
        display_name: str = "",
        properties: Optional[Mapping[str, Any]] = None,
        etag: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> DirectoryObject:
        """See :meth:`Lictor.set_object`."""
        return await self._send(_api.set_object(object, display_name, properties, etag), request_id, min_revision)

    async def delete_object(
        self,
        object: RefLike,
        *,
        with_relations: bool = False,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> int:
        """See :meth:`Lictor.delete_object`."""
        return await self._send(_api.delete_object(object, with_relations), request_id, min_revision)

    async def get_relation(
        self,
        *,
        object: RefLike,
        relation: str,
        subject: RefLike,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Relation:
        """See :meth:`Lictor.get_relation`."""
        return await self._send(_api.get_relation(object, relation, subject), request_id, min_revision)

    async def get_relations(
        self,
        *,
        object_type: str = "",
        object_id: str = "",
        relation: str = "",
        subject_type: str = "",
        subject_id: str = "",
        subject_relation: str = "",
        page_size: int = 0,
        page_token: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Page[Relation]:
        """See :meth:`Lictor.get_relations`."""
        filters = {
            "object_type": object_type,
            "object_id": object_id,
            "relation": relation,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "subject_relation": subject_relation,
        }
        return await self._send(_api.get_relations(filters, page_size, page_token), request_id, min_revision)

    async def set_relation(
        self,
        *,
        object: RefLike,
        relation: str,
        subject: RefLike,
        etag: str = "",
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> Relation:
        """See :meth:`Lictor.set_relation`."""
        return await self._send(_api.set_relation(object, relation, subject, etag), request_id, min_revision)

    async def delete_relation(
        self,
        *,
        object: RefLike,
        relation: str,
        subject: RefLike,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> int:
        """See :meth:`Lictor.delete_relation`."""
        return await self._send(_api.delete_relation(object, relation, subject), request_id, min_revision)

    async def get_manifest(self, *, request_id: Optional[str] = None, min_revision: Optional[int] = None) -> Manifest:
        """See :meth:`Lictor.get_manifest`."""
        return await self._send(_api.get_manifest(), request_id, min_revision)

    async def set_manifest(
        self,
        yaml: str,
        *,
        request_id: Optional[str] = None,
        min_revision: Optional[int] = None,
    ) -> int:
        """See :meth:`Lictor.set_manifest`."""
        return await self._send(_api.set_manifest(yaml), request_id, min_revision)
