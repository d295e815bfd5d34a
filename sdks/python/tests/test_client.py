"""The blocking client against the demo: decisions, checks, lookups, the directory, the manifest and
errors."""

from __future__ import annotations

import time
from typing import Any, Dict, Iterator, Type

import pytest
from conftest import BETH, JERRY, JWT_SECRET, MORTY, RICK, SUMMER, Server, dead_url, run_server, token

from lictor import (
    CheckItem,
    Identity,
    Lictor,
    LictorConnectionError,
    LictorError,
    Ref,
    StatusCode,
)

CREATORS = [RICK, MORTY, SUMMER]


@pytest.mark.parametrize("user", [RICK, MORTY, SUMMER, BETH, JERRY])
def test_is_allowed_follows_the_demo_policies(client: Lictor, user: str) -> None:
    assert client.is_allowed(identity=user, policy_path="todoApp.GET.todos") is True
    assert client.is_allowed(identity=user, policy_path="todoApp.POST.todos") is (user in CREATORS)


def test_is_returns_every_requested_decision(client: Lictor) -> None:
    outcomes = client.is_(
        identity=Identity.sub(BETH), policy_path="todoApp.POST.todos", decisions=["allowed", "visible", "enabled"]
    )
    assert outcomes == {"allowed": False, "visible": True, "enabled": True}
    # is_allowed wants every named decision.
    assert client.is_allowed(identity=BETH, policy_path="todoApp.GET.todos", decisions=["allowed", "visible"])
    assert not client.is_allowed(identity=BETH, policy_path="todoApp.POST.todos", decisions=["visible", "allowed"])


def test_is_an_undefined_decision_is_false(client: Lictor) -> None:
    assert client.is_(identity=BETH, policy_path="todoApp.GET.todos", decisions=["allowed", "nosuch"]) == {
        "allowed": True,
        "nosuch": False,
    }


def test_is_anonymous_is_denied(client: Lictor) -> None:
    assert client.is_allowed(identity=None, policy_path="todoApp.GET.todos") is False
    assert client.is_allowed(identity=Identity.anonymous(), policy_path="todoApp.GET.todos") is False


def test_is_with_a_resource(client: Lictor) -> None:
    client.set_object("resource:client-todo", display_name="client todo")
    client.set_relation(object="resource:client-todo", relation="owner", subject=f"user:{MORTY}")
    resource = {"object_id": "client-todo"}
    assert client.is_allowed(identity=MORTY, policy_path="todoApp.DELETE.todos.__id", resource=resource)
    assert not client.is_allowed(identity=RICK, policy_path="todoApp.DELETE.todos.__id", resource=resource)
    assert not client.is_allowed(identity=MORTY, policy_path="todoApp.DELETE.todos.__id", resource={"object_id": "x"})


def test_is_with_a_jwt_identity(client: Lictor) -> None:
    assert client.is_allowed(identity=Identity.jwt(token(RICK)), policy_path="todoApp.POST.todos")
    assert not client.is_allowed(identity=Identity.jwt(token(BETH)), policy_path="todoApp.POST.todos")
    with pytest.raises(LictorError) as e:
        client.is_allowed(
            identity=Identity.jwt(token(RICK, secret="x" * len(JWT_SECRET))), policy_path="todoApp.GET.todos"
        )
    assert e.value.code == StatusCode.UNAUTHENTICATED
    assert e.value.status == 401
    assert "signature" in e.value.message


def test_is_rebac_check_policy(client: Lictor) -> None:
    admin = {"object_type": "group", "object_id": "admin", "relation": "member"}
    assert client.is_allowed(identity=RICK, policy_path="rebac.check", resource=admin)
    assert not client.is_allowed(identity=MORTY, policy_path="rebac.check", resource=admin)


def test_decision_tree(client: Lictor) -> None:
    tree = client.decision_tree(identity=BETH, policy_root="todoApp", decisions=["allowed", "visible", "enabled"])
    visible = {"visible": True, "enabled": True}
    assert tree == {
        "todoApp.GET.todos": {"allowed": True, **visible},
        "todoApp.POST.todos": {"allowed": False, **visible},
        "todoApp.PUT.todos.__id": {"allowed": False, **visible},
        "todoApp.DELETE.todos.__id": {"allowed": False, **visible},
    }
    slash = client.decision_tree(identity=RICK, policy_root="todoApp", decisions=["allowed"], separator="slash")
    assert slash["todoApp/POST/todos"] == {"allowed": True}
    assert set(slash) == {
        "todoApp/GET/todos",
        "todoApp/POST/todos",
        "todoApp/PUT/todos/__id",
        "todoApp/DELETE/todos/__id",
    }


