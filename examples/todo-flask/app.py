"""The todo app on Flask, authorized by Lictor through the `lictor` SDK.

Callers sign in with an HS256 bearer JWT whose `sub` is a demo user's email (`flask --app app.py
tokens` prints one for each). The app verifies the token and asks Lictor with the `sub`:

    GET    /todos        any signed-in user         (policy todoApp.GET.todos)
    POST   /todos        resource creators only     (todoApp.POST.todos); writes resource:<id>
                                                    with the creator as owner
    PUT    /todos/<id>   owners and writers         (todoApp.PUT.todos.__id)
    DELETE /todos/<id>   owners                     (todoApp.DELETE.todos.__id)
    GET    /__displaystatemap                       what the caller may see and do

Todos live in memory. Settings come from the environment: LICTOR_URL (default
http://localhost:8383), LICTOR_API_KEY, LICTOR_TENANT_ID, TODO_JWT_SECRET.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any, Dict, Optional, Tuple

import click
import jwt
from flask import Flask, Request, g, jsonify, request

from lictor import Lictor, LictorError
from lictor.flask import Authorizer

# For local runs only: set TODO_JWT_SECRET anywhere else.
DEV_SECRET = "todo-flask-dev-secret-do-not-use-in-production"
DEMO_USERS = [
    "rick@the-citadel.com",
    "morty@the-citadel.com",
    "summer@the-smiths.com",
    "beth@the-smiths.com",
    "jerry@the-smiths.com",
]


def make_token(email: str, secret: str, ttl_seconds: int = 12 * 3600) -> str:
    """A signed HS256 JWT for a user, as a sign-in service would issue."""
    return jwt.encode({"sub": email, "exp": int(time.time()) + ttl_seconds}, secret, algorithm="HS256")


def create_app(lictor: Optional[Lictor] = None, jwt_secret: Optional[str] = None) -> Flask:
    """Builds the app; by default with a Lictor client configured from the environment."""
    app = Flask(__name__)
    secret = jwt_secret or os.environ.get("TODO_JWT_SECRET") or DEV_SECRET
    client = lictor or Lictor(
        url=os.environ.get("LICTOR_URL", "http://localhost:8383"),
        api_key=os.environ.get("LICTOR_API_KEY") or None,
        tenant_id=os.environ.get("LICTOR_TENANT_ID") or None,
    )
    authz = Authorizer(client, policy_root="todoApp", identity=lambda req: g.get("user"))
    todos: Dict[str, Dict[str, Any]] = {}
    lock = threading.Lock()

    @app.before_request
    def sign_in() -> None:
        # A verified token's subject, or nothing (the guards then answer 401).
        g.user = _verified_subject(request, secret)

    @app.get("/todos")
    @authz.authorize
    def list_todos() -> Any:
        with lock:
            return jsonify(list(todos.values()))

    @app.post("/todos")
    @authz.authorize
    def create_todo() -> Tuple[Any, int]:
        title = _title(request.get_json(silent=True))
        if title is None:
            return jsonify(error="bad_request", message="body must be JSON with a non-empty string 'title'"), 400
        todo = {"id": uuid.uuid4().hex, "title": title, "completed": False, "owner": g.user}
        # The todo becomes a directory object owned by its creator, so that the PUT and DELETE
        # policies can check can_write and can_delete on it.
        client.set_object(f"resource:{todo['id']}", display_name=title)
        client.set_relation(object=f"resource:{todo['id']}", relation="owner", subject=f"user:{g.user}")
        with lock:
            todos[todo["id"]] = todo
        return jsonify(todo), 201

    @app.put("/todos/<id>")
    @authz.authorize(resource={"object_id": "$param(id)"})
    def update_todo(id: str) -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(error="bad_request", message="body must be a JSON object"), 400
        with lock:
            todo = todos.get(id)
            if todo is None:
                return jsonify(error="not_found", message=f"no todo {id}"), 404
            if "title" in body:
                title = _title(body)
                if title is None:
                    return jsonify(error="bad_request", message="'title' must be a non-empty string"), 400
                todo["title"] = title
            if "completed" in body:
                if not isinstance(body["completed"], bool):
                    return jsonify(error="bad_request", message="'completed' must be true or false"), 400
                todo["completed"] = body["completed"]
            return jsonify(todo)

    @app.delete("/todos/<id>")
    @authz.authorize(resource={"object_id": "$param(id)"})
    def delete_todo(id: str) -> Tuple[str, int]:
        with lock:
            todos.pop(id, None)
        client.delete_object(f"resource:{id}", with_relations=True)
        return "", 204

    app.register_blueprint(authz.display_state_map())

    @app.errorhandler(LictorError)
    def directory_failed(error: LictorError) -> Tuple[Any, int]:
        # A directory write (creating or deleting a todo's object) that Lictor refused or missed.
        return jsonify(error="bad_gateway", message=str(error)), 502

    @app.cli.command("tokens")
    def tokens() -> None:
        """Prints a bearer token for each demo user."""
        for email in DEMO_USERS:
            click.echo(f"{email}: {make_token(email, secret)}")

    return app


def _verified_subject(req: Request, secret: str) -> Optional[str]:
    scheme, _, token = (req.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
    except jwt.InvalidTokenError:
        return None
    sub = claims["sub"]
    return sub if isinstance(sub, str) and sub else None


def _title(body: Any) -> Optional[str]:
    title = body.get("title") if isinstance(body, dict) else None
    return title.strip() if isinstance(title, str) and title.strip() else None
