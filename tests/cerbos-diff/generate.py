"""Seeded generator of Cerbos policy stores and requests for the differential test.

`generate(seed)` returns a `Case`: the policy files of one store (every policy kind: resource policies with
versions and scopes under both scopePermissions, principal policies, role policies, derived roles, exported
variables and constants), the PDP's engine settings, CheckResources requests and PlanResources requests with
the concrete resources to test each plan on. The same seed always gives the same case.

What Cerbos itself answers differently from run to run (SEMANTICS.md, point 12) is never generated: outputs only
appear in policies without DENY rules and outside scopes that require parental consent, and `conditionNotMet`
outputs only on rules that name plain roles.
"""

import json
import random
from dataclasses import dataclass, field

KINDS = ["document", "album:photo", "leave_request"]
ACTIONS = ["view", "edit", "delete", "approve", "report:read", "report:write"]
ROLES = ["user", "manager", "admin", "auditor"]
PRINCIPAL_IDS = ["alice", "bob", "carol@example.com", "dave"]
DEPARTMENTS = ["sales", "eng", "hr"]
STATUSES = ["draft", "published", "archived"]
TAGS = ["a", "b", "c", "d"]
PATHS = ["a", "a.b", "a.b.c", "a.c", "x.y", "a.b.d"]
IPS = ["10.1.2.3", "10.20.0.7", "192.168.1.5", "172.16.0.1"]
CIDRS = ["10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/16", "172.16.0.0/12"]
TITLES = ["Report", "quarterly report", "Q3 plan", "memo", "  Memo  ", "Roadmap 2025"]
TIMESTAMPS = [
    "2024-01-15T08:30:00Z",
    "2024-06-03T10:20:30+02:00",
    "2024-06-04T23:59:59Z",
    "2023-12-31T22:00:00-05:00",
    "2025-02-28T12:00:00.5Z",
]
DURATIONS = ["45s", "90m", "2h", "26h", "1h30m"]
# Scopes of the store: a chain, so every scoped policy has its ancestors (Cerbos requires them).
SCOPES = ["acme", "acme.hr"]
SCOPE_PERMISSIONS = [None, "SCOPE_PERMISSIONS_OVERRIDE_PARENT", "SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS"]
GLOBALS = {"environment": "test", "max_amount": 1500}


@dataclass
class Case:
    """One generated store with its requests."""

    seed: int
    files: dict = field(default_factory=dict)
    engine: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)
    plans: list = field(default_factory=list)


def q(text):
    """A CEL string literal."""
    return json.dumps(text)


def number_literal(rng, low, high):
    """An int or a double CEL literal: JSON attributes are doubles, and the two mix only in comparisons."""
    value = rng.randint(low, high)
    return f"{value}.0" if rng.random() < 0.4 else str(value)