def test_check(client: Lictor) -> None:
    assert client.check(subject=f"user:{RICK}", permission="member", object="group:admin").allowed is True
    assert not client.check(subject=f"user:{BETH}", permission="member", object="group:admin")
    # Through nested groups: admin#member is in editor, editor#member in viewer.
    assert client.check(subject=Ref("user", RICK), permission="member", object=Ref("group", "viewer"))
    # A subject set.
    assert client.check(subject="group:admin#member", permission="member", object="group:editor")
    # Permissions through the manifest.
    assert client.check(
        subject=f"user:{SUMMER}", permission="can_create_resource", object="resource-creator:resource-creators"
    )
    assert not client.check(
        subject=f"user:{JERRY}", permission="can_create_resource", object="resource-creator:resource-creators"
    )


def test_check_explain(client: Lictor) -> None:
    result = client.check(subject=f"user:{RICK}", permission="member", object="group:editor", explain=True)
    assert result.allowed
    assert result.explanation is not None
    trace = result.explanation.tree
    assert trace is not None
    assert (trace.kind, trace.node, trace.allowed) == ("relation", "group:editor#member", True)
    assert trace.children[0].node == "group:admin#member"
    assert trace.children[0].children[0].subject == f"user:{RICK}"
    assert "group:admin#member" in result.explanation.text
    assert result.explanation.revision > 0

    missing = client.check(subject=f"user:{BETH}", permission="can_read", object="resource:nope", explain=True)
    assert not missing.allowed
    assert missing.explanation is not None and missing.explanation.tree is None


def test_checks_batch(client: Lictor) -> None:
    results = client.checks(
        [
            CheckItem(subject=f"user:{BETH}", permission="member", object="group:viewer"),
            (f"user:{BETH}", "member", "group:admin"),
            (f"user:{RICK}", "member", "group:evil_genius"),
            (f"user:{RICK}", "member", "nosuchtype:x"),
        ]
    )
    assert [r.allowed for r in results] == [True, False, True, False]
    assert [r.error for r in results[:3]] == [None, None, None]
    assert results[3].error is not None and "nosuchtype" in results[3].error
    assert client.checks([]) == []


def test_lookup_objects_pages(client: Lictor) -> None:
    everything = client.lookup_objects(subject=f"user:{RICK}", permission="member", object_type="group")
    assert everything.type == "group"
    assert everything.ids == ["admin", "editor", "evil_genius", "viewer"]
    assert everything.next is None
    first = client.lookup_objects(subject=f"user:{RICK}", permission="member", object_type="group", page_size=2)
    assert first.ids == ["admin", "editor"] and first.next is not None
    second = client.lookup_objects(
        subject=f"user:{RICK}", permission="member", object_type="group", page_size=2, after=first.next
    )
    assert second.ids == ["evil_genius", "viewer"] and second.next is None
    assert client.lookup_objects(subject=f"user:{BETH}", permission="member", object_type="group").ids == ["viewer"]


def test_lookup_subjects(client: Lictor) -> None:
    creators = client.lookup_subjects(
        object="resource-creator:resource-creators", permission="can_create_resource", subject_type="user"
    )
    assert creators.type == "user"
    assert creators.ids == sorted(CREATORS)
    assert creators.excluded == []
    viewers = client.lookup_subjects(object="group:viewer", permission="member", subject_type="user")
    assert viewers.ids == sorted([RICK, MORTY, SUMMER, BETH, JERRY])
    sets = client.lookup_subjects(
        object="group:viewer", permission="member", subject_type="group", subject_relation="member"
    )
    assert "editor" in sets.ids


def test_objects_crud(client: Lictor) -> None:
    created = client.set_object("resource:crud-1", display_name="Crud one", properties={"n": 1})
    assert (created.type, created.id, created.display_name, created.properties) == (
        "resource",
        "crud-1",
        "Crud one",
        {"n": 1},
    )
    assert created.etag and created.created_at
    fetched = client.get_object("resource:crud-1")
    assert fetched == created
    updated = client.set_object(fetched.ref, display_name="Crud 1", etag=fetched.etag)
    assert updated.display_name == "Crud 1" and updated.etag != fetched.etag
    with pytest.raises(LictorError) as stale:
        client.set_object("resource:crud-1", display_name="stale", etag=fetched.etag)
    assert stale.value.code == StatusCode.FAILED_PRECONDITION
    client.delete_object("resource:crud-1")
    with pytest.raises(LictorError) as gone:
        client.get_object("resource:crud-1")
    assert gone.value.code == StatusCode.NOT_FOUND and gone.value.status == 404
    assert "resource:crud-1" in gone.value.message


