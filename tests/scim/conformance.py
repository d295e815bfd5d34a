"""Runs the third-party SCIM conformance checkers against a running SCIM service provider.

    python conformance.py --base-url URL --token TOKEN [--known-failures FILE] [--scim-sanity]

scim2-tester runs through its Python API (check_server): discovery endpoints, then create, read,
list, attribute selection, replace, delete and PATCH add/remove/replace of every attribute of every
resource type the server publishes. With --scim-sanity, the scim-sanity probe runs as well (its CLI,
with JSON output). Every result is printed. The run fails on any failed check that the known-failures
file does not list.

A check is named `TITLE` (discovery checks), `RESOURCE.TITLE` or `RESOURCE.TITLE[ATTRIBUTE]` (the
PATCH checks, one per attribute) for scim2-tester, and `scim-sanity: NAME` for scim-sanity. A line
of the known-failures file names one check, followed by `# why`; a name without the `[ATTRIBUTE]`
part covers every attribute of that check.
"""

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# A check whose status is one of these fails the run (unless listed as known).
TESTER_FAILING = {"ERROR", "CRITICAL"}
SANITY_FAILING = {"fail", "error"}


def read_known_failures(path: Path | None) -> dict[str, str]:
    known: dict[str, str] = {}
    if path is None or not path.exists():
        return known
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition("#")
        name = name.strip()
        if not reason.strip():
            sys.exit(f"{path}:{number}: '{name}' needs a reason after '#'")
        known[name] = reason.strip()
    return known


def listed(name: str, known: dict[str, str]) -> str | None:
    """The known-failures entry covering a check, if any."""
    if name in known:
        return name
    base = name.split("[", 1)[0]
    if base in known:
        return base
    return None


def one_line(text: str | None, limit: int = 400) -> str:
    text = " / ".join(part.strip() for part in (text or "").splitlines() if part.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def debug_data(data: object, limit: int = 1500) -> str:
    try:
        text = json.dumps(data, default=repr, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Tally:
    def __init__(self, known: dict[str, str]):
        self.known = known
        self.used: set[str] = set()
        self.failed: list[tuple[str, str]] = []
        self.known_failed: list[tuple[str, str]] = []
        self.counts: Counter[str] = Counter()

    def record(self, name: str, status: str, failing: bool, reason: str, data: object = None) -> None:
        self.counts[status] += 1
        entry = listed(name, self.known) if failing else None
        if failing and entry is None:
            marker = "FAIL"
        elif failing:
            marker = "KNOWN"
        elif status.upper() in ("SKIPPED", "SKIP"):
            marker = "skip"
        elif status.upper() in ("DEVIATION", "WARN"):
            marker = "warn"
        else:
            marker = "ok"
        print(f"  {marker:5} {status:10} {name}: {one_line(reason)}")
        if failing:
            if data is not None:
                print(f"        data: {debug_data(data)}")
            if entry is None:
                self.failed.append((name, one_line(reason)))
            else:
                self.used.add(entry)
                self.known_failed.append((name, self.known[entry]))


def run_scim2_tester(base_url: str, token: str, tally: Tally) -> None:
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import check_server

    print(f"== scim2-tester against {base_url}")
    http = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    with http:
        results = check_server(SyncSCIMClient(http))
    if not results:
        tally.record("check_server", "ERROR", True, "scim2-tester returned no result")
    for result in results:
        name = result.title or "?"
        if result.resource_type:
            name = f"{result.resource_type}.{name}"
        if isinstance(result.data, dict) and isinstance(result.data.get("urn"), str):
            name = f"{name}[{result.data['urn']}]"
        status = result.status.name
        tally.record(name, status, status in TESTER_FAILING, result.reason or "", result.data)


def run_scim_sanity(base_url: str, token: str, tally: Tally) -> None:
    exe = shutil.which("scim-sanity") or str(Path(sys.executable).with_name("scim-sanity"))
    if not Path(exe).exists():
        print("== scim-sanity is not installed: skipped")
        return
    print(f"== scim-sanity probe against {base_url}")
    # The token goes through the command line: it is a test key of a throw-away server.
    proc = subprocess.run(
        [exe, "probe", base_url, "--token", token, "--json-output", "--i-accept-side-effects", "--timeout", "30"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tally.record(
            "scim-sanity: run",
            "error",
            True,
            f"exit {proc.returncode}, no JSON report: {proc.stdout[-800:]} {proc.stderr[-800:]}",
        )
        return
    for result in report.get("results", []):
        status = str(result.get("status", "?"))
        name = f"scim-sanity: {result.get('name', '?')}"
        tally.record(name, status, status in SANITY_FAILING, result.get("message") or "")
    for issue in report.get("issues", []) or []:
        print(f"  issue {issue.get('priority', '')}: {issue.get('title', '')} (fix: {issue.get('fix', '')})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--known-failures", type=Path)
    parser.add_argument("--scim-sanity", action="store_true")
    args = parser.parse_args()

    known = read_known_failures(args.known_failures)
    tally = Tally(known)
    try:
        run_scim2_tester(args.base_url, args.token, tally)
    except Exception as exc:  # a crash of the checker itself is a failure too
        tally.record("scim2-tester: run", "ERROR", True, f"{type(exc).__name__}: {exc}")
    if args.scim_sanity:
        try:
            run_scim_sanity(args.base_url, args.token, tally)
        except Exception as exc:
            tally.record("scim-sanity: run", "error", True, f"{type(exc).__name__}: {exc}")

    counts = ", ".join(f"{count} {status}" for status, count in sorted(tally.counts.items()))
    print(f"== conformance results: {counts}")
    for name, reason in tally.known_failed:
        print(f"  known failure: {name} ({reason})")
    for entry in sorted(set(known) - tally.used):
        print(f"  listed in known failures but did not fail: {entry}")
    if tally.failed:
        print(f"== {len(tally.failed)} conformance check(s) failed:")
        for name, reason in tally.failed:
            print(f"  FAILED {name}: {reason}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
