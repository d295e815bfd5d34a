#!/usr/bin/env python3
"""Generates the side-by-side benchmark data and requests from a fixed seed, in every peer's format.

    gen.py OUT_DIR --scale quick|full

ReBAC (workloads b, c, d): the drive-like model of Lictor's own directory benchmark (benches/src/lib.rs):
users, groups nested 3 deep (g1 > g1_2 > g1_2_3; ids without dots, which SpiceDB refuses, each user in 3 leaf groups), folders in a random tree,
documents with a parent folder and an owner, and document viewers (80 % users, 20 % groups at any level)
filling up to the relation count. Same shape and proportions; Python's own generator with a fixed seed,
so the exact relations differ from the Rust bench's but are identical for every peer here.

Written to OUT_DIR/rebac/: manifest.yaml + data.jsonl (Lictor), schema.zed (SpiceDB), model.fga +
tuples.json (OpenFGA), cedar_entities.json (Cedar), and the request files check.jsonl, checks.jsonl, lookup.jsonl
(Lictor's JSON shapes; the SpiceDB front takes the same).

RBAC/ABAC (workloads a, c): OUT_DIR/rbac/ cerbos.jsonl and lictor_is.jsonl hold the same decisions line
for line (one resource, one action each); cerbos_batch.jsonl and lictor_batch.jsonl the same 50 resources x
3 actions per line.
"""
import json
import os
import random
import sys

SCALES = {
    # users, top groups, fan-out, folders, documents, relations
    "quick": dict(users=1_000, top=5, fan=5, folders=1_000, documents=5_000, relations=50_000),
    "full": dict(users=10_000, top=10, fan=10, folders=10_000, documents=100_000, relations=1_000_000),
}
SEED = 0x0011C70A

MANIFEST = """model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: user | group#member
  folder:
    relations:
      parent: folder
      owner: user
      viewer: user | group#member
    permissions:
      can_read: viewer | owner | parent->can_read
  document:
    relations:
      parent: folder
      owner: user
      viewer: user | group#member
    permissions:
      can_read: viewer | owner | parent->can_read
"""

SCHEMA_ZED = """definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation parent: folder
    relation owner: user
    relation viewer: user | group#member
    permission can_read = viewer + owner + parent->can_read
}

definition document {
    relation parent: folder
    relation owner: user
    relation viewer: user | group#member
    permission can_read = viewer + owner + parent->can_read
}
"""

MODEL_FGA = """model
  schema 1.1

type user

type group
  relations
    define member: [user, group#member]

type folder
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user, group#member]
    define can_read: viewer or owner or can_read from parent

type document
  relations
    define parent: [folder]
    define owner: [user]
    define viewer: [user, group#member]
    define can_read: viewer or owner or can_read from parent
"""


