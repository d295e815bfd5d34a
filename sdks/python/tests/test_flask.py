"""A real Flask app guarded by lictor.flask against the demo server, through Flask's test client.

The app verifies HS256 bearer JWTs itself and hands their `sub` to Lictor (IDENTITY_TYPE_SUB);
another app hands the bearer token to Lictor as IDENTITY_TYPE_JWT."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import flask
import pytest
from conftest import BETH, JERRY, MORTY, RICK, SUMMER, bearer, dead_url, verified_sub
from flask.testing import FlaskClient

from lictor import Lictor
from lictor.flask import Authorizer, bearer_jwt

SERVICE = "flask-tests"
TODO = "flask-todo"
OTHER_SECRET = "a-different-secret-that-is-long-enough!"
DSM_ROUTES = ("todoApp/GET/todos", "todoApp/POST/todos", "todoApp/PUT/todos/__id", "todoApp/DELETE/todos/__id")
UNAVAILABLE = {"error": "authorizer_unavailable", "message": "the authorization service is unavailable"}


def build_app(lictor: Lictor, identity: Any = verified_sub, **options: Any) -> flask.Flask:
    app = flask.Flask(__name__)
    authz = Authorizer(lictor, policy_root="todoApp", identity=identity, **options)

    def ok(**extra: Any) -> Dict[str, Any]:
        return {"ok": True, **extra}

    @app.get("/todos")
    @authz.authorize
    def list_todos() -> Dict[str, Any]:
        return ok()

    @app.post("/todos")
    @authz.authorize()
    def create_todo() -> Dict[str, Any]:
        return ok()

    @app.put("/todos/<id>")
    @authz.authorize(resource={"object_id": "$param(id)"})
    def update_todo(id: str) -> Dict[str, Any]:
        return ok(id=id)

    @app.delete("/todos/<id>")
    @authz.authorize(resource=lambda request: {"object_id": request.view_args["id"]})
    def delete_todo(id: str) -> Dict[str, Any]:
        return ok(id=id)

    @app.get("/misconfigured")
    @authz.authorize(policy_path="todoApp.nothing.here")
    def misconfigured() -> Dict[str, Any]:
        return ok()

    @app.get("/admin")
    @authz.check(object_type="group", object_id="admin", relation="member")
    def admin() -> Dict[str, Any]:
        return ok()

    @app.get("/groups/<gid>")
    @authz.check(object_type="group", object_id="$param(gid)", permission="member")
    def group(gid: str) -> Dict[str, Any]:
        return ok(group=gid)

    @app.get("/by-header")
    @authz.check(object_type="group", object_id="$header(X-Group)", relation="$header(X-Relation)")
    def by_header() -> Dict[str, Any]:
        return ok()

    @app.post("/by-body")
    @authz.check(
        object_type="$body(target.type)",
        object_id="$body(target.ref.id)",
        relation=lambda request: request.get_json()["relation"],
    )
    def by_body() -> Dict[str, Any]:
        return ok(body=flask.request.get_json())

    @app.get("/gateway/todos/<int:id>")
    @authz.check(gateway=SERVICE)
    def gateway(id: int) -> Dict[str, Any]:
        return ok(id=id)

    app.register_blueprint(authz.display_state_map())
    return app


AppMaker = Callable[..., flask.Flask]


@pytest.fixture
def make_app() -> Iterator[AppMaker]:
    """Builds apps on their own Lictor clients, closed after the test."""
    clients: List[Lictor] = []

    def make(url: str, **options: Any) -> flask.Flask:
        clients.append(Lictor(url=url, timeout=2))
        return build_app(clients[-1], **options)

    yield make
    for c in clients:
        c.close()


@pytest.fixture(scope="module")
def http(client: Lictor, endpoint_type: None) -> FlaskClient:
    client.set_object(f"resource:{TODO}", display_name="flask todo")
    client.set_relation(object=f"resource:{TODO}", relation="owner", subject=f"user:{MORTY}")
    endpoint = f"endpoint:{SERVICE}:GET:/gateway/todos/<int:id>"
    client.set_relation(object=endpoint, relation="invoker", subject=f"user:{BETH}")
    return build_app(client).test_client()


def call(http: FlaskClient, method: str, path: str, user: Optional[str] = None, **kwargs: Any) -> Tuple[int, Any]:
    headers = {**(bearer(user) if user else {}), **kwargs.pop("headers", {})}
    res = http.open(path, method=method, headers=headers, **kwargs)
    return res.status_code, res.get_json(silent=True)


# authorize: the policy path comes from the rule and method.


@pytest.mark.parametrize("user", [RICK, MORTY, SUMMER, BETH, JERRY])
def test_get_todos_is_allowed_for_every_user(http: FlaskClient, user: str) -> None:
    assert call(http, "GET", "/todos", user) == (200, {"ok": True})


@pytest.mark.parametrize("user, status", [(RICK, 200), (MORTY, 200), (SUMMER, 200), (BETH, 403), (JERRY, 403)])
def test_post_todos_only_for_resource_creators(http: FlaskClient, user: str, status: int) -> None:
    code, body = call(http, "POST", "/todos", user)
    assert code == status, body
    if status == 403:
        assert body == {"error": "forbidden", "message": "denied by policy todoApp.POST.todos"}


def test_put_todo_maps_the_id_with_param(http: FlaskClient) -> None:
    assert call(http, "PUT", f"/todos/{TODO}", MORTY) == (200, {"ok": True, "id": TODO})
    assert call(http, "PUT", f"/todos/{TODO}", RICK)[0] == 403
    assert call(http, "PUT", "/todos/no-such-todo", MORTY)[0] == 403


def test_delete_todo_maps_the_id_with_a_callable(http: FlaskClient) -> None:
    assert call(http, "DELETE", f"/todos/{TODO}", MORTY)[0] == 200
    assert call(http, "DELETE", f"/todos/{TODO}", SUMMER) == (
        403,
        {"error": "forbidden", "message": "denied by policy todoApp.DELETE.todos.__id"},
    )


def test_other_lictor_errors_propagate(http: FlaskClient) -> None:
    # No such policy: not the caller's fault, so not a 401 or 403 but the app's error (500).
    assert call(http, "GET", "/misconfigured", RICK)[0] == 500


# Identity: 401 before Lictor is asked, or when Lictor refuses it.


def test_missing_token_is_401(http: FlaskClient) -> None:
    res = http.get("/todos")
    assert res.status_code == 401
    assert res.get_json() == {
        "error": "unauthenticated",
        "message": "no identity: the request carries no verified user and no bearer token",
    }
    assert res.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic cmljazpwYXNz"},
        bearer(RICK, secret=OTHER_SECRET),
        bearer(RICK, exp=1),
    ],
    ids=["garbage", "basic", "bad-signature", "expired"],
)
def test_bad_token_is_401(http: FlaskClient, headers: Dict[str, str]) -> None:
    assert call(http, "GET", "/todos", headers=headers)[0] == 401
    assert call(http, "GET", "/admin", headers=headers)[0] == 401


def test_a_verified_user_lictor_does_not_know_is_401(http: FlaskClient) -> None:
    code, body = call(http, "GET", "/todos", "nobody@nowhere")
    assert code == 401
    assert body["message"] == 'the authorizer refused the identity: no user has the identity "nobody@nowhere"'


# check: every value source.


def test_check_with_literals(http: FlaskClient) -> None:
    assert call(http, "GET", "/admin", RICK)[0] == 200
    assert call(http, "GET", "/admin", MORTY) == (
        403,
        {"error": "forbidden", "message": "denied by policy rebac.check: no member on group:admin"},
    )


def test_check_with_a_route_param(http: FlaskClient) -> None:
    assert call(http, "GET", "/groups/viewer", BETH) == (200, {"ok": True, "group": "viewer"})
    assert call(http, "GET", "/groups/editor", BETH)[0] == 403
    # rick is in editor through admin#member.
    assert call(http, "GET", "/groups/editor", RICK)[0] == 200


def test_check_with_headers(http: FlaskClient) -> None:
    headers = {"X-Group": "admin", "X-Relation": "member"}
    assert call(http, "GET", "/by-header", RICK, headers=headers)[0] == 200
    assert call(http, "GET", "/by-header", MORTY, headers=headers)[0] == 403
    assert call(http, "GET", "/by-header", MORTY, headers={**headers, "X-Group": "editor"})[0] == 200


def test_check_missing_header_is_400(http: FlaskClient) -> None:
    assert call(http, "GET", "/by-header", RICK, headers={"X-Relation": "member"}) == (
        400,
        {"error": "bad_request", "message": 'object_id: $header(X-Group): the request has no "X-Group" header'},
    )


def test_check_with_nested_body_keys_and_a_callable(http: FlaskClient) -> None:
    payload = {"target": {"type": "group", "ref": {"id": "editor"}}, "relation": "member"}
    assert call(http, "POST", "/by-body", MORTY, json=payload) == (200, {"ok": True, "body": payload})
    assert call(http, "POST", "/by-body", BETH, json=payload)[0] == 403


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            {"target": {"type": "group", "ref": {}}, "relation": "member"},
            'object_id: $body(target.ref.id): "target.ref" has no key "id"',
        ),
        ({"relation": "member"}, 'object_type: $body(target.type): the request body has no key "target"'),
        ({"target": "group", "relation": "member"}, 'object_type: $body(target.type): "target" has no key "type"'),
        (
            {"target": {"type": None, "ref": {"id": "x"}}, "relation": "member"},
            "object_type: $body(target.type): the value is null, not a non-empty string",
        ),
        (
            {"target": {"type": "group", "ref": {"id": "viewer"}}, "relation": ""},
            'relation: the callable: the value is "", not a non-empty string',
        ),
    ],
    ids=["missing-leaf", "missing-root", "not-an-object", "null", "empty-from-callable"],
)
def test_check_missing_body_key_is_400(http: FlaskClient, payload: Any, message: str) -> None:
    assert call(http, "POST", "/by-body", MORTY, json=payload) == (400, {"error": "bad_request", "message": message})


def test_check_without_a_json_body_is_400(http: FlaskClient) -> None:
    code, body = call(http, "POST", "/by-body", MORTY, data="not json", content_type="text/plain")
    assert (code, body["message"]) == (400, "object_type: $body(target.type): the request has no JSON object body")


def test_gateway_mode(http: FlaskClient, client: Lictor) -> None:
    assert call(http, "GET", "/gateway/todos/7", BETH) == (200, {"ok": True, "id": 7})
    assert call(http, "GET", "/gateway/todos/7", JERRY) == (
        403,
        {
            "error": "forbidden",
            "message": f"denied by policy rebac.check: no can_invoke on endpoint:{SERVICE}:GET:/gateway/todos/<int:id>",
        },
    )


# The display state map.


@pytest.mark.parametrize("user", [RICK, BETH])
def test_display_state_map_is_the_decision_tree(http: FlaskClient, client: Lictor, user: str) -> None:
    code, dsm = call(http, "GET", "/__displaystatemap", user)
    assert code == 200
    assert dsm == client.decision_tree(
        identity=user, policy_root="todoApp", decisions=["visible", "enabled", "allowed"], separator="slash"
    )
    assert set(dsm) == set(DSM_ROUTES)
    assert all(dsm[r]["visible"] and dsm[r]["enabled"] for r in DSM_ROUTES)
    assert dsm["todoApp/GET/todos"]["allowed"] is True
    assert dsm["todoApp/POST/todos"]["allowed"] is (user == RICK)


def test_display_state_map_needs_an_identity(http: FlaskClient) -> None:
    assert call(http, "GET", "/__displaystatemap")[0] == 401


# Lictor unreachable: fail closed unless told otherwise.


def test_unreachable_lictor_is_503(make_app: AppMaker) -> None:
    down = make_app(dead_url()).test_client()
    for method, path in [
        ("GET", "/todos"),
        ("GET", "/admin"),
        ("GET", "/gateway/todos/1"),
        ("GET", "/__displaystatemap"),
    ]:
        code, body = call(down, method, path, RICK, headers={"X-Request-Id": f"down-{path}"})
        assert code == 503
        # The id of the call that got no answer: the incoming request's, forwarded.
        assert body == {**UNAVAILABLE, "requestId": f"down-{path}"}
    # Identity is still checked first.
    assert call(down, "GET", "/todos")[0] == 401


def test_unreachable_lictor_can_fail_open(make_app: AppMaker) -> None:
    down = make_app(dead_url(), failure_policy="open").test_client()
    assert call(down, "GET", "/todos", JERRY)[0] == 200
    assert call(down, "POST", "/todos", JERRY)[0] == 200
    # There is no display state map to give without Lictor.
    assert call(down, "GET", "/__displaystatemap", JERRY)[0] == 503


# The bearer token itself as IDENTITY_TYPE_JWT, verified by Lictor (the default identity).


def test_bearer_jwt_identity(client: Lictor) -> None:
    jwt_http = build_app(client, identity=bearer_jwt).test_client()
    assert call(jwt_http, "POST", "/todos", RICK)[0] == 200
    assert call(jwt_http, "POST", "/todos", BETH)[0] == 403
    code, body = call(jwt_http, "GET", "/todos", headers=bearer(RICK, secret=OTHER_SECRET))
    assert code == 401
    assert body["message"] == "the authorizer refused the identity: invalid JWT: the signature does not verify"
    assert call(jwt_http, "GET", "/todos")[0] == 401


def test_app_error_handlers_apply(client: Lictor) -> None:
    app = build_app(client)

    @app.errorhandler(403)
    def forbidden(error: Exception) -> Tuple[str, int]:
        return "custom forbidden", 403

    res = app.test_client().post("/todos", headers=bearer(BETH))
    assert (res.status_code, res.get_data(as_text=True)) == (403, "custom forbidden")


def test_bad_options_fail_when_decorating(client: Lictor) -> None:
    authz = Authorizer(client, policy_root="todoApp")
    with pytest.raises(ValueError, match=r"object_id '\$query\(id\)' is not"):
        authz.check(object_type="group", object_id="$query(id)", relation="member")
    with pytest.raises(ValueError, match="object_id is required, unless gateway is given"):
        authz.check(object_type="group", relation="member")
    with pytest.raises(ValueError, match="failure_policy must be 'closed' or 'open'"):
        Authorizer(client, policy_root="todoApp", failure_policy="ajar")
