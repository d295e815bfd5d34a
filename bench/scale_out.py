#!/usr/bin/env python3
"""Scale-out benchmark: replicas of `lictor run --store postgres://...` on one PostgreSQL database.

Measures, on a database of its own (created and dropped here):
  1. an import of N relations through one replica (REST import, one transaction): relations/s;
  2. the start-up of a second replica that loads them all: seconds until it is ready;
  3. single writes, one at a time and from several clients at once: writes/s;
  4. write to visible: a write acknowledged by replica A, then polled on replica B until B's check
     answers true, with no consistency token: p50 and p99 (the follower's wake-up and replay);
  5. the same with a token (x-lictor-min-revision): the check's own latency on B;
  6. check throughput over HTTP (lictor-load) on the PostgreSQL-fed replica against an embedded (redb)
     server holding the same relations, alternating rounds.

  bench/scale-out.sh [--relations N] [--visible N] [--writes N] [--seconds S] [--rounds R]

Standard library only; expects the lictor and lictor-load binaries (LICTOR_BIN, LOAD_BIN) and a
PostgreSQL server (LICTOR_BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432/postgres) that lets
this user create databases. Prints one table in Markdown, the figures docs/benchmarks.md quotes.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

MANIFEST = """model:
  version: 3
types:
  user: {}
  group:
    relations:
      member: user
  document:
    relations:
      viewer: user | group#member
    permissions:
      can_read: viewer
