"""Aserto's Python AuthorizerClient (gRPC, TLS with the server's CA) against lictor's demo."""

import grpc
import pytest
from aserto.client import AuthorizerOptions, Identity, IdentityType
from aserto.client.authorizer import AuthorizerClient

RICK = "rick@the-citadel.com"
MORTY = "morty@the-citadel.com"
SUMMER = "summer@the-smiths.com"
BETH = "beth@the-smiths.com"
JERRY = "jerry@the-smiths.com"


def client(lictor, user, *, url=None, ca=True):
    options = AuthorizerOptions(url=url or lictor.authorizer_grpc, cert_file_path=lictor.ca if ca else None)
    return AuthorizerClient(identity=Identity(type=IdentityType.IDENTITY_TYPE_SUB, value=user), options=options)


def allowed(lictor, user, path, resource=None, **kw):
    c = client(lictor, user, **kw)
    try:
        return c.decisions(
            policy_path=path,
            decisions=["allowed"],
            policy_instance_name="todo",
            policy_instance_label="todo",
            resource_context=resource or {},
        )["allowed"]
    finally:
        c.close()


@pytest.mark.parametrize(
    "user,expected",
    [(RICK, True), (MORTY, True), (SUMMER, True), (BETH, False), (JERRY, False)],
)
def test_post_todos(lictor, user, expected):
    assert allowed(lictor, user, "todoApp.POST.todos") is expected


@pytest.mark.parametrize("user", [RICK, BETH, JERRY])
def test_get_todos_for_any_user(lictor, user):
    assert allowed(lictor, user, "todoApp.GET.todos") is True


def test_unknown_user_resolves_to_no_user(lictor):
    # An identity that matches no demo identity: Topaz rejects the call (the identity cannot be resolved).
    with pytest.raises(grpc.RpcError) as err:
        allowed(lictor, "nobody@nowhere.example", "todoApp.GET.todos")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value.details()


def test_anonymous_caller(lictor):
    c = AuthorizerClient(
        identity=Identity(type=IdentityType.IDENTITY_TYPE_NONE),
        options=AuthorizerOptions(url=lictor.authorizer_grpc, cert_file_path=lictor.ca),
    )
    try:
        got = c.decisions(policy_path="todoApp.GET.todos", decisions=["allowed"])
    finally:
        c.close()
    assert got == {"allowed": False}


def test_several_decisions(lictor):
    c = client(lictor, BETH)
    try:
        got = c.decisions(policy_path="todoApp.POST.todos", decisions=["allowed", "visible", "enabled"])
    finally:
        c.close()
    assert got == {"allowed": False, "visible": True, "enabled": True}


def test_rebac_check(lictor):
    member = {"object_type": "group", "object_id": "admin", "relation": "member"}
    assert allowed(lictor, RICK, "rebac.check", member) is True
    assert allowed(lictor, BETH, "rebac.check", member) is False


def test_decision_tree_slash(lictor):
    c = client(lictor, BETH)
    try:
        tree = c.decision_tree(
            policy_path_root="todoApp",
            decisions=["allowed", "visible", "enabled"],
            policy_instance_name="todo",
            policy_path_separator="SLASH",
        )
    finally:
        c.close()
    assert tree["todoApp/GET/todos"] == {"allowed": True, "visible": True, "enabled": True}
    assert tree["todoApp/POST/todos"] == {"allowed": False, "visible": True, "enabled": True}
    assert tree["todoApp/PUT/todos/__id"] == {"allowed": False, "visible": True, "enabled": True}
    assert tree["todoApp/DELETE/todos/__id"] == {"allowed": False, "visible": True, "enabled": True}
    assert all(key.startswith("todoApp/") for key in tree), sorted(tree)


def test_decision_tree_dot(lictor):
    c = client(lictor, RICK)
    try:
        tree = c.decision_tree(
            policy_path_root="todoApp", decisions=["allowed"], policy_path_separator="DOT"
        )
    finally:
        c.close()
    assert tree["todoApp.GET.todos"] == {"allowed": True}
    assert tree["todoApp.POST.todos"] == {"allowed": True}


def test_localhost_name_matches_certificate(lictor):
    port = lictor.authorizer_grpc.rsplit(":", 1)[1]
    assert allowed(lictor, RICK, "todoApp.POST.todos", url=f"localhost:{port}") is True


def test_system_roots_reject_the_self_signed_certificate(lictor):
    # Without the CA the handshake must fail: the port really speaks TLS with lictor's own CA.
    with pytest.raises(grpc.RpcError) as err:
        allowed(lictor, RICK, "todoApp.POST.todos", ca=False)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_list_policies(lictor):
    c = client(lictor, RICK)
    try:
        response = c.list_policies(policy_instance_name="todo", policy_instance_label="todo")
    finally:
        c.close()
    # Topaz reports each module's package as its Rego ref, e.g. "data.todoApp.GET.todos".
    packages = {m.package_path for m in response.result}
    assert {"data.todoApp.GET.todos", "data.todoApp.POST.todos", "data.rebac.check"} <= packages, packages
    assert all(m.id and m.raw for m in response.result)
