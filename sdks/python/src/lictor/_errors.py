"""Errors raised by the Lictor clients."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, List, Optional, Union


class StatusCode(IntEnum):
    """gRPC status codes, which Lictor's REST errors carry in their ``code`` field."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class LictorError(Exception):
    """A call to Lictor failed.

    Attributes:
        code: the gRPC status code of the failure (a :class:`StatusCode`, or the bare number when
            the server sent one this SDK does not know).
        message: what went wrong, as the server (or the transport) put it.
        operation: the call that failed, e.g. ``POST /api/v2/authz/is``.
        request_id: the ``x-request-id`` of the failed call: the server's echo of it for an error
            answer (``None`` if the server sent none), or the id this client sent when no answer
            came back.
        status: the HTTP status of the answer; ``None`` when no answer came back.
        details: the ``details`` list of the server's error body.
    """

    def __init__(
        self,
        code: Union[StatusCode, int],
        message: str,
        *,
        operation: str = "",
        request_id: Optional[str] = None,
        status: Optional[int] = None,
        details: Optional[List[Any]] = None,
    ) -> None:
        try:
            self.code: Union[StatusCode, int] = StatusCode(code)
        except ValueError:
            self.code = code
        self.message = message
        self.operation = operation
        self.request_id = request_id
        self.status = status
        self.details: List[Any] = list(details or [])
        super().__init__(message)

    @property
    def unavailable(self) -> bool:
        """Whether Lictor could not be reached or did not answer in time."""
        return self.code in (StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED)

    def __str__(self) -> str:
        name = self.code.name if isinstance(self.code, StatusCode) else str(self.code)
        prefix = f"{self.operation}: " if self.operation else ""
        suffix = f" (request id {self.request_id})" if self.request_id else ""
        return f"{prefix}{name}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, operation={self.operation!r}, "
            f"request_id={self.request_id!r}, status={self.status!r})"
        )


class LictorConnectionError(LictorError):
    """No answer came back from Lictor: it could not be reached, or it did not answer in time.

    ``code`` is :attr:`StatusCode.UNAVAILABLE` or :attr:`StatusCode.DEADLINE_EXCEEDED` and
    ``status`` is ``None``.
    """