"""


def note(message):
    print(f"[scale-out] {message}", file=sys.stderr, flush=True)


def psql(admin_url, sql):
    subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


class Server:
    """A `lictor run` child with every port on 0; reads the announced addresses."""

    def __init__(self, lictor, work, name, store=None):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        config = os.path.join(self.dir, "lictor.yaml")
        with open(config, "w") as f:
            f.write(f"data_dir: {self.dir}/data\n")
            f.write("listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, "
                    "directory_rest: 0, health: 0, metrics: 0}\n")
            f.write("console: {enabled: false}\n")
            f.write("log: {level: warn}\ndecision_logs: {enabled: false}\n")
            if store:
                f.write(f"store: {store}\n")
        started = time.monotonic()
        self.proc = subprocess.Popen([lictor, "run", "--config", config], stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(self.dir, "stderr"), "w"), text=True)
        self.ports = {}
        for line in self.proc.stdout:
            words = line.split()
            if len(words) == 3 and words[0] == "listening":
                self.ports[words[1]] = words[2]
            elif words == ["ready"]:
                break
        else:
            raise SystemExit(f"{name} did not start: see {self.dir}/stderr")
        self.start_seconds = time.monotonic() - started
        host, port = self.ports["directory-rest"].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def request(conn, method, path, body=None, headers=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **(headers or {})}
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
    except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
        # The server closes HTTP/1 connections left idle past its header deadline: open a new one.
        conn.close()
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
    payload = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
    return response, payload


def relation(document, user):
    return {"object_type": "document", "object_id": document, "relation": "viewer",
            "subject_type": "user", "subject_id": user}


def check_body(document, user):
    return {"object_type": "document", "object_id": document, "relation": "can_read",
            "subject_type": "user", "subject_id": user}


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relations", type=int, default=1_000_000)
    parser.add_argument("--visible", type=int, default=500)
    parser.add_argument("--writes", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lictor = os.environ.get("LICTOR_BIN", os.path.join(root, "target", "release", "lictor"))
    load = os.environ.get("LOAD_BIN", os.path.join(root, "target", "release", "lictor-load"))
    admin = os.environ.get("LICTOR_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
    database = f"lictor_scale_out_{os.getpid()}"
    store = admin.rsplit("/", 1)[0] + "/" + database
    results = []  # rows of the table, also noted as they are measured
    servers = []
    with tempfile.TemporaryDirectory() as work:
        psql(admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        psql(admin, f"CREATE DATABASE {database}")
        try:
            manifest = os.path.join(work, "manifest.yaml")
            with open(manifest, "w") as f:
                f.write(MANIFEST)
            subprocess.run([lictor, "--store", store, "model", "set", manifest], check=True,
                           stdout=subprocess.DEVNULL)
            lines = os.path.join(work, "relations.jsonl")
            with open(lines, "w") as f:
                for i in range(args.relations):
                    f.write(json.dumps({"relation": relation(f"doc-{i}", f"user-{i % 10_000}")}) + "\n")

            a = Server(lictor, work, "replica-a", store)
            servers.append(a)
            note(f"importing {args.relations:,} relations through replica A")
            conn = a.connection()
            started = time.monotonic()
            with open(lines, "rb") as f:
                request(conn, "POST", "/api/v3/lictor/import", f.read(),
                        {"content-type": "application/x-ndjson"})
            seconds = time.monotonic() - started
            results.append(("import through PostgreSQL (REST, one transaction)",
                            f"{args.relations:,} relations in {seconds:.1f} s",
                            f"{args.relations / seconds:,.0f} relations/s"))

            note("starting replica B, which loads every relation")
            b = Server(lictor, work, "replica-b", store)
            servers.append(b)
            results.append((f"start-up of a replica loading {args.relations:,} relations",
                            f"{b.start_seconds:.1f} s to ready", ""))

            note(f"{args.writes:,} single writes, one client")
            started = time.monotonic()
            for i in range(args.writes):
                request(conn, "POST", "/api/v3/directory/relation",
                        {"relation": relation(f"w-{i}", "user-w")})
            seconds = time.monotonic() - started
            results.append(("single writes, one client", f"{args.writes:,} in {seconds:.1f} s",
                            f"{args.writes / seconds:,.0f} writes/s"))

            note(f"{args.writes:,} single writes, {args.clients} clients")

            def writer(k, count):
                c = a.connection()
                for i in range(count):
                    request(c, "POST", "/api/v3/directory/relation",
                            {"relation": relation(f"c{k}-{i}", "user-w")})

            per = args.writes // args.clients
            threads = [threading.Thread(target=writer, args=(k, per)) for k in range(args.clients)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.monotonic() - started
            results.append((f"single writes, {args.clients} clients", f"{per * args.clients:,} in {seconds:.1f} s",
                            f"{per * args.clients / seconds:,.0f} writes/s"))

            note(f"write on A, visible on B: {args.visible} writes")
            conn_b = b.connection()
            untokened, tokened = [], []
            for i in range(args.visible):
                started = time.monotonic()
                request(conn, "POST", "/api/v3/directory/relation",
                        {"relation": relation(f"v-{i}", "user-v")})
                while True:
                    _, body = request(conn_b, "POST", "/api/v3/directory/check", check_body(f"v-{i}", "user-v"))
                    if json.loads(body).get("check"):
                        break
                untokened.append(time.monotonic() - started)
                started = time.monotonic()
                response, _ = request(conn, "POST", "/api/v3/directory/relation",
                                      {"relation": relation(f"t-{i}", "user-v")})
                token = response.getheader("x-lictor-revision")
                _, body = request(conn_b, "POST", "/api/v3/directory/check", check_body(f"t-{i}", "user-v"),
                                  {"x-lictor-min-revision": token})
                if not json.loads(body).get("check"):
                    raise SystemExit(f"revision {token}: B does not see t-{i}")
                tokened.append(time.monotonic() - started)
            for label, values in (("write on A to visible on B, polling B", untokened),
                                  ("write on A, then check on B with its token", tokened)):
                results.append((label, f"p50 {percentile(values, 0.5) * 1e3:.2f} ms",
                                f"p99 {percentile(values, 0.99) * 1e3:.2f} ms"))

            note("an embedded server with the same relations")
            embedded = Server(lictor, work, "embedded")
            servers.append(embedded)
            conn_e = embedded.connection()
            request(conn_e, "POST", "/api/v3/directory/manifest", MANIFEST.encode(),
                    {"content-type": "application/yaml"})
            with open(lines, "rb") as f:
                request(conn_e, "POST", "/api/v3/lictor/import", f.read(),
                        {"content-type": "application/x-ndjson"})

            bodies = os.path.join(work, "checks.jsonl")
            with open(bodies, "w") as f:
                for i in range(10_000):
                    doc = (i * 7919) % args.relations
                    user = f"user-{doc % 10_000}" if i % 2 == 0 else "user-nobody"
                    f.write(json.dumps(check_body(f"doc-{doc}", user)) + "\n")
            throughput = {"PostgreSQL-fed replica B": [], "embedded (redb)": []}
            targets = [("PostgreSQL-fed replica B", b), ("embedded (redb)", embedded)]
            for round_ in range(args.rounds):
                for name, server in (targets if round_ % 2 == 0 else targets[::-1]):
                    out = subprocess.run(
                        [load, "http", "--url", f"http://{server.host}:{server.port}/api/v3/directory/check",
                         "--bodies", bodies, "--concurrency", str(args.concurrency),
                         "--seconds", str(args.seconds), "--warmup", "1", "--pid", str(server.proc.pid)],
                        check=True, capture_output=True, text=True).stdout
                    line = json.loads(out.strip().splitlines()[-1])
                    if line.get("errors"):
                        raise SystemExit(f"{name}: {line['errors']} errors under load")
                    throughput[name].append(line)
            medians = {name: statistics.median(r["rps"] for r in runs) for name, runs in throughput.items()}
            for name, runs in throughput.items():
                p99 = statistics.median(r["p99_us"] for r in runs)
                results.append((f"checks over HTTP, {args.concurrency} in flight: {name}",
                                f"{medians[name]:,.0f} checks/s (median of {len(runs)})", f"p99 {p99:,.0f} µs"))
            ratio = medians["PostgreSQL-fed replica B"] / medians["embedded (redb)"]
            results.append(("PostgreSQL-fed against embedded", f"{ratio * 100:.1f} %", ""))
        finally:
            for server in servers:
                server.stop()
            psql(admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    print("| measurement | figure | |")
    print("|---|---|---|")
    for row in results:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