def test_object_ids_are_escaped_in_paths(client: Lictor) -> None:
    odd = "todo:GET:/todos/<id> & more?#"
    client.set_object(Ref("resource", odd))
    assert client.get_object(Ref("resource", odd)).id == odd
    client.delete_object(Ref("resource", odd))


def test_get_objects_pages(client: Lictor) -> None:
    groups = client.get_objects(object_type="group")
    assert sorted(o.id for o in groups.results) == ["admin", "editor", "evil_genius", "viewer"]
    assert groups.next_page_token == ""
    seen = []
    page = client.get_objects(object_type="group", page_size=3)
    seen += page.results
    assert page.next_page_token
    page = client.get_objects(object_type="group", page_size=3, page_token=page.next_page_token)
    seen += page.results
    assert sorted(o.id for o in seen) == ["admin", "editor", "evil_genius", "viewer"]


def test_relations_crud(client: Lictor) -> None:
    client.set_object("resource:rel-1")
    relation = client.set_relation(object="resource:rel-1", relation="writer", subject="group:editor#member")
    assert relation.subject == Ref("group", "editor", "member")
    assert relation.object == Ref("resource", "rel-1")
    assert client.get_relation(object="resource:rel-1", relation="writer", subject="group:editor#member") == relation
    assert client.check(subject=f"user:{SUMMER}", permission="can_write", object="resource:rel-1")
    listed = client.get_relations(object_type="resource", object_id="rel-1")
    assert listed.results == [relation]
    client.delete_relation(object="resource:rel-1", relation="writer", subject="group:editor#member")
    assert client.get_relations(object_type="resource", object_id="rel-1").results == []
    assert not client.check(subject=f"user:{SUMMER}", permission="can_write", object="resource:rel-1")
    with pytest.raises(LictorError) as e:
        client.get_relation(object="resource:rel-1", relation="writer", subject="group:editor#member")
    assert e.value.code == StatusCode.NOT_FOUND


def test_delete_object_with_relations(client: Lictor) -> None:
    client.set_object("resource:rel-2")
    client.set_relation(object="resource:rel-2", relation="owner", subject=f"user:{BETH}")
    client.delete_object("resource:rel-2", with_relations=True)
    assert client.get_relations(object_type="resource", object_id="rel-2").results == []


def test_manifest_get_and_set(client: Lictor) -> None:
    manifest = client.get_manifest()
    assert "resource-creator:" in manifest.yaml
    assert manifest.etag.startswith('"')
    revision = client.set_manifest(manifest.yaml)
    assert revision > 0
    assert client.get_manifest() == manifest
    with pytest.raises(LictorError) as e:
        client.set_manifest("model: {version: 3}\ntypes: {x: {relations: {a: nosuch}}}\n")
    assert e.value.code == StatusCode.INVALID_ARGUMENT
    assert "nosuch" in e.value.message
    assert client.get_manifest() == manifest


# Consistency tokens: reading your own writes.


def test_writes_answer_growing_revisions(client: Lictor) -> None:
    created = client.set_object("resource:token-1", display_name="token")
    related = client.set_relation(object="resource:token-1", relation="owner", subject=f"user:{BETH}")
    unlinked = client.delete_relation(object="resource:token-1", relation="owner", subject=f"user:{BETH}")
    deleted = client.delete_object("resource:token-1")
    assert created.revision is not None and related.revision is not None
    revisions = [created.revision, related.revision, unlinked, deleted]
    assert all(type(r) is int for r in revisions), revisions
    assert revisions[0] > 0
    assert all(a < b for a, b in zip(revisions, revisions[1:])), f"revisions do not grow: {revisions}"
    # Rewriting the manifest answers a revision that holds it, no older than the writes before it.
    assert client.set_manifest(client.get_manifest().yaml) >= deleted
    # Objects that were read carry no revision; it takes no part in comparisons.
    again = client.set_object("resource:token-1", display_name="token")
    fetched = client.get_object("resource:token-1")
    assert fetched.revision is None and again.revision is not None and again.revision > deleted
    assert fetched == again
    client.delete_object("resource:token-1")


