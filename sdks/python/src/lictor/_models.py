"""Values sent to and returned by Lictor."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Dict, Generic, List, NamedTuple, Optional, Tuple, TypeVar, Union

T = TypeVar("T")


class IdentityType(str, Enum):
    """How the authorizer reads an identity (``identity_context.type``)."""

    NONE = "IDENTITY_TYPE_NONE"
    """Anonymous: the policy sees no user."""
    SUB = "IDENTITY_TYPE_SUB"
    """A subject name (a user id or one of the user's identities), resolved to a user."""
    JWT = "IDENTITY_TYPE_JWT"
    """A JWT that Lictor verifies against its configured issuers; its ``sub`` names the user."""
    MANUAL = "IDENTITY_TYPE_MANUAL"
    """A value handed to the policy as is, with no user resolution."""


@dataclass(frozen=True)
class Identity:
    """Who is asking, as the authorizer's ``identity_context``.

    Build one with :meth:`sub`, :meth:`jwt`, :meth:`manual` or :meth:`anonymous`. Wherever an
    identity is taken, a plain string means :meth:`sub` and ``None`` means :meth:`anonymous`.
    """

    type: IdentityType
    value: str = ""

    @classmethod
    def sub(cls, subject: str) -> Identity:
        """A subject (user id or identity) that Lictor resolves to a user."""
        return cls(IdentityType.SUB, subject)

    @classmethod
    def jwt(cls, token: str) -> Identity:
        """A JWT (with or without a ``Bearer`` prefix) that Lictor verifies itself."""
        return cls(IdentityType.JWT, token)

    @classmethod
    def manual(cls, value: str) -> Identity:
        """A value passed to the policy unresolved."""
        return cls(IdentityType.MANUAL, value)

    @classmethod
    def anonymous(cls) -> Identity:
        """No identity."""
        return cls(IdentityType.NONE)


IdentityLike = Union[Identity, str, None]
"""An :class:`Identity`, a subject string (``IDENTITY_TYPE_SUB``), or ``None`` (anonymous)."""


@dataclass(frozen=True)
class Ref:
    """A directory object, or a subject set when ``relation`` is set (``group:admin#member``)."""

    type: str
    id: str
    relation: str = ""

    @classmethod
    def parse(cls, text: str, *, name: str = "ref", allow_relation: bool = True) -> Ref:
        """Parses ``type:id`` or ``type:id#relation``; the id may itself contain ``:``.

        ``name`` is the argument being parsed, used in the error message.

        Raises:
            ValueError: the text is not of that form.
        """
        type_, sep, rest = text.partition(":")
        relation = ""
        if allow_relation and "#" in rest:
            rest, _, relation = rest.rpartition("#")
            if not relation:
                raise ValueError(f"{name}: empty relation after '#' in {text!r}")
        if not sep or not type_ or not rest:
            form = "'type:id' or 'type:id#relation'" if allow_relation else "'type:id'"
            raise ValueError(f"{name}: expected {form}, got {text!r}")
        return cls(type_, rest, relation)

    def __str__(self) -> str:
        text = f"{self.type}:{self.id}"
        return f"{text}#{self.relation}" if self.relation else text


RefLike = Union[Ref, str]
"""A :class:`Ref`, or its text form ``type:id`` / ``type:id#relation``."""


def to_ref(value: RefLike, *, name: str, allow_relation: bool = True) -> Ref:
    """Reads a :data:`RefLike` argument called ``name``."""
    if isinstance(value, Ref):
        if value.relation and not allow_relation:
            raise ValueError(f"{name}: {value} names a relation; an object takes none")
        if not value.type or not value.id:
            raise ValueError(f"{name}: both type and id are required, got {value!r}")
        return value
    if isinstance(value, str):
        return Ref.parse(value, name=name, allow_relation=allow_relation)
    raise TypeError(f"{name}: expected a Ref or a 'type:id' string, got {type(value).__name__}")


class CheckItem(NamedTuple):
    """One check of a :meth:`lictor.Lictor.checks` batch; a plain 3-tuple works as well."""

    subject: RefLike
    permission: str
    object: RefLike


@dataclass(frozen=True)
class ExplainNode:
    """One step of an explained check, with the steps evaluated beneath it."""

    kind: str
    """``relation``, ``permission``, ``union``, ``intersection``, ``exclusion``, ``arrow``,
    ``tuple``, ``wildcard``, ``subject_set`` or ``cycle``."""
    allowed: bool
    node: str = ""
    """``type:id#name`` for relation, permission and cycle steps."""
    via: str = ""
    """The relation followed, for arrow steps."""
    target: str = ""
    """What each subject reached was tested for, for arrow steps."""
    subject: str = ""
    """The matching subject, for tuple, wildcard and subject-set steps."""
    children: Tuple[ExplainNode, ...] = ()

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> ExplainNode:
        """Reads the server's JSON form."""
        return cls(
            kind=str(data.get("kind", "")),
            allowed=bool(data.get("allowed", False)),
            node=str(data.get("node", "")),
            via=str(data.get("via", "")),
            target=str(data.get("target", "")),
            subject=str(data.get("subject", "")),
            children=tuple(cls.from_json(c) for c in data.get("children") or ()),
        )


@dataclass(frozen=True)
class Explanation:
    """Why a check answered as it did."""

    tree: Optional[ExplainNode]
    """The evaluation tree; ``None`` when the check walked nothing (e.g. the object does not exist)."""
    text: str
    """The tree as indented text."""
    revision: int
    """The directory revision the answer reflects."""


@dataclass(frozen=True)
class CheckResult:
    """The answer to a check. Truthy exactly when ``allowed``."""

    allowed: bool
    explanation: Optional[Explanation] = None
    """Set when the check was made with ``explain=True``."""
    error: Optional[str] = None
    """In a batch, why this one check could not be evaluated (``allowed`` is then ``False``)."""

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Lookup:
    """One page of a lookup's answer."""

    type: str
    """The type of the ids: the object type (objects lookup) or subject type (subjects lookup)."""
    ids: List[str]
    """Ids in ascending order; ``"*"`` in a subjects lookup when a wildcard grants every subject."""
    next: Optional[str]
    """Pass as ``after`` to get the next page; ``None`` on the last page."""
    revision: int
    """The directory revision the answer reflects."""
    excluded: List[str] = field(default_factory=list)
    """With a ``"*"`` answer, the subjects the wildcard does not cover."""


@dataclass(frozen=True)
class DirectoryObject:
    """An object of the directory."""

    type: str
    id: str
    display_name: str = ""
    properties: Dict[str, Any] = field(default_factory=dict)
    etag: str = ""
    created_at: str = ""
    """RFC 3339 time, set by the server."""
    updated_at: str = ""
    """RFC 3339 time, set by the server."""
    revision: Optional[int] = field(default=None, compare=False)
    """On the answer of a write (``set_object``), the directory revision that holds it (0 when the
    server sends none): pass it as ``min_revision=`` to read the write back on any replica. ``None`` on
    objects that were read; it takes no part in comparisons."""

    @classmethod
    def from_json(cls, data: Dict[str, Any], *, revision: Optional[int] = None) -> DirectoryObject:
        """Reads the server's JSON form; ``revision`` is a write's."""
        return cls(
            type=data.get("type", ""),
            id=data.get("id", ""),
            display_name=data.get("display_name", ""),
            properties=dict(data.get("properties") or {}),
            etag=data.get("etag", ""),
            created_at=data.get("created_at", ""),
            updated_at=data.get("updated_at", ""),
            revision=revision,
        )

    @property
    def ref(self) -> Ref:
        """This object as a :class:`Ref`."""
        return Ref(self.type, self.id)


@dataclass(frozen=True)
class Relation:
    """A relation of the directory: ``object#relation@subject``."""

    object_type: str
    object_id: str
    relation: str
    subject_type: str
    subject_id: str
    subject_relation: str = ""
    etag: str = ""
    created_at: str = ""
    updated_at: str = ""
    revision: Optional[int] = field(default=None, compare=False)
    """On the answer of a write (``set_relation``), the directory revision that holds it (0 when the
    server sends none): pass it as ``min_revision=`` to read the write back on any replica. ``None`` on
    relations that were read; it takes no part in comparisons."""

    @classmethod
    def from_json(cls, data: Dict[str, Any], *, revision: Optional[int] = None) -> Relation:
        """Reads the server's JSON form; ``revision`` is a write's."""
        return cls(
            object_type=data.get("object_type", ""),
            object_id=data.get("object_id", ""),
            relation=data.get("relation", ""),
            subject_type=data.get("subject_type", ""),
            subject_id=data.get("subject_id", ""),
            subject_relation=data.get("subject_relation", ""),
            etag=data.get("etag", ""),
            created_at=data.get("created_at", ""),
            updated_at=data.get("updated_at", ""),
            revision=revision,
        )

    @property
    def object(self) -> Ref:
        """The relation's object."""
        return Ref(self.object_type, self.object_id)

    @property
    def subject(self) -> Ref:
        """The relation's subject (a subject set when ``subject_relation`` is set)."""
        return Ref(self.subject_type, self.subject_id, self.subject_relation)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a directory listing."""

    results: List[T]
    next_page_token: str
    """Pass as ``page_token`` to get the next page; empty on the last page."""


@dataclass(frozen=True)
class Manifest:
    """The directory's manifest."""

    yaml: str
    """The manifest source; empty when none is set."""
    etag: str
    """The server's ETag (content hash) of the manifest, quoted as sent."""
