"""Lictor's Python SDK: typed sync (:class:`Lictor`) and async (:class:`AsyncLictor`) clients of the
Lictor authorization server's REST API, with Flask (:mod:`lictor.flask`) and FastAPI
(:mod:`lictor.fastapi`) guards."""

from ._api import DecisionTree
from ._client import AsyncLictor, Lictor
from ._errors import LictorConnectionError, LictorError, StatusCode
from ._models import (
    CheckItem,
    CheckResult,
    DirectoryObject,
    ExplainNode,
    Explanation,
    Identity,
    IdentityLike,
    IdentityType,
    Lookup,
    Manifest,
    Page,
    Ref,
    RefLike,
    Relation,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncLictor",
    "CheckItem",
    "CheckResult",
    "DecisionTree",
    "DirectoryObject",
    "ExplainNode",
    "Explanation",
    "Identity",
    "IdentityLike",
    "IdentityType",
    "Lictor",
    "LictorConnectionError",
    "LictorError",
    "Lookup",
    "Manifest",
    "Page",
    "Ref",
    "RefLike",
    "Relation",
    "StatusCode",
    "__version__",
]