class Conditions:
    """Random CEL conditions over the attributes `principal_attr` and `resource_attr` generate."""

    def __init__(self, rng, variables=(), constants=()):
        self.rng = rng
        self.variables = list(variables)
        self.constants = list(constants)

    def leaf(self):
        rng = self.rng
        choices = [
            lambda: "R.attr.owner == P.id",
            lambda: "request.resource.attr.department == request.principal.attr.department",
            lambda: f"R.attr.status == {q(rng.choice(STATUSES))}",
            lambda: f"R.attr.status in {json.dumps(rng.sample(STATUSES, 2))}",
            lambda: "R.attr.public == true",
            lambda: "R.attr.public",
            lambda: f"R.attr.amount {rng.choice(['<', '<=', '>', '>=', '=='])} {number_literal(rng, 0, 2000)}",
            lambda: f"P.attr.level {rng.choice(['<', '>', '=='])} {number_literal(rng, 1, 5)}",
            lambda: f"P.attr.level + 1 > {rng.randint(1, 5)}",
            lambda: f"P.attr.level + 1.0 > {rng.randint(1, 5)}.0",
            lambda: f"int(P.attr.level) + 1 > {rng.randint(1, 5)}",
            lambda: "R.attr.amount <= P.attr.level * 400.0",
            lambda: f"int(R.attr.amount) % {rng.randint(2, 4)} == 0",
            lambda: "hasIntersection(R.attr.tags, P.attr.tags)",
            lambda: "R.attr.tags.hasIntersection(P.attr.tags)",
            lambda: f"intersect(R.attr.tags, P.attr.tags).size() >= {rng.randint(1, 2)}",
            lambda: "R.attr.tags.except(P.attr.tags).size() == 0",
            lambda: "R.attr.tags.isSubset(P.attr.tags)",
            lambda: f"{q(rng.choice(TAGS))} in R.attr.tags",
            lambda: f"R.attr.tags.exists(t, t in {json.dumps(rng.sample(TAGS, 2))})",
            lambda: "R.attr.tags.all(t, t in P.attr.tags)",
            lambda: f"R.attr.tags.exists_one(t, t == {q(rng.choice(TAGS))})",
            lambda: "R.attr.tags.filter(t, t in P.attr.tags).size() > 1",
            lambda: f"size(R.attr.tags) {rng.choice(['<', '>='])} {rng.randint(1, 3)}",
            lambda: self.hierarchy(),
            lambda: f"P.attr.ip.inIPAddrRange({q(rng.choice(CIDRS))})",
            lambda: f"timestamp(R.attr.createdAt) {rng.choice(['<', '>'])} timestamp({q(rng.choice(TIMESTAMPS))})",
            lambda: f"timestamp(R.attr.createdAt).{self.timestamp_getter()} {rng.choice(['==', '>', '<'])} "
            f"{rng.randint(0, 12)}",
            lambda: f"timestamp(R.attr.updatedAt) - timestamp(R.attr.createdAt) > duration({q(rng.choice(DURATIONS))})",
            lambda: f"timestamp(R.attr.createdAt) + duration({q(rng.choice(DURATIONS))}) < timestamp(R.attr.updatedAt)",
            lambda: f"duration(R.attr.ttl) {rng.choice(['<', '>='])} duration({q(rng.choice(DURATIONS))})",
            lambda: f"duration(R.attr.ttl).getMinutes() > {rng.randint(10, 100)}",
            lambda: self.string_condition(),
            lambda: self.math_condition(),
            lambda: f"has(R.attr.{rng.choice(['owner', 'department', 'amount', 'nickname'])})",
            lambda: f"!has(R.attr.{rng.choice(['owner', 'nickname'])})",
            lambda: "R.attr.nickname == P.id",
            lambda: f"{q(rng.choice(ROLES))} in P.roles",
            lambda: f"R.id.startsWith({q(rng.choice(['d', 'r1', 'r']))})",
            lambda: f"G.environment == {q(rng.choice(['test', 'prod']))}",
            lambda: "R.attr.amount < G.max_amount",
            lambda: f"R.attr.department in {json.dumps(rng.sample(DEPARTMENTS, 2))}",
            lambda: f"P.attr.department != {q(rng.choice(DEPARTMENTS))}",
        ]
        if self.variables:
            choices.append(lambda: f"V.{rng.choice(self.variables)}")
            choices.append(lambda: f"!V.{rng.choice(self.variables)}")
        if self.constants:
            choices.append(lambda: "R.attr.amount < C.max_amount")
            choices.append(lambda: "R.attr.status in C.open_statuses")
            choices.append(lambda: f"C.label == {q(rng.choice(['standard', 'other']))}")
        return rng.choice(choices)()

    def hierarchy(self):
        rng = self.rng
        other = rng.choice(["hierarchy(P.attr.path)", f"hierarchy({q(rng.choice(PATHS))})"])
        method = rng.choice(
            ["ancestorOf", "descendentOf", "immediateChildOf", "immediateParentOf", "siblingOf", "overlaps"]
        )
        if rng.random() < 0.15:
            return f"hierarchy(R.attr.path).commonAncestors({other}).size() > 0"
        if rng.random() < 0.1:
            return f"hierarchy(R.attr.path).size() > {rng.randint(1, 2)}"
        return f"hierarchy(R.attr.path).{method}({other})"

    def timestamp_getter(self):
        rng = self.rng
        getter = rng.choice(["getFullYear()", "getMonth()", "getDayOfMonth()", "getDayOfWeek()", "getHours()"])
        if getter == "getFullYear()":
            return getter  # compared with 0..12 it is simply false; still exercised
        if getter == "getHours()" and rng.random() < 0.5:
            return f"getHours({q(rng.choice(['Europe/Paris', 'America/New_York', 'UTC']))})"
        return getter

    def string_condition(self):
        rng = self.rng
        title = "R.attr.title"
        return rng.choice(
            [
                f"{title}.startsWith({q(rng.choice(['Q', 'R', 'q']))})",
                f"{title}.endsWith({q(rng.choice(['report', 'plan', 'o']))})",
                f"{title}.contains({q(rng.choice(['port', 'emo', 'an']))})",
                f"{title}.matches({q(rng.choice(['^[A-Z][a-z]+$', '[0-9]+', '^ +']))})",
                f"{title}.lowerAscii() == {q(rng.choice(['report', 'memo']))}",
                f"{title}.upperAscii().startsWith({q('Q')})",
                f"{title}.replace({q('o')}, {q('0')}).contains({q('0')})",
                f"{title}.split({q(' ')}).size() > 1",
                f"{title}.trim() == {q('Memo')}",
                f"{title}.indexOf({q('r')}) {rng.choice(['==', '>'])} {rng.randint(0, 3)}",
                f"{title}.substring(0, 2) == {q(rng.choice(['Re', 'qu', 'Q3']))}",
                f"size({title}) > {rng.randint(3, 12)}",
                f"{title} + {q('!')} == {q('memo!')}",
                f"{title}.charAt(0) == {q(rng.choice(['R', 'q', ' ']))}",
            ]
        )

    def math_condition(self):
        rng = self.rng
        return rng.choice(
            [
                f"math.greatest(R.attr.amount, {number_literal(rng, 100, 1000)}) > {rng.randint(100, 1500)}.0",
                f"math.least([R.attr.amount, P.attr.level * 100.0]) < {rng.randint(50, 600)}.0",
                f"math.ceil(R.attr.amount) {rng.choice(['==', '>'])} {rng.randint(0, 2000)}.0",
                f"math.floor(R.attr.amount) < {rng.randint(0, 2000)}.0",
                f"math.abs(R.attr.amount - {rng.randint(0, 2000)}.0) < 300.0",
                f"math.round(R.attr.amount) == {rng.randint(0, 20)}.0",
                "double(R.attr.amount) / 2.0 > P.attr.level",
            ]
        )

    def condition(self, depth=0):
        """A `condition.match` body: one expression, or all/any/none of nested ones."""
        rng = self.rng
        if depth >= 2 or rng.random() < 0.6:
            return {"expr": self.leaf()}
        operator = rng.choice(["all", "any", "none"])
        return {operator: {"of": [self.condition(depth + 1) for _ in range(rng.randint(1, 3))]}}


