"""A Flask app guarded by flask-aserto (authorize, check, display state map) against a real lictor.

The caller's identity is the `sub` of a hand-made, unsigned JWT in the Authorization header, handed to
the authorizer as IDENTITY_TYPE_SUB.
"""

import base64
import json

import pytest
from flask import Flask, jsonify, request
from flask_aserto import AsertoMiddleware, AuthorizationError, AuthorizerOptions, Identity, IdentityType

RICK = "rick@the-citadel.com"
MORTY = "morty@the-citadel.com"
BETH = "beth@the-smiths.com"


def b64url(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def token(sub: str) -> str:
    return f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url({'sub': sub})}."


def identity_from_jwt() -> Identity:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return Identity(type=IdentityType.IDENTITY_TYPE_NONE)
    payload = auth[len("Bearer "):].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return Identity(type=IdentityType.IDENTITY_TYPE_SUB, value=claims["sub"])


def build_app(lictor) -> Flask:
    app = Flask(__name__)
    aserto = AsertoMiddleware(
        authorizer_options=AuthorizerOptions(url=lictor.authorizer_grpc, cert_file_path=lictor.ca),
        policy_path_root="todoApp",
        identity_provider=identity_from_jwt,
        policy_instance_name="todo",
    )

    @app.errorhandler(AuthorizationError)
    def forbidden(err: AuthorizationError):
        return jsonify(error="forbidden", policy=err.policy_path), 403

    by_id = {"resource_context_provider": lambda: {"object_id": request.view_args["id"]}}

    @app.route("/todos", methods=["GET"])
    @aserto.authorize
    def list_todos():
        # is_allowed inside a handler, for another policy path.
        can_post = aserto.is_allowed("allowed", policy_path_resolver=lambda: "todoApp.POST.todos")
        return jsonify(ok=True, can_post=can_post)

    @app.route("/todos", methods=["POST"])
    @aserto.authorize
    def create_todo():
        return jsonify(ok=True)

    @app.route("/todos/<id>", methods=["PUT"])
    @aserto.authorize(**by_id)
    def update_todo(id):
        return jsonify(ok=True)

    @app.route("/todos/<id>", methods=["DELETE"])
    @aserto.authorize(**by_id)
    def delete_todo(id):
        return jsonify(ok=True)

    @app.route("/admin", methods=["GET"])
    @aserto.check(object_type="group", object_id="admin", relation="member", policy_root="rebac")
    def admin():
        return jsonify(ok=True)

    @app.route("/groups/<gid>", methods=["GET"])
    @aserto.check(
        object_type="group",
        object_id_mapper=lambda: request.view_args["gid"],
        relation="member",
        policy_root="rebac",
    )
    def group(gid):
        return jsonify(ok=True)

    aserto.register_display_state_map(app)
    return app


@pytest.fixture(scope="module")
def http(lictor):
    from aserto.client.directory.v3 import Directory

    ds = Directory(address=lictor.directory_grpc, ca_cert_path=lictor.ca)
    ds.set_object(object_type="resource", object_id="todo-flask", display_name="flask todo")
    ds.set_relation(object_type="resource", object_id="todo-flask", relation="owner", subject_type="user", subject_id=MORTY)
    ds.close()
    return build_app(lictor).test_client()


def call(http, method, path, user=None):
    headers = {"Authorization": f"Bearer {token(user)}"} if user else {}
    return http.open(path, method=method, headers=headers)


def expect_allowed(http, method, path, user):
    res = call(http, method, path, user)
    assert res.status_code == 200, (method, path, user, res.get_data(as_text=True))
    assert res.get_json()["ok"] is True
    return res.get_json()


def expect_forbidden(http, method, path, user, policy):
    res = call(http, method, path, user)
    assert res.status_code == 403, (method, path, user, res.get_data(as_text=True))
    assert res.get_json() == {"error": "forbidden", "policy": policy}


def test_get_todos_as_beth(http):
    body = expect_allowed(http, "GET", "/todos", BETH)
    assert body["can_post"] is False


def test_get_todos_as_rick_can_post(http):
    assert expect_allowed(http, "GET", "/todos", RICK)["can_post"] is True


def test_post_todos_as_beth_is_forbidden(http):
    expect_forbidden(http, "POST", "/todos", BETH, "todoApp.POST.todos")


def test_post_todos_as_rick(http):
    expect_allowed(http, "POST", "/todos", RICK)


def test_anonymous_get_todos_is_forbidden(http):
    expect_forbidden(http, "GET", "/todos", None, "todoApp.GET.todos")


def test_delete_own_todo(http):
    expect_allowed(http, "DELETE", "/todos/todo-flask", MORTY)
    expect_forbidden(http, "DELETE", "/todos/todo-flask", BETH, "todoApp.DELETE.todos.__id")


def test_put_todo(http):
    expect_allowed(http, "PUT", "/todos/todo-flask", MORTY)
    expect_forbidden(http, "PUT", "/todos/todo-flask", RICK, "todoApp.PUT.todos.__id")


def test_check_admin_member(http):
    expect_allowed(http, "GET", "/admin", RICK)
    expect_forbidden(http, "GET", "/admin", BETH, "rebac.check")


def test_check_mapped_object_id(http):
    expect_allowed(http, "GET", "/groups/viewer", BETH)
    expect_forbidden(http, "GET", "/groups/editor", BETH, "rebac.check")


def test_display_state_map(http):
    res = call(http, "GET", "/__displaystatemap", BETH)
    assert res.status_code == 200, res.get_data(as_text=True)
    dsm = res.get_json()
    for route in ("todoApp/GET/todos", "todoApp/POST/todos", "todoApp/PUT/todos/__id", "todoApp/DELETE/todos/__id"):
        assert dsm.get(route) == {"visible": True, "enabled": True}, (route, dsm)
