"""Provisions users and groups through Lictor's SCIM endpoint the way an identity provider does, and
checks after each step what landed in the directory, through Lictor's own REST API.

    python provision.py --address 127.0.0.1:PORT --scim-token KEY --admin-key KEY --jwt-secret SECRET

ADDRESS is the directory REST port of a `lictor run --demo` server; its SCIM base URL is
http://ADDRESS/scim/v2. The SCIM requests go through scim2-client, except the few that must be sent
byte for byte (Entra ID's string booleans, stale If-Match headers), which go through httpx2 raw.

Then: an Is through the demo's todoApp.GET.todos policy for a SCIM-created user, authenticated with a
JWT whose subject is the user's userName, and a relation the application wrote itself for a SCIM user,
which must survive the user's PATCHes and deletion.

With --scim-only only the SCIM half runs (no directory, Is or JWT checks): to try the script on
another SCIM server, whose base URL --base-url then gives.

Prints every check, and exits 1 when one failed.
"""

import argparse
import json
import secrets
import sys
import time
import traceback
from typing import Any

import httpx2
import jwt
from scim2_client import SCIMClientException
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Email
from scim2_models import EnterpriseUser
from scim2_models import Group
from scim2_models import GroupMember
from scim2_models import Name
from scim2_models import PatchOp
from scim2_models import PatchOperation
from scim2_models import SCIMException
from scim2_models import SearchRequest
from scim2_models import User

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_JSON = "application/scim+json"
EnterpriseUserT = User[EnterpriseUser]


class Failed(Exception):
    """A check that later steps depend on failed: the run stops there."""


class Run:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: object = "") -> bool:
        if ok:
            self.passed += 1
            print(f"  ok    {what}")
        else:
            text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
            if len(text) > 1500:
                text = text[:1497] + "..."
            self.failed.append(f"{what}: {text}" if text else what)
            print(f"  FAIL  {what}" + (f": {text}" if text else ""))
        return ok

    def require(self, ok: bool, what: str, detail: object = "") -> None:
        if not self.check(ok, what, detail):
            raise Failed(what)

    def equal(self, actual: Any, expected: Any, what: str) -> bool:
        return self.check(actual == expected, what, f"expected {expected!r}, got {actual!r}")


def step(title: str) -> None:
    print(f"== {title}")


def contains_value(tree: Any, value: Any) -> bool:
    """Whether a JSON value holds `value` anywhere (as a dict value or list item, at any depth)."""
    if tree == value:
        return True
    if isinstance(tree, dict):
        return any(contains_value(item, value) for item in tree.values())
    if isinstance(tree, list):
        return any(contains_value(item, value) for item in tree)
    return False


def response_detail(response: httpx2.Response) -> str:
    return f"HTTP {response.status_code} {response.text[:800]}"


def scim_error_detail(exc: Exception) -> str:
    source = getattr(exc, "source", None)
    if isinstance(source, httpx2.Response):
        return f"{exc} ({response_detail(source)})"
    return f"{type(exc).__name__}: {exc}"


class Directory:
    """Lictor's own REST API, with an API key of the read, write and admin scopes."""

    def __init__(self, http: httpx2.Client):
        self.http = http

    def get_object(self, object_type: str, object_id: str) -> httpx2.Response:
        return self.http.get(f"/api/v3/directory/object/{object_type}/{object_id}")

    def properties(self, object_type: str, object_id: str) -> dict[str, Any]:
        response = self.get_object(object_type, object_id)
        if response.status_code != 200:
            raise Failed(f"GET object {object_type}:{object_id}: {response_detail(response)}")
        return response.json()["result"].get("properties") or {}

    def relations(self, object_type: str, object_id: str, relation: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"object_type": object_type, "object_id": object_id, "relation": relation}
            if token:
                params["page.token"] = token
            response = self.http.get("/api/v3/directory/relations", params=params)
            if response.status_code != 200:
                raise Failed(f"GET relations {object_type}:{object_id}#{relation}: {response_detail(response)}")
            body = response.json()
            found.extend(body.get("results") or [])
            token = (body.get("page") or {}).get("next_token") or ""
            if not token:
                return found

    def subjects(self, object_type: str, object_id: str, relation: str) -> set[str]:
        return {
            f"{rel['subject_type']}:{rel['subject_id']}" + (f"#{rel['subject_relation']}" if rel.get("subject_relation") else "")
            for rel in self.relations(object_type, object_id, relation)
        }

    def relation_exists(self, object_type: str, object_id: str, relation: str, subject_type: str, subject_id: str) -> bool:
        response = self.http.get(
            "/api/v3/directory/relation",
            params={
                "object_type": object_type,
                "object_id": object_id,
                "relation": relation,
                "subject_type": subject_type,
                "subject_id": subject_id,
            },
        )
        if response.status_code not in (200, 404):
            raise Failed(f"GET relation: {response_detail(response)}")
        return response.status_code == 200

    def set_relation(self, object_type: str, object_id: str, relation: str, subject_type: str, subject_id: str) -> httpx2.Response:
        return self.http.post(
            "/api/v3/directory/relation",
            json={
                "relation": {
                    "object_type": object_type,
                    "object_id": object_id,
                    "relation": relation,
                    "subject_type": subject_type,
                    "subject_id": subject_id,
                }
            },
        )

    def is_allowed(self, token: str, path: str = "todoApp.GET.todos") -> httpx2.Response:
        return self.http.post(
            "/api/v2/authz/is",
            json={
                "identity_context": {"type": "IDENTITY_TYPE_JWT", "identity": token},
                "policy_context": {"path": path, "decisions": ["allowed"]},
                "resource_context": {},
            },
        )