def test_min_revision_reads_your_writes(client: Lictor) -> None:
    client.set_object("resource:token-2")
    written = client.set_relation(object="resource:token-2", relation="owner", subject=f"user:{BETH}")
    assert written.revision is not None and written.revision > 0
    token = written.revision
    assert client.check(subject=f"user:{BETH}", permission="can_delete", object="resource:token-2", min_revision=token)
    batch = client.checks([(f"user:{BETH}", "can_delete", "resource:token-2")], min_revision=token)
    assert [r.allowed for r in batch] == [True]
    owner = client.get_relation(object="resource:token-2", relation="owner", subject=f"user:{BETH}", min_revision=token)
    assert owner == written and owner.revision is None
    found = client.lookup_objects(
        subject=f"user:{BETH}", permission="can_delete", object_type="resource", min_revision=token
    )
    assert "token-2" in found.ids and found.revision >= token
    assert client.is_allowed(
        identity=BETH, policy_path="todoApp.DELETE.todos.__id", resource={"object_id": "token-2"}, min_revision=token
    )
    assert client.get_object("resource:token-2", min_revision=token).id == "token-2"
    # Every directory has applied revision 0.
    assert client.check(subject=f"user:{BETH}", permission="can_delete", object="resource:token-2", min_revision=0)
    gone = client.delete_relation(object="resource:token-2", relation="owner", subject=f"user:{BETH}")
    assert gone > token
    assert not client.check(
        subject=f"user:{BETH}", permission="can_delete", object="resource:token-2", min_revision=gone
    )
    client.delete_object("resource:token-2", with_relations=True)


def test_min_revision_not_reached_is_unavailable_after_the_wait(client: Lictor) -> None:
    ahead = client.set_object("resource:token-3").revision
    assert ahead is not None
    ahead += 1_000_000
    started = time.monotonic()
    with pytest.raises(LictorError) as e:
        client.check(subject=f"user:{BETH}", permission="can_read", object="resource:token-3", min_revision=ahead)
    waited = time.monotonic() - started
    assert not isinstance(e.value, LictorConnectionError)
    assert e.value.code == StatusCode.UNAVAILABLE and e.value.status == 503 and e.value.unavailable
    assert e.value.operation == "POST /api/v3/directory/check"
    assert f"revision {ahead} (x-lictor-min-revision) is not applied here" in e.value.message
    assert "this replica is at revision" in e.value.message
    assert waited >= 0.9, f"failed after {waited:.3f}s, before the server's 1000 ms bound"
    client.delete_object("resource:token-3")


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (-1, ValueError, "min_revision must be a non-negative integer"),
        (2**64, ValueError, "min_revision must be a non-negative integer"),
        (1.5, TypeError, "min_revision must be an int .* got float"),
        ("7", TypeError, "min_revision must be an int .* got str"),
        (True, TypeError, "min_revision must be an int .* got bool"),
    ],
)
def test_bad_min_revision_is_refused(client: Lictor, bad: Any, error: Type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        client.check(subject=f"user:{RICK}", permission="member", object="group:admin", min_revision=bad)
    with pytest.raises(error, match=message):
        client.set_object("resource:never-written", min_revision=bad)
    with pytest.raises(LictorError) as e:
        client.get_object("resource:never-written")
    assert e.value.code == StatusCode.NOT_FOUND


def test_errors_carry_code_message_and_operation(client: Lictor) -> None:
    with pytest.raises(LictorError) as e:
        client.is_(identity=BETH, policy_path="nope.nothing")
    err = e.value
    assert err.code == StatusCode.NOT_FOUND and err.status == 404 and not err.unavailable
    assert err.message == "no policy package `nope.nothing`"
    assert err.operation == "POST /api/v2/authz/is"
    assert str(err).startswith("POST /api/v2/authz/is: NOT_FOUND: no policy package")


def test_errors_carry_the_request_id_the_server_echoes(client: Lictor) -> None:
    with pytest.raises(LictorError) as e:
        client.get_object("group:no-such-group", request_id="sdk-python-test-42")
    assert e.value.code == StatusCode.NOT_FOUND and e.value.status == 404
    assert e.value.request_id == "sdk-python-test-42", "the server did not echo x-request-id on its error"
    with pytest.raises(LictorError) as generated:
        client.get_object("group:no-such-group")
    assert generated.value.code == StatusCode.NOT_FOUND and generated.value.status == 404
    assert generated.value.request_id, "the server sent no x-request-id header with its error"


def test_unknown_user_is_not_found(client: Lictor) -> None:
    with pytest.raises(LictorError) as e:
        client.is_allowed(identity="nobody@nowhere", policy_path="todoApp.GET.todos")
    assert e.value.code == StatusCode.NOT_FOUND
    assert "nobody@nowhere" in e.value.message


def test_unknown_tenant(server: Server) -> None:
    with Lictor(url=server.url, tenant_id="no-such-tenant") as c, pytest.raises(LictorError) as e:
        c.get_object("group:admin")
    assert e.value.code == StatusCode.NOT_FOUND
    assert "no-such-tenant" in e.value.message


def test_unreachable_server() -> None:
    url = dead_url()
    with Lictor(url=url, timeout=2) as c, pytest.raises(LictorConnectionError) as e:
        c.check(subject=f"user:{RICK}", permission="member", object="group:admin", request_id="sent-id")
    assert e.value.code == StatusCode.UNAVAILABLE and e.value.unavailable
    assert e.value.status is None
    assert e.value.operation == "POST /api/v3/directory/check"
    assert e.value.message.startswith(f"cannot reach {url}")
    assert e.value.request_id == "sent-id"


def test_tls_with_the_servers_ca(server: Server) -> None:
    with Lictor(url=f"https://localhost:{server.addr['authorizer-rest'].rsplit(':', 1)[1]}", ca_file=server.ca) as c:
        assert c.check(subject=f"user:{RICK}", permission="member", object="group:admin")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subject": "rick", "permission": "member", "object": "group:admin"}, "subject: expected 'type:id'"),
        ({"subject": "user:rick", "permission": "member", "object": "group"}, "object: expected 'type:id'"),
        ({"subject": "user:rick", "permission": "", "object": "group:admin"}, "permission must be a non-empty string"),
        ({"subject": "user:rick#", "permission": "member", "object": "group:admin"}, "subject: empty relation"),
    ],
)
def test_bad_arguments_name_the_input(client: Lictor, kwargs: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        client.check(**kwargs)


def test_bad_arguments_in_batches_and_constructors(client: Lictor) -> None:
    with pytest.raises(ValueError, match=r"checks\[1\]\.object"):
        client.checks([("user:a", "member", "group:b"), ("user:a", "member", "group")])
    with pytest.raises(TypeError, match="checks must be a sequence"):
        client.checks("user:a member group:b")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="decisions must name at least one"):
        client.is_(identity=BETH, policy_path="todoApp.GET.todos", decisions=[])
    with pytest.raises(ValueError, match="separator"):
        client.decision_tree(identity=BETH, policy_root="todoApp", separator="colon")
    with pytest.raises(ValueError, match="url must be an http"):
        Lictor(url="localhost:8383")


