"""A real FastAPI app guarded by lictor.fastapi dependencies against the demo server, through
FastAPI's TestClient.

The app verifies HS256 bearer JWTs itself and hands their `sub` to Lictor (IDENTITY_TYPE_SUB);
another app hands the bearer token to Lictor as IDENTITY_TYPE_JWT."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple

import pytest
from conftest import BETH, JERRY, MORTY, RICK, SUMMER, Server, bearer, dead_url, verified_sub
from fastapi import Body, Depends, FastAPI, Request
from fastapi.testclient import TestClient

from lictor import AsyncLictor, Lictor, LictorError, StatusCode
from lictor.fastapi import Authorizer, bearer_jwt

SERVICE = "fastapi-tests"
TODO = "fastapi-todo"


async def async_sub(request: Request) -> Optional[str]:
    """The identity provider may be a coroutine."""
    return verified_sub(request)


def build_app(lictor: AsyncLictor, identity: Any = async_sub, **options: Any) -> FastAPI:
    app = FastAPI()
    authz = Authorizer(lictor, policy_root="todoApp", identity=identity, **options)

    @app.get("/todos", dependencies=[Depends(authz.authorize())])
    async def list_todos() -> Dict[str, Any]:
        return {"ok": True}

    @app.post("/todos", dependencies=[Depends(authz.authorize())])
    async def create_todo() -> Dict[str, Any]:
        return {"ok": True}

    @app.put("/todos/{id}", dependencies=[Depends(authz.authorize(resource={"object_id": "$param(id)"}))])
    async def update_todo(id: str) -> Dict[str, Any]:
        return {"ok": True, "id": id}

    async def todo_resource(request: Request) -> Dict[str, str]:
        return {"object_id": request.path_params["id"]}

    @app.delete("/todos/{id}", dependencies=[Depends(authz.authorize(resource=todo_resource))])
    async def delete_todo(id: str) -> Dict[str, Any]:
        return {"ok": True, "id": id}

    @app.get("/admin", dependencies=[Depends(authz.check(object_type="group", object_id="admin", relation="member"))])
    async def admin() -> Dict[str, Any]:
        return {"ok": True}

    @app.get(
        "/groups/{gid}",
        dependencies=[Depends(authz.check(object_type="group", object_id="$param(gid)", permission="member"))],
    )
    async def group(gid: str) -> Dict[str, Any]:
        return {"ok": True, "group": gid}

    by_header = authz.check(object_type="group", object_id="$header(X-Group)", relation="$header(X-Relation)")

    @app.get("/by-header", dependencies=[Depends(by_header)])
    async def header() -> Dict[str, Any]:
        return {"ok": True}

    by_body = authz.check(
        object_type="$body(target.type)",
        object_id="$body(target.ref.id)",
        relation=lambda request: request.headers.get("x-relation", "member"),
    )

    @app.post("/by-body", dependencies=[Depends(by_body)])
    async def body(payload: Dict[str, Any] = Body(...)) -> Dict[str, Any]:
        # The guard read the body first; the endpoint still gets it.
        return {"ok": True, "body": payload}

    @app.post("/by-body-only", dependencies=[Depends(by_body)])
    async def body_only() -> Dict[str, Any]:
        # No body parameter: FastAPI leaves a body that is not JSON to the guard.
        return {"ok": True}

    @app.get("/misconfigured", dependencies=[Depends(authz.authorize(policy_path="todoApp.nothing.here"))])
    async def misconfigured() -> Dict[str, Any]:
        return {"ok": True}

    @app.get("/gateway/todos/{id:int}", dependencies=[Depends(authz.check(gateway=SERVICE))])
    async def gateway(id: int) -> Dict[str, Any]:
        return {"ok": True, "id": id}

    app.include_router(authz.display_state_map())
    return app


class App:
    """A TestClient over an app, with its own AsyncLictor closed on the app's event loop."""

    def __init__(self, url: str, **options: Any) -> None:
        self.lictor = AsyncLictor(url=url, timeout=2)
        self.http = TestClient(build_app(self.lictor, **options))

    def __enter__(self) -> App:
        self.http.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.http.portal is not None
        self.http.portal.call(self.lictor.aclose)
        self.http.__exit__(*exc)

    def call(self, method: str, path: str, user: Optional[str] = None, **kwargs: Any) -> Tuple[int, Any]:
        headers = {**(bearer(user) if user else {}), **kwargs.pop("headers", {})}
        res = self.http.request(method, path, headers=headers, **kwargs)
        return res.status_code, res.json()


@pytest.fixture(scope="module")
def app(server: Server, client: Lictor, endpoint_type: None) -> Iterator[App]:
    client.set_object(f"resource:{TODO}")
    client.set_relation(object=f"resource:{TODO}", relation="owner", subject=f"user:{MORTY}")
    client.set_relation(
        object=f"endpoint:{SERVICE}:GET:/gateway/todos/{{id:int}}", relation="invoker", subject=f"user:{BETH}"
    )
    with App(server.url) as a:
        yield a


@pytest.mark.parametrize("user, can_post", [(RICK, True), (MORTY, True), (SUMMER, True), (BETH, False), (JERRY, False)])
def test_authorize_todos(app: App, user: str, can_post: bool) -> None:
    assert app.call("GET", "/todos", user) == (200, {"ok": True})
    code, body = app.call("POST", "/todos", user)
    if can_post:
        assert code == 200
    else:
        assert (code, body) == (403, {"detail": "denied by policy todoApp.POST.todos"})