def output_expression(rng):
    return rng.choice(
        [
            f"{q('allowed:')} + P.id",
            '{"id": R.id, "amount": R.attr.amount}',
            "[R.id, P.id, R.attr.status]",
            "timestamp(R.attr.createdAt)",
            "duration(R.attr.ttl)",
            "R.attr.amount + 1",
            "P.attr.level * 2.0",
            "R.attr.tags",
            "hierarchy(R.attr.path).size()",
            "R.attr.title.upperAscii()",
            f"{q('scope')} + {q(':')} + R.scope",
            "P.attr.ip.inIPAddrRange(" + q("10.0.0.0/8") + ")",
            "timestamp(R.attr.updatedAt) - timestamp(R.attr.createdAt)",
        ]
    )


class StoreBuilder:
    """Builds one store: the policy files and what the requests may refer to."""

    def __init__(self, rng):
        self.rng = rng
        self.files = {}
        self.kinds = rng.sample(KINDS, 2)
        # One scopePermissions value per scope, shared by every policy in it.
        self.scope_permissions = {scope: rng.choice(SCOPE_PERMISSIONS) for scope in SCOPES}
        self.derived_role_sets = {}
        # (kind, version, scope) of every resource policy.
        self.resource_policy_keys = []

    def add(self, path, document):
        self.files[path] = document

    def exports(self):
        self.add(
            "export_variables/common_vars.yaml",
            {
                "apiVersion": "api.cerbos.dev/v1",
                "exportVariables": {
                    "name": "common_vars",
                    "definitions": {
                        "is_owner": "R.attr.owner == P.id",
                        "same_department": "R.attr.department == P.attr.department",
                        "big_amount": "R.attr.amount > 1000",
                    },
                },
            },
        )
        self.add(
            "export_constants/common_consts.yaml",
            {
                "apiVersion": "api.cerbos.dev/v1",
                "exportConstants": {
                    "name": "common_consts",
                    "definitions": {"max_amount": 1000, "open_statuses": ["draft", "published"], "label": "standard"},
                },
            },
        )

    def derived_roles(self):
        rng = self.rng
        for index in range(rng.randint(1, 2)):
            name = f"roles_{index}"
            conditions = Conditions(rng, ["is_owner", "same_department", "big_amount", "local_flag"], ["c"])
            definitions = []
            for role_index in range(rng.randint(2, 4)):
                definition = {
                    "name": f"{['owner', 'peer', 'boss', 'insider'][role_index]}_{index}",
                    "parentRoles": rng.sample(ROLES, rng.randint(1, 2)) if rng.random() < 0.85 else ["*"],
                }
                if rng.random() < 0.85:
                    definition["condition"] = {"match": conditions.condition()}
                definitions.append(definition)
            body = {"name": name, "definitions": definitions}
            body["variables"] = {
                "import": ["common_vars"],
                "local": {"local_flag": rng.choice(["R.attr.public == true", "P.attr.level > 2"])},
            }
            body["constants"] = {"import": ["common_consts"]}
            self.derived_role_sets[name] = [d["name"] for d in definitions]
            self.add(f"derived_roles/{name}.yaml", {"apiVersion": "api.cerbos.dev/v1", "derivedRoles": body})

    def rules(self, with_derived_roles, allow_deny, allow_outputs, conditions, rule_prefix):
        rng = self.rng
        rules = []
        for index in range(rng.randint(2, 5)):
            rule = {"name": f"{rule_prefix}{index}"}
            if rng.random() < 0.1:
                rule["actions"] = ["*"]
            elif rng.random() < 0.15:
                rule["actions"] = ["report:*"]
            else:
                rule["actions"] = rng.sample(ACTIONS, rng.randint(1, 3))
            effect = "EFFECT_DENY" if allow_deny and rng.random() < 0.3 else "EFFECT_ALLOW"
            rule["effect"] = effect
            uses_derived = bool(with_derived_roles) and rng.random() < 0.45
            if uses_derived:
                rule["derivedRoles"] = rng.sample(with_derived_roles, min(len(with_derived_roles), rng.randint(1, 2)))
            else:
                rule["roles"] = rng.sample(ROLES, rng.randint(1, 2)) if rng.random() < 0.85 else ["*"]
            if rng.random() < 0.6:
                rule["condition"] = {"match": conditions.condition()}
            if allow_outputs and rng.random() < 0.4:
                when = {"ruleActivated": output_expression(rng)}
                if not uses_derived and "condition" in rule and rng.random() < 0.5:
                    when["conditionNotMet"] = output_expression(rng)
                rule["output"] = {"when": when}
            rules.append(rule)
        return rules

    def resource_policies(self):
        rng = self.rng
        for kind in self.kinds:
            safe = kind.replace(":", "_")
            versions = ["default"] + (["2"] if rng.random() < 0.5 else [])
            for version in versions:
                scopes = [""] + SCOPES[: rng.randint(0, len(SCOPES))] if version == "default" else [""]
                for scope in scopes:
                    permissions = self.scope_permissions.get(scope)
                    has_outputs = permissions != SCOPE_PERMISSIONS[2] and rng.random() < 0.5
                    imported = rng.sample(sorted(self.derived_role_sets), rng.randint(0, len(self.derived_role_sets)))
                    derived = [role for name in imported for role in self.derived_role_sets[name]]
                    conditions = Conditions(rng, ["is_owner", "same_department", "big_amount", "mine"], ["c"])
                    body = {"resource": kind, "version": version}
                    if scope:
                        body["scope"] = scope
                        if permissions:
                            body["scopePermissions"] = permissions
                    if imported:
                        body["importDerivedRoles"] = imported
                    body["variables"] = {"import": ["common_vars"], "local": {"mine": "R.attr.owner == P.id"}}
                    body["constants"] = {"import": ["common_consts"]}
                    body["rules"] = self.rules(derived, not has_outputs, has_outputs, conditions, "rule-")
                    self.resource_policy_keys.append((kind, version, scope))
                    name = f"resource_policies/{safe}_{version}{'_' + scope if scope else ''}.yaml"
                    self.add(name, {"apiVersion": "api.cerbos.dev/v1", "resourcePolicy": body})

    def principal_policies(self):
        rng = self.rng
        for principal in rng.sample(PRINCIPAL_IDS, rng.randint(1, 2)):
            scopes = [""] + SCOPES[: rng.randint(0, len(SCOPES))]
            for scope in scopes:
                permissions = self.scope_permissions.get(scope)
                has_outputs = permissions != SCOPE_PERMISSIONS[2] and rng.random() < 0.4
                conditions = Conditions(rng, ["is_owner", "same_department", "big_amount"], ["c"])
                rules = []
                for kind in rng.sample(self.kinds + ["*", self.kinds[0][:3] + "*"], rng.randint(1, 2)):
                    actions = []
                    for action in rng.sample(ACTIONS + ["*"], rng.randint(1, 3)):
                        entry = {
                            "action": action,
                            "effect": "EFFECT_DENY" if not has_outputs and rng.random() < 0.35 else "EFFECT_ALLOW",
                        }
                        if rng.random() < 0.5:
                            entry["condition"] = {"match": conditions.condition()}
                        if has_outputs and rng.random() < 0.4:
                            entry["output"] = {"when": {"ruleActivated": output_expression(rng)}}
                        actions.append(entry)
                    rules.append({"resource": kind, "actions": actions})
                body = {"principal": principal, "version": "default", "rules": rules}
                body["variables"] = {"import": ["common_vars"]}
                body["constants"] = {"import": ["common_consts"]}
                if scope:
                    body["scope"] = scope
                    if permissions:
                        body["scopePermissions"] = permissions
                safe = principal.replace("@", "_").replace(".", "_")
                name = f"principal_policies/{safe}{'_' + scope if scope else ''}.yaml"
                self.add(name, {"apiVersion": "api.cerbos.dev/v1", "principalPolicy": body})

    def role_policies(self):
        rng = self.rng
        for index in range(rng.randint(0, 2)):
            role = f"custom_{index}"
            # Cerbos refuses a role policy beside policies of its scope that state their scopePermissions.
            scope = rng.choice(["", *(s for s in SCOPES if self.scope_permissions[s] is None)])
            conditions = Conditions(rng)
            rules = []
            # Rules of one role policy never overlap on a resource: Cerbos then picks one of them at random.
            kinds = ["*"] if rng.random() < 0.3 else rng.sample(self.kinds, rng.randint(1, 2))
            for kind in kinds:
                rule = {"resource": kind, "allowActions": rng.sample(ACTIONS + ["report:*"], rng.randint(1, 3))}
                if rng.random() < 0.4:
                    rule["condition"] = {"match": conditions.condition()}
                rules.append(rule)
            body = {"role": role, "parentRoles": rng.sample(ROLES, rng.randint(1, 2)), "rules": rules}
            if scope:
                body["scope"] = scope
            self.add(f"role_policies/{role}.yaml", {"apiVersion": "api.cerbos.dev/v1", "rolePolicy": body})