def rebac(out, s, rng):
    rels = []  # (object_type, object_id, relation, subject_type, subject_id, subject_relation)
    leaves, groups = [], []
    for top in range(s["top"]):
        groups.append(f"g{top}")
        for mid in range(s["fan"]):
            mid_id = f"g{top}_{mid}"
            groups.append(mid_id)
            rels.append(("group", f"g{top}", "member", "group", mid_id, "member"))
            for leaf in range(s["fan"]):
                leaf_id = f"g{top}_{mid}_{leaf}"
                groups.append(leaf_id)
                rels.append(("group", mid_id, "member", "group", leaf_id, "member"))
                leaves.append(leaf_id)
    for user in range(s["users"]):
        for _ in range(3):
            rels.append(("group", rng.choice(leaves), "member", "user", f"u{user}", ""))

    def group_id():
        top = rng.randrange(s["top"])
        level = rng.randrange(3)
        if level == 0:
            return f"g{top}"
        if level == 1:
            return f"g{top}_{rng.randrange(s['fan'])}"
        return f"g{top}_{rng.randrange(s['fan'])}_{rng.randrange(s['fan'])}"

    roots = max(s["folders"] // 100, 1)
    for folder in range(s["folders"]):
        if folder >= roots:
            rels.append(("folder", f"f{folder}", "parent", "folder", f"f{rng.randrange(folder)}", ""))
        rels.append(("folder", f"f{folder}", "owner", "user", f"u{rng.randrange(s['users'])}", ""))
        rels.append(("folder", f"f{folder}", "viewer", "group", group_id(), "member"))
    for doc in range(s["documents"]):
        rels.append(("document", f"d{doc}", "parent", "folder", f"f{rng.randrange(s['folders'])}", ""))
        rels.append(("document", f"d{doc}", "owner", "user", f"u{rng.randrange(s['users'])}", ""))
    rels = list(dict.fromkeys(rels))  # a user drawn twice into one leaf group: once
    seen = set(rels)
    doc = 0
    while len(rels) < s["relations"]:
        if rng.random() < 0.8:
            r = ("document", f"d{doc}", "viewer", "user", f"u{rng.randrange(s['users'])}", "")
        else:
            r = ("document", f"d{doc}", "viewer", "group", group_id(), "member")
        doc = (doc + 1) % s["documents"]
        if r in seen:  # every peer gets the same set, without duplicates
            continue
        seen.add(r)
        rels.append(r)

    d = os.path.join(out, "rebac")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "manifest.yaml"), "w") as f:
        f.write(MANIFEST)
    with open(os.path.join(d, "schema.zed"), "w") as f:
        f.write(SCHEMA_ZED)
    with open(os.path.join(d, "model.fga"), "w") as f:
        f.write(MODEL_FGA)
    objects = [("user", f"u{i}") for i in range(s["users"])]
    objects += [("group", g) for g in groups]
    objects += [("folder", f"f{i}") for i in range(s["folders"])]
    objects += [("document", f"d{i}") for i in range(s["documents"])]
    with open(os.path.join(d, "data.jsonl"), "w") as f:
        for t, i in objects:
            f.write(json.dumps({"object": {"type": t, "id": i}}, separators=(",", ":")) + "\n")
        for ot, oi, r, st, si, sr in rels:
            f.write(json.dumps({"relation": {"object_type": ot, "object_id": oi, "relation": r,
                                             "subject_type": st, "subject_id": si,
                                             "subject_relation": sr}}, separators=(",", ":")) + "\n")
    with open(os.path.join(d, "tuples.json"), "w") as f:
        json.dump([{"user": f"{st}:{si}" + (f"#{sr}" if sr else ""), "relation": r, "object": f"{ot}:{oi}"}
                   for ot, oi, r, st, si, sr in rels], f)
    # Cedar (bench/peers/inprocess): entities for the policies in inprocess/policies/rebac.cedar.
    write_cedar(d, s, rels, groups)

    # Requests. Single checks: a third nested-group membership, the rest can_read on documents (90 %) and
    # folders (10 %), for random user/object pairs (allowed and denied both occur).
    checks = []
    for _ in range(2_000):
        u = f"u{rng.randrange(s['users'])}"
        x = rng.random()
        if x < 1 / 3:
            body = dict(object_type="group", object_id=rng.choice(groups), relation="member")
        elif x < 0.93:
            body = dict(object_type="document", object_id=f"d{rng.randrange(s['documents'])}", relation="can_read")
        else:
            body = dict(object_type="folder", object_id=f"f{rng.randrange(s['folders'])}", relation="can_read")
        body.update(subject_type="user", subject_id=u)
        checks.append(body)
    write_lines(os.path.join(d, "check.jsonl"), checks)
    batches = []
    for _ in range(200):
        u = f"u{rng.randrange(s['users'])}"
        docs = rng.sample(range(s["documents"]), 50)
        batches.append({"checks": [dict(object_type="document", object_id=f"d{doc}", relation=rel,
                                        subject_type="user", subject_id=u)
                                   for doc in docs for rel in ("can_read", "viewer", "owner")]})
    write_lines(os.path.join(d, "checks.jsonl"), batches)
    lookups = [dict(subject_type="user", subject_id=f"u{rng.randrange(s['users'])}", permission="can_read",
                    object_type="document", page_size=1_000_000) for _ in range(20)]
    write_lines(os.path.join(d, "lookup.jsonl"), lookups)


