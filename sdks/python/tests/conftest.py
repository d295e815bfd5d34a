"""Runs one real `lictor run --demo` on ephemeral ports for the whole test session, and the helpers
the tests share: test JWTs, the apps' identity provider, and a URL where nothing listens."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional

import jwt
import pytest

from lictor import Lictor

REPO = Path(__file__).resolve().parents[3]
STARTUP_TIMEOUT_S = 60

# Tokens are HS256 with this secret. The test apps verify them themselves (IDENTITY_TYPE_SUB), and the
# server trusts the same issuer and secret for the IDENTITY_TYPE_JWT tests.
JWT_SECRET = "lictor-python-sdk-tests-secret-0123456789"
JWT_ISSUER = "lictor-python-sdk-tests"

RICK = "rick@the-citadel.com"
MORTY = "morty@the-citadel.com"
SUMMER = "summer@the-smiths.com"
BETH = "beth@the-smiths.com"
JERRY = "jerry@the-smiths.com"

ENDPOINT_TYPE = """
  endpoint:
    relations:
      invoker: user
    permissions:
      can_invoke: invoker
"""


def token(sub: str, secret: str = JWT_SECRET, **claims: object) -> str:
    """A signed HS256 test JWT for ``sub``, valid for five minutes."""
    payload = {"sub": sub, "iss": JWT_ISSUER, "exp": int(time.time()) + 300, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(sub: str, secret: str = JWT_SECRET, **claims: object) -> Dict[str, str]:
    """An Authorization header with a test JWT."""
    return {"Authorization": f"Bearer {token(sub, secret, **claims)}"}


def verified_sub(request: object) -> Optional[str]:
    """The apps' identity provider: the ``sub`` of a bearer JWT that verifies, else None."""
    header = request.headers.get("authorization") or ""  # type: ignore[attr-defined]
    if not header.startswith("Bearer "):
        return None
    try:
        claims = jwt.decode(header[len("Bearer ") :], JWT_SECRET, algorithms=["HS256"], issuer=JWT_ISSUER)
    except jwt.InvalidTokenError:
        return None
    return claims.get("sub")


def dead_url() -> str:
    """An http:// URL on a local port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Server:
    """The running server's addresses."""

    addr: Dict[str, str]
    ca: str

    @property
    def url(self) -> str:
        """The authorizer REST address, the SDK's URL."""
        return f"http://{self.addr['authorizer-rest']}"


def _lictor_bin() -> Path:
    return Path(os.environ.get("LICTOR_BIN") or REPO / "target" / "debug" / "lictor").resolve()


JWT_CONFIG = f"""
jwt:
  issuers:
    - issuer: {JWT_ISSUER}
      keys:
        - algorithm: HS256
          secret: {JWT_SECRET}
"""


@contextmanager
def run_server(extra_config: str) -> Iterator[Server]:
    """Runs `lictor run --demo` on ephemeral ports, with ``extra_config`` appended to its YAML."""
    binary = _lictor_bin()
    if not binary.is_file():
        pytest.fail(f"{binary} not found: build it with `cargo build -p lictor` or set LICTOR_BIN")
    workdir = Path(tempfile.mkdtemp(prefix="lictor-sdk-py-"))
    config = workdir / "lictor.yaml"
    config.write_text(
        f"data_dir: {workdir / 'data'}\n"
        "listen: {authorizer_grpc: 0, authorizer_rest: 0, directory_grpc: 0, directory_rest: 0, health: 0, metrics: 0}\n"
        "console: {port: 0}\n"
        + extra_config
    )
    stderr_path = workdir / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [str(binary), "run", "--demo", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:
            # Drains stdout for the server's whole life, so it never blocks on a full pipe.
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        try:
            yield _await_ready(proc, lines)
        except BaseException:
            print(stderr_path.read_text(errors="replace")[-8000:])
            raise
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            pumper.join(timeout=5)
            assert proc.stdout is not None
            proc.stdout.close()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """The demo server most tests share; it also trusts the test JWT issuer."""
    with run_server(JWT_CONFIG) as s:
        yield s


def _await_ready(proc: "subprocess.Popen[str]", lines: "queue.Queue[Optional[str]]") -> Server:
    addr: Dict[str, str] = {}
    ca = ""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"lictor did not print 'ready' within {STARTUP_TIMEOUT_S}s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError(f"lictor exited before 'ready' (status {proc.wait()})")
        words = line.split()
        if len(words) == 3 and words[0] == "listening":
            addr[words[1]] = words[2]
        elif words[:2] == ["tls", "ca"]:
            ca = line.split(None, 2)[2]
        elif words == ["ready"]:
            assert "authorizer-rest" in addr, f"no authorizer-rest address in {addr}"
            return Server(addr=addr, ca=ca)


@pytest.fixture(scope="session")
def client(server: Server) -> Iterator[Lictor]:
    with Lictor(url=server.url) as c:
        yield c


@pytest.fixture(scope="session")
def endpoint_type(client: Lictor) -> None:
    """Adds gateway mode's `endpoint` type to the demo manifest, once."""
    manifest = client.get_manifest()
    if "\n  endpoint:" not in manifest.yaml:
        client.set_manifest(manifest.yaml.rstrip("\n") + "\n" + ENDPOINT_TYPE)
