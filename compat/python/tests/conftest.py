"""Starts a real `lictor run --demo` process on ephemeral ports for the tests."""

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import pytest

HERE = Path(__file__).resolve().parent
STARTUP_TIMEOUT_S = 60


def lictor_bin() -> Path:
    env = os.environ.get("LICTOR_BIN")
    if env:
        return Path(env).resolve()
    return (HERE / ".." / ".." / ".." / "target" / "debug" / "lictor").resolve()


@dataclass
class Lictor:
    addr: Dict[str, str]  # "authorizer-grpc" -> "127.0.0.1:PORT", ...
    ca: str

    @property
    def authorizer_grpc(self) -> str:
        return self.addr["authorizer-grpc"]

    @property
    def directory_grpc(self) -> str:
        return self.addr["directory-grpc"]


def _write_config(workdir: Path) -> Path:
    config = workdir / "lictor.yaml"
    lines = [f'data_dir: "{workdir / "data"}"', "listen:"]
    for name in ("authorizer_grpc", "authorizer_rest", "directory_grpc", "directory_rest", "health", "metrics"):
        lines.append(f"  {name}: 0")
    lines += ["console:", "  port: 0"]
    config.write_text("\n".join(lines) + "\n")
    return config


@pytest.fixture(scope="session")
def lictor():
    binary = lictor_bin()
    if not binary.exists():
        pytest.fail(f"{binary} not found: build it with `cargo build -p lictor` or set LICTOR_BIN")

    workdir = Path(tempfile.mkdtemp(prefix="lictor-compat-py-"))
    config = _write_config(workdir)
    stderr = open(workdir / "stderr.log", "wb")
    proc = subprocess.Popen(
        [str(binary), "run", "--demo", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )

    lines: "queue.Queue[str | None]" = queue.Queue()

    def pump():
        # Keeps draining stdout so the server never blocks on a full pipe.
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    addr: Dict[str, str] = {}
    ca = None
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f'lictor did not print "ready" within {STARTUP_TIMEOUT_S}s')
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"lictor exited before ready (status {proc.wait()})")
            words = line.split()
            if len(words) == 3 and words[0] == "listening":
                addr[words[1]] = words[2]
            elif len(words) >= 3 and words[:2] == ["tls", "ca"]:
                ca = line.split(None, 2)[2]
            elif words == ["ready"]:
                break
        for name in ("authorizer-grpc", "directory-grpc"):
            assert name in addr, f"lictor did not report a {name} address: {addr}"
        assert ca, "lictor did not report its TLS CA"
        yield Lictor(addr=addr, ca=ca)
    except Exception:
        stderr.flush()
        print((workdir / "stderr.log").read_text(errors="replace")[-8000:])
        raise
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stderr.close()
        shutil.rmtree(workdir, ignore_errors=True)
