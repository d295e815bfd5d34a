"""Pure helpers, no server: policy paths, gateway ids, refs, identities and mapper specs."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type

import httpx
import pytest

from lictor import (
    CheckResult,
    DirectoryObject,
    Identity,
    IdentityType,
    Lictor,
    LictorError,
    Ref,
    Relation,
    StatusCode,
    _api,
)
from lictor._api import identity_context
from lictor._guard import FLASK_PARAM, STARLETTE_PARAM, Source, check_spec, gateway_object_id, policy_path, to_identity


@pytest.mark.parametrize(
    "method, rule, expected",
    [
        ("GET", "/todos", "todoApp.GET.todos"),
        ("get", "/todos/", "todoApp.GET.todos"),
        ("PUT", "/todos/<id>", "todoApp.PUT.todos.__id"),
        ("DELETE", "/todos/<int:id>", "todoApp.DELETE.todos.__id"),
        ("GET", "/files/<path:rest>/meta", "todoApp.GET.files.__rest.meta"),
        ("GET", "/c/<string(length=2):code>", "todoApp.GET.c.__code"),
        ("GET", "/", "todoApp.GET"),
    ],
)
def test_policy_path_of_flask_rules(method: str, rule: str, expected: str) -> None:
    assert policy_path("todoApp", method, rule, FLASK_PARAM) == expected


@pytest.mark.parametrize(
    "route, expected",
    [("/todos/{id}", "todoApp.GET.todos.__id"), ("/todos/{id:int}/tags/{tag}", "todoApp.GET.todos.__id.tags.__tag")],
)
def test_policy_path_of_starlette_routes(route: str, expected: str) -> None:
    assert policy_path("todoApp", "GET", route, STARLETTE_PARAM) == expected


def test_gateway_object_id() -> None:
    assert gateway_object_id("todo", "get", "/todos/<id>") == "todo:GET:/todos/<id>"


def test_ref_parsing() -> None:
    assert Ref.parse("user:rick@the-citadel.com") == Ref("user", "rick@the-citadel.com")
    assert Ref.parse("group:admin#member") == Ref("group", "admin", "member")
    assert Ref.parse("endpoint:todo:GET:/todos", allow_relation=False) == Ref("endpoint", "todo:GET:/todos")
    assert str(Ref("group", "admin", "member")) == "group:admin#member"
    for bad in ["", "user", ":rick", "user:"]:
        with pytest.raises(ValueError, match="subject: expected"):
            Ref.parse(bad, name="subject")


def test_identity_forms() -> None:
    assert identity_context(None) == {"type": "IDENTITY_TYPE_NONE", "identity": ""}
    assert identity_context("rick") == {"type": "IDENTITY_TYPE_SUB", "identity": "rick"}
    assert identity_context(Identity.jwt("t")) == {"type": "IDENTITY_TYPE_JWT", "identity": "t"}
    assert identity_context(Identity.manual("m"))["type"] == IdentityType.MANUAL.value
    with pytest.raises(ValueError, match="identity: IDENTITY_TYPE_SUB needs a value"):
        identity_context(Identity(IdentityType.SUB))
    with pytest.raises(TypeError, match="identity must be"):
        identity_context(42)  # type: ignore[arg-type]


def test_identity_providers_results() -> None:
    assert to_identity("beth") == Identity.sub("beth")
    assert to_identity(Identity.jwt("t")) == Identity.jwt("t")
    with pytest.raises(TypeError, match="identity provider returned int"):
        to_identity(3)


def test_value_sources_are_validated() -> None:
    assert Source("$header(X-Id)", "object_id").arg == "X-Id"
    assert Source("$body(a.b.c)", "object_id").keys == ["a", "b", "c"]
    for bad in ["$header()", "$cookie(x)", "$param"]:
        with pytest.raises(ValueError, match=r"object_id '\$.*' is not '\$header\(NAME\)'"):
            Source(bad, "object_id")
    with pytest.raises(ValueError, match=r"object_id '\$body\(a\.\)' has an empty key"):
        Source("$body(a.)", "object_id")
    for bad_type in ["", 3]:
        with pytest.raises(TypeError, match="relation must be a non-empty string or a callable"):
            Source(bad_type, "relation")  # type: ignore[arg-type]


def test_check_options_are_validated() -> None:
    with pytest.raises(ValueError, match="object_id is required, unless gateway is given"):
        check_spec("group", None, "member", None, None, "rebac.check")
    with pytest.raises(ValueError, match=r"relation \(or permission\) is required"):
        check_spec("group", "admin", None, None, None, "rebac.check")
    with pytest.raises(ValueError, match="give relation or permission, not both"):
        check_spec("group", "admin", "member", "member", None, "rebac.check")
    with pytest.raises(ValueError, match="object_type, relation cannot be combined with gateway"):
        check_spec("group", None, "member", None, "todo", "rebac.check")
    gateway = check_spec(None, None, None, None, "todo", "rebac.check")
    assert (gateway.object_type.spec, gateway.object_id, gateway.relation.spec) == ("endpoint", None, "can_invoke")
    assert check_spec("group", "admin", None, "member", None, "rebac.check").relation.name == "permission"


def test_check_result_truthiness_and_error_text() -> None:
    assert CheckResult(allowed=True) and not CheckResult(allowed=False)
    err = LictorError(5, "gone", operation="GET /x", request_id="r1", status=404)
    assert err.code is StatusCode.NOT_FOUND and not err.unavailable
    assert str(err) == "GET /x: NOT_FOUND: gone (request id r1)"
    assert LictorError(99, "odd").code == 99
    assert LictorError(StatusCode.DEADLINE_EXCEEDED, "slow").unavailable


# Consistency tokens: x-lictor-min-revision on requests, x-lictor-revision on writes' answers.


def test_send_args_carry_min_revision_only_when_given() -> None:
    call = _api.check("user:a", "member", "group:b", False)
    assert call.send_args("r1")["headers"] == {"x-request-id": "r1"}
    assert call.send_args("r1", None)["headers"] == {"x-request-id": "r1"}
    assert call.send_args("r1", 42)["headers"] == {"x-request-id": "r1", "x-lictor-min-revision": "42"}
    assert call.send_args("r1", 0)["headers"]["x-lictor-min-revision"] == "0"
    assert call.send_args("r1", 2**64 - 1)["headers"]["x-lictor-min-revision"] == "18446744073709551615"
    manifest = _api.set_manifest("model: {version: 3}\n").send_args("r2", 7)["headers"]
    assert manifest == {"content-type": "application/yaml", "x-request-id": "r2", "x-lictor-min-revision": "7"}


@pytest.mark.parametrize(
    "bad, error, message",
    [
        (-1, ValueError, r"min_revision must be a non-negative integer \(the revision of a write\), got -1"),
        (2**64, ValueError, "min_revision must be a non-negative integer"),
        (1.0, TypeError, r"min_revision must be an int \(the revision of a write\), got float"),
        ("3", TypeError, "got str"),
        (False, TypeError, "got bool"),
    ],
)
def test_send_args_refuse_a_bad_min_revision(bad: Any, error: Type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        _api.check("user:a", "member", "group:b", False).send_args("r1", bad)


def _answer(call: "_api.Call[Any]", body: str = "{}", headers: Optional[Dict[str, str]] = None) -> httpx.Response:
    """A successful answer to ``call``."""
    request = httpx.Request(call.method, "http://lictor" + call.path)
    return httpx.Response(200, text=body, headers=headers or {}, request=request)


def test_writes_parse_the_revision_header() -> None:
    set_object = _api.set_object("resource:1", "", None, "")
    object_body = '{"result": {"type": "resource", "id": "1"}}'
    written = set_object.parse(_answer(set_object, object_body, {"x-lictor-revision": "12"}))
    assert written == DirectoryObject("resource", "1") and written.revision == 12
    unmarked = set_object.parse(_answer(set_object, object_body))
    assert unmarked.revision == 0
    set_relation = _api.set_relation("resource:1", "owner", "user:b", "")
    body = (
        '{"result": {"object_type": "resource", "object_id": "1", "relation": "owner",'
        ' "subject_type": "user", "subject_id": "b"}}'
    )
    relation = set_relation.parse(_answer(set_relation, body, {"x-lictor-revision": "13"}))
    assert relation == Relation("resource", "1", "owner", "user", "b") and relation.revision == 13
    delete_object = _api.delete_object("resource:1", True)
    assert delete_object.parse(_answer(delete_object, "{}", {"x-lictor-revision": "14"})) == 14
    assert delete_object.parse(_answer(delete_object, "{}", {"x-lictor-revision": "garbage"})) == 0
    delete_relation = _api.delete_relation("resource:1", "owner", "user:b")
    assert delete_relation.parse(_answer(delete_relation, "{}", {"x-lictor-revision": "15"})) == 15
    assert delete_relation.parse(_answer(delete_relation)) == 0
    set_manifest = _api.set_manifest("model: {version: 3}\n")
    assert set_manifest.parse(_answer(set_manifest, "{}", {"x-lictor-revision": "16"})) == 16
    assert set_manifest.parse(_answer(set_manifest, '{"revision": 17}', {"x-lictor-revision": "17"})) == 17
    assert set_manifest.parse(_answer(set_manifest, '{"revision": 18}')) == 18


def test_the_client_sends_min_revision_and_refuses_a_bad_one_before_sending() -> None:
    seen: List[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"check": True})

    with Lictor(url="http://lictor.test") as client:
        client._http.close()
        client._http = httpx.Client(base_url=client.url, transport=httpx.MockTransport(answer))
        assert client.check(subject="user:a", permission="member", object="group:b", min_revision=9)
        assert seen[-1].headers["x-lictor-min-revision"] == "9"
        assert client.check(subject="user:a", permission="member", object="group:b")
        assert "x-lictor-min-revision" not in seen[-1].headers
        bad_values: List[Any] = [-1, 0.5, "9"]
        for bad in bad_values:
            with pytest.raises((ValueError, TypeError), match="min_revision must be"):
                client.check(subject="user:a", permission="member", object="group:b", min_revision=bad)
        assert len(seen) == 2, "a request went out"