def write_cedar(d, s, rels, groups):
    """Cedar entities for inprocess/policies/rebac.cedar (the encoding is described there).

    Users and groups are principals whose parents are the groups they are direct members of, so Cedar's
    `in` follows nested groups. Cedar cannot recurse over attributes, so folder ancestry is flattened here:
    a folder's `readers` holds the viewers and owners of the folder and of every folder above it. A
    document keeps its own `viewers` and `owners` and points at its `parent` folder.
    """
    parents = {}  # principal (type, id) -> groups it is a direct member of
    own = {}  # (folder|document, id) -> {"viewers": [...], "owners": [...], "parent": folder id}
    for ot, oi, r, st, si, sr in rels:
        if ot == "group" and r == "member":
            parents.setdefault((st, si), set()).add(oi)
        elif ot in ("folder", "document"):
            a = own.setdefault((ot, oi), {"viewers": [], "owners": []})
            if r == "parent":
                a["parent"] = si
            elif r == "owner":
                a["owners"].append((st, si))
            elif r == "viewer":
                a["viewers"].append((st, si))

    def ref(t, i):
        return {"__entity": {"type": t.capitalize(), "id": i}}

    ents = []
    for (t, i) in [("user", f"u{n}") for n in range(s["users"])] + [("group", g) for g in groups]:
        ents.append({"uid": {"type": t.capitalize(), "id": i}, "attrs": {},
                     "parents": [{"type": "Group", "id": p} for p in sorted(parents.get((t, i), ()))]})
    # A folder's parent always has a smaller number, so one pass in order sees every parent first.
    readers = {}
    for n in range(s["folders"]):
        f = f"f{n}"
        a = own.get(("folder", f), {"viewers": [], "owners": []})
        mine = set(a["viewers"]) | set(a["owners"])
        if "parent" in a:
            mine |= readers[a["parent"]]
        readers[f] = mine
        attrs = {"readers": [ref(t, i) for t, i in sorted(mine)]}
        if "parent" in a:
            attrs["parent"] = ref("folder", a["parent"])
        ents.append({"uid": {"type": "Folder", "id": f}, "attrs": attrs, "parents": []})
    for n in range(s["documents"]):
        a = own.get(("document", f"d{n}"), {"viewers": [], "owners": []})
        attrs = {"viewers": [ref(t, i) for t, i in a["viewers"]], "owners": [ref(t, i) for t, i in a["owners"]]}
        if "parent" in a:
            attrs["parent"] = ref("folder", a["parent"])
        ents.append({"uid": {"type": "Document", "id": f"d{n}"}, "attrs": attrs, "parents": []})
    with open(os.path.join(d, "cedar_entities.json"), "w") as f:
        json.dump(ents, f, separators=(",", ":"))


ROLES = ["viewer", "editor", "admin", "guest"]
ACTIONS = ["read", "update", "delete"]


def rbac(out, rng):
    d = os.path.join(out, "rbac")
    os.makedirs(d, exist_ok=True)
    principals = [(f"p{i}", rng.choice(ROLES)) for i in range(200)]

    def resource(i):
        return dict(id=f"r{i}", owner=rng.choice(principals)[0], status=rng.choice(["draft", "published"]))

    cerbos, lictor = [], []
    for n in range(2_000):
        pid, role = rng.choice(principals)
        # A quarter of the requests come from the owner, so the ABAC condition decides often.
        res = resource(n)
        if rng.random() < 0.25:
            res["owner"] = pid
        action = rng.choice(ACTIONS)
        cerbos.append({"requestId": f"q{n}", "principal": {"id": pid, "roles": [role]},
                       "resources": [{"actions": [action], "resource": {
                           "kind": "document", "id": res["id"],
                           "attr": {"owner": res["owner"], "status": res["status"]}}}]})
        lictor.append({"identity_context": {"type": "IDENTITY_TYPE_MANUAL", "identity": pid},
                       "policy_context": {"path": f"rbac.document.{action}", "decisions": ["allowed"]},
                       "resource_context": {"owner": res["owner"], "status": res["status"], "roles": [role]}})
    write_lines(os.path.join(d, "cerbos.jsonl"), cerbos)
    write_lines(os.path.join(d, "lictor_is.jsonl"), lictor)
    cerbos_b, lictor_b = [], []
    for n in range(200):
        pid, role = rng.choice(principals)
        resources = [resource(n * 50 + k) for k in range(50)]
        for r in resources:
            if rng.random() < 0.25:
                r["owner"] = pid
        cerbos_b.append({"requestId": f"b{n}", "principal": {"id": pid, "roles": [role]},
                         "resources": [{"actions": ACTIONS, "resource": {
                             "kind": "document", "id": r["id"],
                             "attr": {"owner": r["owner"], "status": r["status"]}}} for r in resources]})
        lictor_b.append({"query": "x = data.rbac.batch.results",
                         "identity_context": {"type": "IDENTITY_TYPE_MANUAL", "identity": pid},
                         "resource_context": {"roles": [role], "resources": resources}})
    write_lines(os.path.join(d, "cerbos_batch.jsonl"), cerbos_b)
    write_lines(os.path.join(d, "lictor_batch.jsonl"), lictor_b)


def write_lines(path, items):
    with open(path, "w") as f:
        for item in items:
            f.write(json.dumps(item, separators=(",", ":")) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    scale = "quick"
    if "--scale" in sys.argv:
        scale = sys.argv[sys.argv.index("--scale") + 1]
    rng = random.Random(SEED)
    rebac(out, SCALES[scale], rng)
    rbac(out, rng)


if __name__ == "__main__":
    main()
