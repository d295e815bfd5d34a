"""Aserto's Python directory v3 client (gRPC, TLS with the server's CA) against lictor's demo."""

import grpc
import pytest
from aserto.client.directory.v3 import Directory, NotFoundError

from aserto.client.authorizer import AuthorizerClient
from aserto.client import AuthorizerOptions, Identity, IdentityType

RICK = "rick@the-citadel.com"
MORTY = "morty@the-citadel.com"
SUMMER = "summer@the-smiths.com"
BETH = "beth@the-smiths.com"
JERRY = "jerry@the-smiths.com"
TODO = "todo-compat-py"


@pytest.fixture(scope="module")
def ds(lictor):
    client = Directory(address=lictor.directory_grpc, ca_cert_path=lictor.ca)
    yield client
    client.close()


def can(ds, permission, user, object_id=TODO):
    return ds.check(
        object_type="resource", object_id=object_id, relation=permission, subject_type="user", subject_id=user
    )


def test_get_demo_user(ds):
    user = ds.get_object("user", RICK)
    assert (user.type, user.id) == ("user", RICK)


def test_missing_object_is_not_found(ds):
    with pytest.raises(NotFoundError):
        ds.get_object("resource", "no-such-todo")


def test_set_object_relation_check_graph(lictor, ds):
    created = ds.set_object(
        object_type="resource", object_id=TODO, display_name="py todo", properties={"title": "buy milk", "n": 2}
    )
    assert (created.type, created.id, created.display_name) == ("resource", TODO, "py todo")
    assert created.etag

    got = ds.get_object("resource", TODO)
    assert got.display_name == "py todo"
    assert dict(got.properties) == {"title": "buy milk", "n": 2}

    assert can(ds, "can_delete", MORTY) is False

    rel = ds.set_relation(
        object_type="resource", object_id=TODO, relation="owner", subject_type="user", subject_id=MORTY
    )
    assert (rel.object_type, rel.object_id, rel.relation, rel.subject_type, rel.subject_id) == (
        "resource", TODO, "owner", "user", MORTY,
    )

    assert can(ds, "can_delete", MORTY) is True
    assert can(ds, "can_delete", BETH) is False
    assert can(ds, "can_write", MORTY) is True
    assert can(ds, "can_read", MORTY) is True
    assert can(ds, "can_read", BETH) is False

    assert ds.check_relation(
        object_type="resource", object_id=TODO, relation="owner", subject_type="user", subject_id=MORTY
    ) is True

    got_rel = ds.get_relation(
        object_type="resource", object_id=TODO, relation="owner", subject_type="user", subject_id=MORTY
    )
    assert got_rel.subject_id == MORTY

    listed = ds.get_relations(object_type="resource", object_id=TODO)
    assert [(r.relation, r.subject_id) for r in listed.relations] == [("owner", MORTY)]

    subjects = ds.find_subjects(object_type="resource", object_id=TODO, relation="can_delete", subject_type="user")
    assert [(s.type, s.id) for s in subjects.results] == [("user", MORTY)]

    objects = ds.find_objects(object_type="resource", relation="owner", subject_type="user", subject_id=MORTY)
    assert ("resource", TODO) in [(o.type, o.id) for o in objects.results]

    # A group#member writer: editor's members (summer, and rick through admin#member) can write.
    ds.set_relation(
        object_type="resource", object_id=TODO, relation="writer",
        subject_type="group", subject_id="editor", subject_relation="member",
    )
    assert can(ds, "can_write", SUMMER) is True
    assert can(ds, "can_write", RICK) is True
    assert can(ds, "can_write", BETH) is False
    assert can(ds, "can_delete", SUMMER) is False

    # The authorizer's policies see the same directory.
    def allowed(user, path):
        c = AuthorizerClient(
            identity=Identity(type=IdentityType.IDENTITY_TYPE_SUB, value=user),
            options=AuthorizerOptions(url=lictor.authorizer_grpc, cert_file_path=lictor.ca),
        )
        try:
            return c.decisions(policy_path=path, decisions=["allowed"], resource_context={"object_id": TODO})[
                "allowed"
            ]
        finally:
            c.close()

    assert allowed(MORTY, "todoApp.DELETE.todos.__id") is True
    assert allowed(BETH, "todoApp.DELETE.todos.__id") is False
    assert allowed(SUMMER, "todoApp.PUT.todos.__id") is True
    assert allowed(BETH, "todoApp.PUT.todos.__id") is False

    ds.delete_relation(
        object_type="resource", object_id=TODO, relation="owner", subject_type="user", subject_id=MORTY
    )
    assert can(ds, "can_delete", MORTY) is False

    ds.delete_object("resource", TODO, with_relations=True)
    with pytest.raises(NotFoundError):
        ds.get_object("resource", TODO)


