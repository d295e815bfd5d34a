"""Each of the PyPI `cerbos` clients (HTTP sync and async, gRPC sync and async) against the PDP under test, with
the requests of ../requests.json and the answers the real Cerbos PDP 0.51 gives to them (../expected.json).

The clients send no includeMeta, so matched policies and scopes are left to the Node suite."""

import json
import re
from pathlib import Path

import pytest

from clients import ALL_CLIENTS

HERE = Path(__file__).resolve().parent
FIXTURES = json.loads((HERE.parent / "requests.json").read_text())
EXPECTED = json.loads((HERE.parent / "expected.json").read_text())
PRINCIPALS = FIXTURES["principals"]
RESOURCES = FIXTURES["resources"]

clients = pytest.mark.parametrize("client", ALL_CLIENTS, ids=lambda c: c.name)


def output_key(entry):
    return (entry["action"], entry["src"], json.dumps(entry.get("val"), sort_keys=True))


def decisions_and_outputs(results):
    return [
        {"id": r["id"], "actions": r["actions"], "outputs": sorted(r["outputs"], key=output_key)} for r in results
    ]


def evaluate(operand, resource):
    """A plan's condition applied to one resource, as a database would apply the query built from it."""
    if "value" in operand:
        return operand["value"]
    if "variable" in operand:
        prefix = "request.resource.attr."
        assert operand["variable"].startswith(prefix), operand
        return resource.get("attr", {}).get(operand["variable"][len(prefix) :])
    expression = operand["expression"]
    args = expression["operands"]
    operator = expression["operator"]
    if operator == "and":
        return all(evaluate(a, resource) is True for a in args)
    if operator == "or":
        return any(evaluate(a, resource) is True for a in args)
    if operator == "not":
        return evaluate(args[0], resource) is not True
    if operator == "eq":
        return evaluate(args[0], resource) == evaluate(args[1], resource)
    if operator == "ne":
        return evaluate(args[0], resource) != evaluate(args[1], resource)
    raise AssertionError(f"operator {operator} is not known to this test's evaluator")


@clients
@pytest.mark.parametrize("check", FIXTURES["checks"], ids=lambda c: c["principal"])
def test_check_resources(client, check):
    entries = [(RESOURCES[resource_id], actions) for resource_id, actions in check["resources"]]
    got = client.check(PRINCIPALS[check["principal"]], entries)
    assert decisions_and_outputs(got) == decisions_and_outputs(EXPECTED["checks"][check["name"]])


IS_ALLOWED = [
    ("alice", "d1", "edit", True),
    ("alice", "d1", "delete", False),
    ("alice", "d4", "comment", True),
    ("bob", "d5", "edit", False),
    ("bob", "d5", "view", True),
    ("bob", "d6", "view", False),
    ("dave", "d7", "archive", False),
    ("dave", "d8", "archive", True),
]


@clients
@pytest.mark.parametrize("who,resource_id,action,want", IS_ALLOWED, ids=lambda v: str(v))
def test_is_allowed(client, who, resource_id, action, want):
    assert client.is_allowed(PRINCIPALS[who], RESOURCES[resource_id], action) is want


@clients
@pytest.mark.parametrize("plan", FIXTURES["plans"], ids=lambda p: p["name"])
def test_plan_resources(client, plan):
    want = EXPECTED["plans"][plan["name"]]
    got = client.plan(PRINCIPALS[plan["principal"]], plan["resource"], plan["actions"])
    assert got["kind"] == want["kind"]
    if "condition" in want:
        assert got["condition"] == want["condition"]
    covered = [
        r
        for r in RESOURCES.values()
        if r["kind"] == plan["resource"]["kind"]
        and r.get("scope", "") == plan["resource"].get("scope", "")
        and r.get("policyVersion", "default") == plan["resource"].get("policyVersion", "default")
    ]
    assert covered
    for resource in covered:
        [result] = client.check(PRINCIPALS[plan["principal"]], [(resource, plan["actions"])])
        allowed = all(effect == "EFFECT_ALLOW" for effect in result["actions"].values())
        if got["kind"] == "KIND_ALWAYS_ALLOWED":
            planned = True
        elif got["kind"] == "KIND_ALWAYS_DENIED":
            planned = False
        else:
            planned = evaluate(got["condition"], resource)
        assert planned == allowed, f"plan and check disagree on {resource['id']}"


@clients
def test_server_identity(client):
    healthy = client.healthy()
    version = client.server_version()
    # The HTTP clients can ask for health only, the gRPC ones for the server's version only.
    assert healthy is True or re.match(r"^\d+\.\d+\.\d+", version or "")
