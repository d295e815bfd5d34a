"""Records what a Cerbos PDP answers to requests.json into expected.json, the client tests' expectations.

Run against the real Cerbos PDP (scripts/cerbos-clients.sh starts one): python3 capture.py http://127.0.0.1:3592
The expectations are then reviewed by hand and committed; the tests never regenerate them.
"""

import json
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def post(base_url, path, body):
    request = urllib.request.Request(
        base_url + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def output_key(entry):
    return (entry["action"], entry["src"], json.dumps(entry.get("val"), sort_keys=True))


def expected_check(check, fixtures, base_url):
    body = {
        "requestId": check["name"],
        "includeMeta": True,
        "principal": fixtures["principals"][check["principal"]],
        "resources": [
            {"resource": fixtures["resources"][resource_id], "actions": actions}
            for resource_id, actions in check["resources"]
        ],
    }
    answer = post(base_url, "/api/check/resources", body)
    results = []
    for result in answer["results"]:
        meta = result.get("meta", {})
        results.append(
            {
                "id": result["resource"]["id"],
                "actions": result["actions"],
                "matchedPolicies": {a: m.get("matchedPolicy", "") for a, m in meta.get("actions", {}).items()},
                "matchedScopes": {a: m.get("matchedScope", "") for a, m in meta.get("actions", {}).items()},
                "effectiveDerivedRoles": sorted(meta.get("effectiveDerivedRoles", [])),
                "outputs": sorted(result.get("outputs", []), key=output_key),
            }
        )
    return results


def expected_plan(plan, fixtures, base_url):
    body = {
        "requestId": plan["name"],
        "includeMeta": True,
        "principal": fixtures["principals"][plan["principal"]],
        "resource": plan["resource"],
        "actions": plan["actions"],
    }
    answer = post(base_url, "/api/plan/resources", body)
    expected = {"kind": answer["filter"]["kind"]}
    expected["matchedScopes"] = answer.get("meta", {}).get("matchedScopes", {})
    condition = answer["filter"].get("condition")
    # Cerbos orders the operands of a composite condition differently from run to run: only a single comparison
    # (possibly negated) is recorded exactly; the tests check composite ones by evaluating them.
    if condition is not None and is_single_comparison(condition):
        expected["condition"] = condition
        expected["conditionString"] = answer["meta"]["filterDebug"]
    return expected


def is_single_comparison(operand):
    expression = operand.get("expression")
    if expression is None:
        return True
    if expression["operator"] == "not":
        return all(is_single_comparison(o) for o in expression["operands"])
    return all("expression" not in o for o in expression["operands"])


def main():
    base_url = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:3592"
    fixtures = json.loads((HERE / "requests.json").read_text())
    expected = {
        "checks": {check["name"]: expected_check(check, fixtures, base_url) for check in fixtures["checks"]},
        "plans": {plan["name"]: expected_plan(plan, fixtures, base_url) for plan in fixtures["plans"]},
    }
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