def test_authorize_with_param_and_callable_resources(app: App) -> None:
    assert app.call("PUT", f"/todos/{TODO}", MORTY) == (200, {"ok": True, "id": TODO})
    assert app.call("PUT", f"/todos/{TODO}", RICK)[0] == 403
    assert app.call("DELETE", f"/todos/{TODO}", MORTY)[0] == 200
    assert app.call("DELETE", f"/todos/{TODO}", BETH) == (403, {"detail": "denied by policy todoApp.DELETE.todos.__id"})


def test_other_lictor_errors_propagate(app: App) -> None:
    with pytest.raises(LictorError) as e:
        app.call("GET", "/misconfigured", RICK)
    assert e.value.code == StatusCode.NOT_FOUND


def test_missing_or_bad_token_is_401(app: App) -> None:
    res = app.http.get("/todos")
    assert (res.status_code, res.json()) == (
        401,
        {"detail": "no identity: the request carries no verified user and no bearer token"},
    )
    assert res.headers["www-authenticate"] == "Bearer"
    assert app.call("GET", "/todos", headers={"Authorization": "Bearer nope"})[0] == 401
    assert app.call("GET", "/admin", headers=bearer(RICK, secret="a-different-secret-that-is-long-enough!"))[0] == 401


def test_a_verified_user_lictor_does_not_know_is_401(app: App) -> None:
    assert app.call("GET", "/todos", "nobody@nowhere") == (
        401,
        {"detail": 'the authorizer refused the identity: no user has the identity "nobody@nowhere"'},
    )


def test_check_value_sources(app: App) -> None:
    assert app.call("GET", "/admin", RICK)[0] == 200
    assert app.call("GET", "/admin", SUMMER) == (
        403,
        {"detail": "denied by policy rebac.check: no member on group:admin"},
    )
    assert app.call("GET", "/groups/viewer", JERRY) == (200, {"ok": True, "group": "viewer"})
    assert app.call("GET", "/groups/editor", JERRY)[0] == 403
    headers = {"X-Group": "editor", "X-Relation": "member"}
    assert app.call("GET", "/by-header", SUMMER, headers=headers)[0] == 200
    assert app.call("GET", "/by-header", BETH, headers=headers)[0] == 403
    payload = {"target": {"type": "group", "ref": {"id": "admin"}}}
    assert app.call("POST", "/by-body", RICK, json=payload) == (200, {"ok": True, "body": payload})
    assert app.call("POST", "/by-body", MORTY, json=payload)[0] == 403
    assert app.call("POST", "/by-body-only", RICK, json=payload) == (200, {"ok": True})
    assert app.call("POST", "/by-body", RICK, json=payload, headers={"X-Relation": "nosuch"})[0] == 403


def test_value_sources_that_find_nothing_are_400(app: App) -> None:
    assert app.call("GET", "/by-header", RICK, headers={"X-Group": "admin"}) == (
        400,
        {"detail": 'relation: $header(X-Relation): the request has no "X-Relation" header'},
    )
    assert app.call("POST", "/by-body", RICK, json={"target": {"type": "group", "ref": {"name": "admin"}}}) == (
        400,
        {"detail": 'object_id: $body(target.ref.id): "target.ref" has no key "id"'},
    )
    assert app.call(
        "POST", "/by-body-only", RICK, content=b"{not json", headers={"content-type": "application/json"}
    ) == (
        400,
        {"detail": "object_type: $body(target.type): the request has no JSON object body"},
    )


def test_gateway_mode(app: App) -> None:
    assert app.call("GET", "/gateway/todos/3", BETH) == (200, {"ok": True, "id": 3})
    assert app.call("GET", "/gateway/todos/3", RICK)[0] == 403


@pytest.mark.parametrize("user", [MORTY, JERRY])
def test_display_state_map_is_the_decision_tree(app: App, client: Lictor, user: str) -> None:
    code, dsm = app.call("GET", "/__displaystatemap", user)
    assert code == 200
    assert dsm == client.decision_tree(
        identity=user, policy_root="todoApp", decisions=["visible", "enabled", "allowed"], separator="slash"
    )
    assert dsm["todoApp/POST/todos"] == {"visible": True, "enabled": True, "allowed": user == MORTY}
    assert app.call("GET", "/__displaystatemap")[0] == 401


def test_unreachable_lictor_is_503_unless_failing_open() -> None:
    with App(dead_url()) as down:
        assert down.call("GET", "/todos", RICK) == (503, {"detail": "the authorization service is unavailable"})
        assert down.call("GET", "/gateway/todos/1", RICK)[0] == 503
        assert down.call("GET", "/__displaystatemap", RICK)[0] == 503
        assert down.call("GET", "/todos")[0] == 401
    with App(dead_url(), failure_policy="open") as open_:
        assert open_.call("POST", "/todos", JERRY)[0] == 200
        assert open_.call("GET", "/__displaystatemap", JERRY)[0] == 503


def test_bearer_jwt_identity(server: Server) -> None:
    with App(server.url, identity=bearer_jwt) as jwt_app:
        assert jwt_app.call("POST", "/todos", SUMMER)[0] == 200
        assert jwt_app.call("POST", "/todos", JERRY)[0] == 403
        code, body = jwt_app.call(
            "GET", "/todos", headers=bearer(RICK, secret="a-different-secret-that-is-long-enough!")
        )
        assert (code, body) == (
            401,
            {"detail": "the authorizer refused the identity: invalid JWT: the signature does not verify"},
        )