def test_check_permission_on_demo_data(ds):
    assert ds.check_permission(
        object_type="resource-creator", object_id="resource-creators", permission="can_create_resource",
        subject_type="user", subject_id=SUMMER,
    ) is True
    assert ds.check_permission(
        object_type="resource-creator", object_id="resource-creators", permission="can_create_resource",
        subject_type="user", subject_id=BETH,
    ) is False


def test_manifest_body_and_etag(ds):
    manifest = ds.get_manifest()
    assert b"resource-creator:" in manifest.body
    assert manifest.etag


def test_manifest_if_none_match(ds):
    # Topaz answers if-none-match: <current etag> with the metadata only, no body: the client returns None.
    manifest = ds.get_manifest()
    assert ds.get_manifest(manifest.etag) is None


def test_manifest_updated_at(ds):
    # Topaz stamps the manifest's metadata with the time it was set.
    manifest = ds.get_manifest()
    assert manifest.updated_at.year >= 2024, manifest.updated_at


def test_set_object_and_relation_stamp_times(ds):
    # Topaz sets created_at on insert and updated_at on every write, for objects and relations.
    obj = ds.set_object(object_type="resource", object_id="todo-py-stamped", display_name="stamped")
    assert obj.HasField("created_at") and obj.HasField("updated_at"), obj
    rel = ds.set_relation(
        object_type="resource", object_id="todo-py-stamped", relation="owner", subject_type="user", subject_id=BETH
    )
    assert rel.HasField("created_at") and rel.HasField("updated_at"), rel


def test_find_subjects_explain(ds):
    found = ds.find_subjects(
        object_type="group", object_id="editor", relation="member", subject_type="user", explain=True
    )
    ids = sorted(f"{r.type}:{r.id}" for r in found.results)
    assert ids == [f"user:{MORTY}", f"user:{RICK}", f"user:{SUMMER}"]
    # Topaz explains each match by the relation paths that grant it, keyed "type:id".
    assert sorted(found.explanation) == ids, found.explanation
    assert all(paths and all(paths) for paths in found.explanation.values()), found.explanation


def test_import_and_export(ds):
    from aserto.directory.common.v3 import Object, Relation
    from aserto.client.directory.v3 import ExportOption

    result = ds.import_data(
        [
            Object(type="resource", id="todo-py-imported-1", display_name="one"),
            Object(type="resource", id="todo-py-imported-2", display_name="two"),
            Relation(
                object_type="resource", object_id="todo-py-imported-1", relation="owner",
                subject_type="user", subject_id=JERRY,
            ),
        ]
    )
    assert (result.objects.recv, result.objects.set, result.objects.error) == (2, 2, 0), result
    assert (result.relations.recv, result.relations.set, result.relations.error) == (1, 1, 0), result
    assert can(ds, "can_delete", JERRY, "todo-py-imported-1") is True

    exported = list(ds.export_data(ExportOption.OPTION_DATA))
    objects = {(o.type, o.id) for o in exported if isinstance(o, Object)}
    relations = {(r.object_id, r.relation, r.subject_id) for r in exported if isinstance(r, Relation)}
    assert {("resource", "todo-py-imported-1"), ("resource", "todo-py-imported-2"), ("user", RICK)} <= objects
    assert ("todo-py-imported-1", "owner", JERRY) in relations


def test_undefined_relation_is_refused(ds):
    with pytest.raises(grpc.RpcError) as err:
        ds.set_relation(
            object_type="resource", object_id="whatever", relation="no_such_relation",
            subject_type="user", subject_id=BETH,
        )
    # Topaz versions answer an undefined relation type with NOT_FOUND (E21004 "relation type not found")
    # or INVALID_ARGUMENT; Lictor validates it against the manifest: INVALID_ARGUMENT, naming it.
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value
    assert "no_such_relation" in err.value.details(), err.value


def test_get_object_with_relations(ds):
    got = ds.get_object("group", "admin", with_relations=True)
    assert (got.result.type, got.result.id) == ("group", "admin")
    rels = {
        (r.object_type, r.object_id, r.relation, r.subject_type, r.subject_id, r.subject_relation)
        for r in got.relations
    }
    # outgoing: admin's own members; incoming: admin#member as a member of editor.
    assert ("group", "admin", "member", "user", RICK, "") in rels, rels
    assert ("group", "editor", "member", "group", "admin", "member") in rels, rels


def test_get_relation_with_objects(ds):
    # The client splits the response's objects map keys on ":" ("type:id") to find subject and object.
    got = ds.get_relation(
        object_type="group", object_id="admin", relation="member", subject_type="user", subject_id=RICK,
        with_objects=True,
    )
    assert (got.object.type, got.object.id) == ("group", "admin")
    assert (got.subject.type, got.subject.id) == ("user", RICK)
    assert got.subject.display_name == "Rick Sanchez"