# API keys and tenants, on a server of their own that requires keys.

READ_KEY = "sdk-tests-read-only-key-0001"
ACME_KEY = "sdk-tests-acme-admin-key-0002"
KEYS_CONFIG = f"""
tenants:
  - id: acme
api_keys:
  - key: {READ_KEY}
    scopes: [read]
  - key: {ACME_KEY}
    tenant: acme
    scopes: [read, write, admin]
"""


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[Server]:
    with run_server(KEYS_CONFIG) as s:
        yield s


def test_api_keys_and_scopes(keyed_server: Server) -> None:
    with Lictor(url=keyed_server.url) as anonymous, pytest.raises(LictorError) as e:
        anonymous.get_object("group:admin")
    assert e.value.code == StatusCode.UNAUTHENTICATED and e.value.status == 401
    with Lictor(url=keyed_server.url, api_key=READ_KEY) as reader:
        assert reader.check(subject=f"user:{RICK}", permission="member", object="group:admin")
        with pytest.raises(LictorError) as denied:
            reader.set_object("resource:not-for-readers")
        assert denied.value.code == StatusCode.PERMISSION_DENIED


def test_tenant_id_selects_the_keys_tenant(keyed_server: Server) -> None:
    with Lictor(url=keyed_server.url, api_key=ACME_KEY, tenant_id="acme") as acme:
        acme.set_manifest("model: {version: 3}\ntypes:\n  user: {}\n  doc:\n    relations:\n      viewer: user\n")
        acme.set_relation(object="doc:plan", relation="viewer", subject="user:wile")
        assert acme.check(subject="user:wile", permission="viewer", object="doc:plan")
        assert acme.lookup_objects(subject="user:wile", permission="viewer", object_type="doc").ids == ["plan"]
    # A key reaches only its own tenant.
    with (
        Lictor(url=keyed_server.url, api_key=READ_KEY, tenant_id="acme") as wrong_tenant,
        pytest.raises(LictorError) as e,
    ):
        wrong_tenant.get_object("doc:plan")
    assert e.value.code == StatusCode.PERMISSION_DENIED