class Provisioning:
    def __init__(self, args: argparse.Namespace, run: Run):
        self.args = args
        self.run = run
        self.suffix = secrets.token_hex(4)
        self.scim_http = httpx2.Client(
            base_url=args.base_url,
            headers={"Authorization": f"Bearer {args.scim_token}"},
            timeout=30,
        )
        self.scim = SyncSCIMClient(self.scim_http)
        self.directory: Directory | None = None
        if not args.scim_only:
            self.directory = Directory(
                httpx2.Client(
                    base_url=f"http://{args.address}",
                    headers={"authorization": f"basic {args.admin_key}"},
                    timeout=30,
                )
            )

    # --- SCIM helpers -----------------------------------------------------------------------

    def raw(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx2.Response:
        all_headers = {"Accept": SCIM_JSON}
        if body is not None:
            all_headers["Content-Type"] = SCIM_JSON
        all_headers.update(headers or {})
        content = json.dumps(body) if body is not None else None
        return self.scim_http.request(method, path, content=content, headers=all_headers)

    def get_user(self, user_id: str) -> Any:
        return self.scim.query(EnterpriseUserT, user_id)

    def modify_user(self, user_id: str, *operations: PatchOperation) -> Any:
        return self.scim.modify(EnterpriseUserT, user_id, PatchOp[EnterpriseUserT](operations=list(operations)))

    def modify_group(self, group_id: str, *operations: PatchOperation) -> Any:
        return self.scim.modify(Group, group_id, PatchOp[Group](operations=list(operations)))

    def list_users(self, **params: Any) -> Any:
        return self.scim.query(EnterpriseUserT, query_parameters=SearchRequest(**params))

    # --- directory helpers --------------------------------------------------------------------

    def check_user_in_directory(self, user: Any, what: str) -> None:
        """The user object (id = SCIM id) holds the SCIM attributes, and its identities are linked."""
        if self.directory is None:
            return
        props = self.directory.properties("user", user.id)
        run = self.run
        run.equal(props.get("userName"), user.user_name, f"{what}: directory user:{user.id} has userName")
        run.equal(props.get("active"), user.active, f"{what}: directory user has active")
        if user.name and user.name.given_name:
            run.equal((props.get("name") or {}).get("givenName"), user.name.given_name, f"{what}: directory user has name.givenName")
        emails = sorted(email.value for email in user.emails or [])
        stored = sorted(item.get("value") for item in props.get("emails") or [] if isinstance(item, dict))
        run.equal(stored, emails, f"{what}: directory user has the emails")
        if user.external_id:
            run.check(contains_value(props, user.external_id), f"{what}: directory user keeps externalId", props)
        department = user[EnterpriseUser].department if user[EnterpriseUser] else None
        if department:
            run.check(contains_value(props, department), f"{what}: directory user keeps the enterprise department", props)
        identities = self.directory.subjects("user", user.id, "identifier")
        expected = {f"identity:{user.user_name}"} | {f"identity:{email}" for email in emails}
        run.check(
            expected <= identities,
            f"{what}: user:{user.id}#identifier links identity:<userName> and identity:<email> for every email",
            f"expected {sorted(expected)}, directory has {sorted(identities)}",
        )
        run.equal(self.directory.get_object("identity", user.user_name).status_code, 200, f"{what}: identity:{user.user_name} exists")

    def check_members(self, group_id: str, user_ids: set[str], what: str) -> None:
        if self.directory is None:
            return
        members = self.directory.subjects("group", group_id, "member")
        self.run.equal(members, {f"user:{uid}" for uid in user_ids}, f"{what}: group:{group_id}#member in the directory")

    def check_app_relation(self, user_id: str, what: str) -> None:
        if self.directory is None:
            return
        self.run.check(
            self.directory.relation_exists("group", "admin", "member", "user", user_id),
            f"{what}: the application's relation group:admin#member@user:{user_id} is still there",
        )

    def jwt_for(self, subject: str) -> str:
        claims = {"iss": self.args.jwt_issuer, "sub": subject, "iat": int(time.time()), "exp": int(time.time()) + 600}
        return jwt.encode(claims, self.args.jwt_secret, algorithm="HS256")

    def check_is(self, subject: str, expected: bool, what: str) -> None:
        assert self.directory is not None
        response = self.directory.is_allowed(self.jwt_for(subject))
        if not self.run.equal(response.status_code, 200, f"{what}: Is answers 200"):
            print(f"        {response_detail(response)}")
            return
        decisions = {d.get("decision"): d.get("is") for d in response.json().get("decisions") or []}
        self.run.equal(decisions.get("allowed"), expected, f"{what}: decision allowed")

    def check_is_refused(self, subject: str, what: str) -> None:
        assert self.directory is not None
        response = self.directory.is_allowed(self.jwt_for(subject))
        self.run.check(
            response.status_code == 404 and "IDENTITY_NOT_FOUND" in response.text,
            f"{what}: Is refuses the token (404 IDENTITY_NOT_FOUND)",
            response_detail(response),
        )

    # --- the scenario --------------------------------------------------------------------------

    def scenario(self) -> None:
        run = self.run
        sfx = self.suffix

        step("discovery through scim2-client")
        self.scim.discover()
        run.check(self.scim.get_resource_model("User") is not None, "the User resource type is published")
        run.check(self.scim.get_resource_model("Group") is not None, "the Group resource type is published")

        step("create two users (name, emails, externalId, enterprise department)")
        users = []
        for given, family, department in (("Alice", "Liddell", "Research"), ("Bob", "Marley", "Sales")):
            login = f"{given.lower()}.{sfx}@example.com"
            request = EnterpriseUserT(
                user_name=login,
                external_id=f"ext-{given.lower()}-{sfx}",
                name=Name(given_name=given, family_name=family, formatted=f"{given} {family}"),
                display_name=f"{given} {family}",
                active=True,
                emails=[Email(value=f"{given.lower()}.work.{sfx}@example.com", type="work", primary=True)],
            )
            request[EnterpriseUser] = EnterpriseUser(department=department)
            created = self.scim.create(request)
            run.require(bool(created.id), f"POST /Users {login} returns an id")
            run.equal(created.user_name, login, f"POST /Users {login}: userName")
            run.equal(created[EnterpriseUser].department if created[EnterpriseUser] else None, department, f"POST /Users {login}: enterprise department")
            run.check(bool(created.meta and created.meta.version), f"POST /Users {login}: meta.version set", created.meta)
            fetched = self.get_user(created.id)
            run.equal([e.value for e in fetched.emails or []], [e.value for e in request.emails], f"GET /Users/{created.id}: emails")
            self.check_user_in_directory(fetched, f"user {login}")
            users.append(fetched)
        alice, bob = users

        step("a duplicate userName is refused with 409 uniqueness")
        duplicate = self.raw("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": alice.user_name})
        run.check(
            duplicate.status_code == 409 and "uniqueness" in duplicate.text,
            "POST /Users with an existing userName: 409 scimType uniqueness",
            response_detail(duplicate),
        )

        step("create a group with one member")
        group = self.scim.create(Group(display_name=f"Engineers {sfx}", members=[GroupMember(value=alice.id, type="User")]))
        run.require(bool(group.id), "POST /Groups returns an id")
        run.equal([m.value for m in group.members or []], [alice.id], "POST /Groups: members")
        if self.directory is not None:
            run.equal(self.directory.get_object("group", group.id).status_code, 200, f"directory has group:{group.id}")
        self.check_members(group.id, {alice.id}, "group created")
        alice = self.get_user(alice.id)
        run.check(
            group.id in [g.value for g in alice.groups or []],
            "GET /Users/<alice>: groups lists the new group",
            [g.model_dump() for g in alice.groups or []],
        )

        if self.directory is not None:
            step("the application writes its own relation for the SCIM user: group:admin#member@user:<alice>")
            response = self.directory.set_relation("group", "admin", "member", "user", alice.id)
            run.require(response.status_code == 200, "POST /api/v3/directory/relation", response_detail(response))

        step("PATCH replace name.givenName")
        patched = self.modify_user(alice.id, PatchOperation(op="replace", path="name.givenName", value="Alicia"))
        if patched is not None:
            run.equal(patched.name.given_name if patched.name else None, "Alicia", "PATCH response: name.givenName")
        alice = self.get_user(alice.id)
        run.equal(alice.name.given_name if alice.name else None, "Alicia", "GET after PATCH: name.givenName")
        run.equal(alice.name.family_name if alice.name else None, "Liddell", "GET after PATCH: name.familyName untouched")
        self.check_user_in_directory(alice, "after replace name.givenName")
        self.check_app_relation(alice.id, "after replace name.givenName")
        self.check_members(group.id, {alice.id}, "after replace name.givenName")

        step("Entra ID style PATCH: op Replace, active as the string \"False\" (then \"True\")")
        for text, value in (("False", False), ("True", True)):
            response = self.raw(
                "PATCH",
                f"/Users/{alice.id}",
                {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": text}]},
            )
            run.check(response.status_code in (200, 204), f"PATCH Replace active \"{text}\": 200 or 204", response_detail(response))
            if response.status_code == 200:
                run.equal(response.json().get("active"), value, f"PATCH Replace active \"{text}\": response has a boolean")
            raw_user = self.raw("GET", f"/Users/{alice.id}").json()
            run.check(raw_user.get("active") is value, f"GET after Replace active \"{text}\": active is {value} (a JSON boolean)", raw_user.get("active"))
        alice = self.get_user(alice.id)
        self.check_user_in_directory(alice, "after Entra style active")
        self.check_app_relation(alice.id, "after Entra style active")

        step("PATCH add an email")
        home = f"alice.home.{sfx}@example.com"
        self.modify_user(alice.id, PatchOperation(op="add", path="emails", value=[{"value": home, "type": "home"}]))
        alice = self.get_user(alice.id)
        run.equal(
            sorted(e.value for e in alice.emails or []),
            sorted([f"alice.work.{sfx}@example.com", home]),
            "GET after add emails: both emails",
        )
        self.check_user_in_directory(alice, "after add email")
        self.check_app_relation(alice.id, "after add email")
        self.check_members(group.id, {alice.id}, "after add email")

        step("PATCH the group: add the second user, then remove it with a value filter")
        self.modify_group(group.id, PatchOperation(op="add", path="members", value=[{"value": bob.id}]))
        group = self.scim.query(Group, group.id)
        run.equal(sorted(m.value for m in group.members or []), sorted([alice.id, bob.id]), "GET after add members")
        self.check_members(group.id, {alice.id, bob.id}, "after add members")
        self.modify_group(group.id, PatchOperation(op="remove", path=f'members[value eq "{bob.id}"]'))
        group = self.scim.query(Group, group.id)
        run.equal([m.value for m in group.members or []], [alice.id], "GET after remove members[value eq bob]")
        self.check_members(group.id, {alice.id}, "after remove members[value eq bob]")
        bob = self.get_user(bob.id)
        run.check(group.id not in [g.value for g in bob.groups or []], "GET /Users/<bob>: groups no longer lists the group")

        step("deactivate a user: it stays, with active false")
        self.modify_user(bob.id, PatchOperation(op="replace", path="active", value=False))
        bob = self.get_user(bob.id)
        run.equal(bob.active, False, "GET deactivated user: active false")
        self.check_user_in_directory(bob, "deactivated user")
        listed = self.list_users(filter=f'userName eq "{bob.user_name}"')
        run.equal(listed.total_results, 1, "a filter finds the deactivated user")
        run.equal([u.active for u in listed.resources or []], [False], "listed deactivated user: active false")

        step("list: filter, sort, paging, attributes")
        listed = self.list_users(filter=f'userName eq "{alice.user_name}"')
        run.equal(listed.total_results, 1, f'filter userName eq "{alice.user_name}": totalResults')
        run.equal([u.id for u in listed.resources or []], [alice.id], "filter userName eq: the user")
        listed = self.list_users(filter=f'userName eq "{alice.user_name.upper()}"')
        run.equal([u.id for u in listed.resources or []], [alice.id], "filter userName eq is case-insensitive (caseExact false)")
        both = f'userName eq "{alice.user_name}" or userName eq "{bob.user_name}"'
        listed = self.list_users(filter=both, sort_by="userName", sort_order="descending")
        run.equal([u.id for u in listed.resources or []], [bob.id, alice.id], "filter with or, sortBy userName descending")
        for start, expected in ((1, alice.id), (2, bob.id)):
            page = self.list_users(filter=both, sort_by="userName", start_index=start, count=1)
            run.equal(page.total_results, 2, f"startIndex={start}&count=1: totalResults")
            run.equal(page.items_per_page, 1, f"startIndex={start}&count=1: itemsPerPage")
            run.equal(page.start_index, start, f"startIndex={start}&count=1: startIndex")
            run.equal([u.id for u in page.resources or []], [expected], f"startIndex={start}&count=1: the page's user")
        page = self.list_users(start_index=1, count=1)
        run.check(page.total_results >= 2 and len(page.resources or []) == 1, "unfiltered startIndex=1&count=1: one user of many", page.total_results)
        response = self.scim_http.get("/Users", params={"filter": f'userName eq "{alice.user_name}"', "attributes": "userName"})
        if run.check(response.status_code == 200, "GET /Users?attributes=userName: 200", response_detail(response)):
            resources = response.json().get("Resources") or []
            keys = set(resources[0]) if resources else set()
            run.check(
                resources and {"id", "userName"} <= keys and not keys & {"name", "emails", "displayName", "active", ENTERPRISE},
                "attributes=userName: id and userName only (and schemas/meta)",
                sorted(keys),
            )
        response = self.scim_http.get(f"/Users/{alice.id}", params={"attributes": "userName"})
        keys = set(response.json()) if response.status_code == 200 else set()
        run.check(
            {"id", "userName"} <= keys and not keys & {"name", "emails", "displayName"},
            "GET /Users/<id>?attributes=userName: id and userName only",
            response_detail(response),
        )

        step("ETag: a stale If-Match is refused with 412")
        first = self.raw("GET", f"/Users/{alice.id}")
        etag = first.headers.get("etag")
        run.require(bool(etag), "GET /Users/<id> has an ETag header", dict(first.headers))
        run.equal(first.json().get("meta", {}).get("version"), etag, "meta.version equals the ETag header")
        operation = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "nickName", "value": "Al"}]}
        response = self.raw("PATCH", f"/Users/{alice.id}", operation, {"If-Match": etag})
        run.check(response.status_code in (200, 204), "PATCH with the current If-Match: applied", response_detail(response))
        second = self.raw("GET", f"/Users/{alice.id}")
        run.check(second.headers.get("etag") not in (None, etag), "the ETag changes with the resource", second.headers.get("etag"))
        operation["Operations"][0]["value"] = "Ally"
        response = self.raw("PATCH", f"/Users/{alice.id}", operation, {"If-Match": etag})
        run.equal(response.status_code, 412, "PATCH with a stale If-Match: 412")
        run.equal(self.raw("GET", f"/Users/{alice.id}").json().get("nickName"), "Al", "the refused PATCH changed nothing")
        response = self.raw("DELETE", f"/Users/{alice.id}", headers={"If-Match": etag})
        run.equal(response.status_code, 412, "DELETE with a stale If-Match: 412")
        alice = self.get_user(alice.id)

        step("authentication")
        response = httpx2.get(f"{self.args.base_url}/Users", timeout=30)
        run.equal(response.status_code, 401, "GET /Users without a token: 401")
        response = httpx2.get(f"{self.args.base_url}/Users", headers={"Authorization": "Bearer not-a-key-0123456789"}, timeout=30)
        run.equal(response.status_code, 401, "GET /Users with an unknown token: 401")
        if self.directory is not None:
            response = httpx2.get(
                f"http://{self.args.address}/api/v3/directory/object/user/{alice.id}",
                headers={"authorization": f"basic {self.args.scim_token}"},
                timeout=30,
            )
            run.check(response.status_code in (401, 403), "the scim-scoped key cannot read the directory API (401/403)", response_detail(response))

        if self.directory is not None:
            step("Is through todoApp.GET.todos with a JWT naming the SCIM user")
            # The demo policy allows any caller the server resolves to a user.
            self.check_is(alice.user_name, True, f"JWT sub {alice.user_name}")
            self.check_is(alice.emails[0].value, True, f"JWT sub {alice.emails[0].value} (an email identity)")
            self.check_is_refused(f"nobody.{sfx}@example.com", "JWT with an unknown sub")

        step("delete a user: its SCIM relations go, the application's stay")
        login, emails = alice.user_name, [e.value for e in alice.emails or []]
        self.scim.delete(EnterpriseUserT, alice.id)
        run.equal(self.raw("GET", f"/Users/{alice.id}").status_code, 404, "GET deleted user: 404")
        group = self.scim.query(Group, group.id)
        run.equal([m.value for m in group.members or []], [], "the deleted user left the SCIM group")
        if self.directory is not None:
            run.equal(self.directory.get_object("user", alice.id).status_code, 404, f"directory user:{alice.id} is gone")
            self.check_members(group.id, set(), "after deleting the user")
            run.equal(self.directory.subjects("user", alice.id, "identifier"), set(), "the user's identifier relations are gone")
            self.check_app_relation(alice.id, "after deleting the user")
            run.check(
                self.directory.relation_exists("group", "admin", "member", "user", "rick@the-citadel.com"),
                "the demo's own group:admin#member@user:rick@the-citadel.com is untouched",
            )
            self.check_is_refused(login, "JWT naming the deleted user")
            for email in emails:
                self.check_is_refused(email, f"JWT naming the deleted user's email {email}")

        step("delete the group and the other user")
        self.scim.delete(Group, group.id)
        run.equal(self.raw("GET", f"/Groups/{group.id}").status_code, 404, "GET deleted group: 404")
        if self.directory is not None:
            run.equal(self.directory.get_object("group", group.id).status_code, 404, f"directory group:{group.id} is gone")
            self.check_members(group.id, set(), "after deleting the group")
            run.equal(self.directory.get_object("user", bob.id).status_code, 200, "deleting a group keeps its former members")
        self.scim.delete(EnterpriseUserT, bob.id)
        run.equal(self.raw("GET", f"/Users/{bob.id}").status_code, 404, "GET second deleted user: 404")
        if self.directory is not None:
            run.equal(self.directory.get_object("user", bob.id).status_code, 404, f"directory user:{bob.id} is gone")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--address", help="HOST:PORT of the directory REST port")
    parser.add_argument("--base-url", help="SCIM base URL (default http://ADDRESS/scim/v2)")
    parser.add_argument("--scim-token", required=True)
    parser.add_argument("--admin-key")
    parser.add_argument("--jwt-issuer", default="https://idp.example/")
    parser.add_argument("--jwt-secret")
    parser.add_argument("--scim-only", action="store_true")
    args = parser.parse_args()
    if not args.base_url:
        if not args.address:
            parser.error("--address or --base-url is needed")
        args.base_url = f"http://{args.address}/scim/v2"
    if not args.scim_only and not (args.address and args.admin_key and args.jwt_secret):
        parser.error("--address, --admin-key and --jwt-secret are needed without --scim-only")

    run = Run()
    try:
        Provisioning(args, run).scenario()
    except Failed as exc:
        run.failed.append(f"stopped after: {exc}")
        print(f"  STOP  a later step depends on: {exc}")
    except (SCIMClientException, SCIMException) as exc:
        traceback.print_exc()
        run.failed.append(f"SCIM request failed: {scim_error_detail(exc)}")
        print(f"  FAIL  SCIM request failed: {scim_error_detail(exc)}")
    except Exception as exc:  # report and fail on anything else, with where it happened
        traceback.print_exc()
        run.failed.append(f"{type(exc).__name__}: {exc}")
        print(f"  FAIL  {type(exc).__name__}: {exc}")

    print(f"provision: {run.passed} passed, {len(run.failed)} failed")
    for failure in run.failed:
        print(f"  FAILED {failure}")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