def principal_attr(rng, complete=False):
    attr = {
        "department": rng.choice(DEPARTMENTS),
        "level": rng.choice([1, 2, 3, 4, 2.5, 0.5]),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "path": rng.choice(PATHS),
        "ip": rng.choice(IPS),
    }
    if not complete:
        for key in list(attr):
            if rng.random() < 0.08:
                del attr[key]
    return attr


def resource_attr(rng, complete=False):
    attr = {
        "owner": rng.choice(PRINCIPAL_IDS + ["erin"]),
        "department": rng.choice(DEPARTMENTS),
        "status": rng.choice(STATUSES),
        "amount": rng.choice([0, 10, 250, 999, 1000, 1500, 12.5, 1000.25, rng.randint(0, 2000)]),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "path": rng.choice(PATHS),
        "createdAt": rng.choice(TIMESTAMPS),
        "updatedAt": rng.choice(TIMESTAMPS),
        "ttl": rng.choice(DURATIONS),
        "title": rng.choice(TITLES),
        "public": rng.random() < 0.4,
    }
    if not complete:
        for key in list(attr):
            if rng.random() < 0.08:
                del attr[key]
        # Now and then a value of the wrong type: every condition on it then fails at its own leaf.
        if rng.random() < 0.05:
            attr["amount"] = str(attr.get("amount", 1))
    return attr


