"""Smoke test of a running todo-flask app: `python smoke_test.py http://127.0.0.1:PORT [SECRET]`.

Waits for the app to answer, then walks the demo's users through the todo API and checks every
answer. Exits non-zero on the first wrong one."""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional

import httpx

from app import DEV_SECRET, make_token

RICK, MORTY, BETH, JERRY = (
    "rick@the-citadel.com",
    "morty@the-citadel.com",
    "beth@the-smiths.com",
    "jerry@the-smiths.com",
)


def main(base: str, secret: str) -> None:
    http = httpx.Client(base_url=base, timeout=10)
    _wait(http)

    def call(method: str, path: str, user: Optional[str], expect: int, json: Any = None) -> Any:
        headers: Dict[str, str] = {"Authorization": f"Bearer {make_token(user, secret)}"} if user else {}
        res = http.request(method, path, headers=headers, json=json)
        if res.status_code != expect:
            raise SystemExit(f"smoke: {method} {path} as {user}: expected {expect}, got {res.status_code}: {res.text}")
        print(f"ok   {method:6} {path:40} {user or 'anonymous':24} {res.status_code}")
        return res.json() if res.content else None

    call("GET", "/todos", None, 401)
    call("GET", "/todos", BETH, 200)
    call("POST", "/todos", BETH, 403, {"title": "beth may not"})
    todo = call("POST", "/todos", MORTY, 201, {"title": "portal gun batteries"})
    assert todo["owner"] == MORTY and todo["completed"] is False, todo
    path = f"/todos/{todo['id']}"
    assert [t["id"] for t in call("GET", "/todos", JERRY, 200)] == [todo["id"]]
    call("PUT", path, RICK, 403, {"completed": True})
    updated = call("PUT", path, MORTY, 200, {"completed": True})
    assert updated["completed"] is True, updated
    call("DELETE", path, BETH, 403)
    dsm = call("GET", "/__displaystatemap", RICK, 200)
    assert dsm["todoApp/POST/todos"] == {"visible": True, "enabled": True, "allowed": True}, dsm
    assert dsm["todoApp/GET/todos"]["allowed"] is True, dsm
    call("DELETE", path, MORTY, 204)
    assert call("GET", "/todos", MORTY, 200) == []
    print("smoke: todo-flask passed")


def _wait(http: httpx.Client, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            http.get("/todos")
            return
        except httpx.TransportError as e:
            if time.monotonic() > deadline:
                raise SystemExit(f"smoke: no answer from {http.base_url} within {seconds:g}s: {e}") from e
            time.sleep(0.2)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python smoke_test.py http://HOST:PORT [JWT_SECRET]")
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else DEV_SECRET)
