"""Pure helpers, no server: policy paths, gateway ids, refs, identities and mapper specs."""

from __future__ import annotations

import pytest

from lictor import CheckResult, Identity, IdentityType, LictorError, Ref, StatusCode
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