def principal(rng, builder, complete=False):
    roles = rng.sample(ROLES, rng.randint(1, 2))
    if rng.random() < 0.3:
        roles.append(rng.choice(["custom_0", "custom_1"]))
    body = {"id": rng.choice(PRINCIPAL_IDS), "roles": roles, "attr": principal_attr(rng, complete)}
    if not complete and rng.random() < 0.15:
        body["scope"] = rng.choice(SCOPES)
    if not complete and rng.random() < 0.1:
        body["policyVersion"] = rng.choice(["default", "2"])
    return body


def resource(rng, builder, index, kind=None, scope=None, version=None, complete=False):
    body = {"kind": kind or rng.choice(builder.kinds + ["unknown_kind"] if rng.random() < 0.05 else builder.kinds)}
    body["id"] = f"r{index}"
    body["attr"] = resource_attr(rng, complete)
    if scope is None:
        scope = rng.choice(["", "", "acme", "acme.hr", "acme.hr.uk", "other"])
    if scope:
        body["scope"] = scope
    if version is None:
        version = "2" if rng.random() < 0.2 else ""
    if version:
        body["policyVersion"] = version
    return body


def generate(seed, requests=30, plans=6):
    """The case of one seed: `requests` CheckResources requests and `plans` PlanResources requests."""
    rng = random.Random(seed)
    builder = StoreBuilder(rng)
    builder.exports()
    builder.derived_roles()
    builder.resource_policies()
    builder.principal_policies()
    builder.role_policies()
    case = Case(seed=seed, files={path: to_yaml(doc) for path, doc in sorted(builder.files.items())})
    case.engine = {"defaultPolicyVersion": "default", "lenientScopeSearch": seed % 3 == 2, "globals": GLOBALS}
    for number in range(requests):
        entries = []
        for index in range(rng.randint(1, 3)):
            actions = rng.sample(ACTIONS + ["report:export"], rng.randint(2, 4))
            entries.append({"resource": resource(rng, builder, index), "actions": actions})
        case.checks.append(
            {
                "requestId": f"seed{seed}-check{number}",
                "includeMeta": True,
                "principal": principal(rng, builder),
                "resources": entries,
            }
        )
    for number in range(plans):
        # Only where a resource policy exists: elsewhere Cerbos's plans and checks disagree with each other (a
        # scope without a policy of that version is planned as if it had one).
        kind, version, scope = rng.choice(builder.resource_policy_keys)
        version = "" if version == "default" else version
        request = {
            "requestId": f"seed{seed}-plan{number}",
            "includeMeta": True,
            "action": rng.choice(ACTIONS),
            "principal": principal(rng, builder, complete=True),
            "resource": {"kind": kind, **({"scope": scope} if scope else {}), **({"policyVersion": version} if version else {})},
        }
        probes = [
            resource(rng, builder, index, kind=kind, scope=scope, version=version, complete=True) for index in range(10)
        ]
        case.plans.append({"request": request, "resources": probes})
    return case


def to_yaml(value, indent=0):
    """Block-style YAML; every string double-quoted (JSON escapes are valid YAML), so no value is misread."""
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}{key}: {scalar(item)}\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]\n"
        lines = []
        for item in value:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 1)
                lines.append(f"{pad}- {body[len(pad) + 2:]}")
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-\n{to_yaml(item, indent + 1)}")
            else:
                lines.append(f"{pad}- {scalar(item)}\n")
        return "".join(lines)
    return f"{pad}{scalar(value)}\n"


def scalar(value):
    if isinstance(value, dict) or isinstance(value, list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value)


if __name__ == "__main__":
    import sys

    generated = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    for path, text in generated.files.items():
        print(f"--- {path}\n{text}")
    print(json.dumps(generated.checks[0], indent=1))
