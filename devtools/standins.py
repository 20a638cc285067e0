"""Start the real local stand-ins for GCP services, each on a free loopback port.

Pub/Sub and Firestore: the official emulators from the gcloud SDK. Redis: Debian's redis-server.
BigQuery: ``bqemulator`` from PyPI, in a virtual environment of its own (it brings many
dependencies and a pytest plugin), patched at start-up to skip the spatial extension download,
which fails offline (only GEOGRAPHY functions are lost).

Each process runs in its own process group so that stopping it also stops the Java child that
the ``gcloud`` wrapper starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BQEMU_VENV = ROOT / ".stand-ins" / "bqemulator-venv"
BQEMU_REQUIREMENT = "bqemulator==1.4.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class StandIn:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    extra_ports: dict[str, int] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _launch(
    name: str,
    argv: list[str],
    workdir: Path,
    port: int,
    ready: Callable[[str], bool],
    timeout: float,
    env: dict[str, str] | None = None,
) -> StandIn:
    workdir.mkdir(parents=True, exist_ok=True)
    if _port_open(port):
        raise RuntimeError(f"{name}: port {port} is already taken")
    log_path = workdir / f"{name}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=workdir,
            env={**os.environ, **(env or {})},
        )
    stand_in = StandIn(name, port, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited at start-up:\n{stand_in.log()[-3000:]}")
        if ready(stand_in.log()) and _port_open(port):
            return stand_in
        time.sleep(0.05)
    stand_in.stop()
    raise RuntimeError(f"{name} was not ready within {timeout} s:\n{stand_in.log()[-3000:]}")


# -- availability ------------------------------------------------------------------------------


def _gcloud_component(component: str) -> str | None:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return "gcloud is not installed (the emulators come with the gcloud SDK)"
    sdk = Path(os.path.realpath(gcloud)).parent.parent
    if not (sdk / "platform" / component).exists():
        return f"the gcloud component {component!r} is not installed"
    if shutil.which("java") is None:
        return "java is not installed (the gcloud emulators need it)"
    return None


def unavailable(name: str) -> str | None:
    """Why the named stand-in cannot start here, or None if it can."""
    if name == "pubsub":
        return _gcloud_component("pubsub-emulator")
    if name == "firestore":
        return _gcloud_component("cloud-firestore-emulator")
    if name == "redis":
        return None if shutil.which("redis-server") else "redis-server is not installed"
    if name == "bigquery":
        return None  # installed on demand from PyPI into its own venv
    raise ValueError(name)


# -- the stand-ins -----------------------------------------------------------------------------


def start_pubsub(workdir: Path, port: int | None = None) -> StandIn:
    port = port or free_port()
    return _launch(
        "pubsub",
        ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}", "--quiet"],
        workdir,
        port,
        lambda log: "Server started" in log,
        timeout=60,
    )


def start_firestore(workdir: Path, port: int | None = None) -> StandIn:
    port = port or free_port()
    return _launch(
        "firestore",
        ["gcloud", "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}", "--quiet"],
        workdir,
        port,
        lambda log: "Dev App Server is now running" in log,
        timeout=60,
    )


def start_redis(workdir: Path, port: int | None = None) -> StandIn:
    port = port or free_port()
    return _launch(
        "redis",
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ],
        workdir,
        port,
        lambda log: "Ready to accept connections" in log,
        timeout=20,
    )


_BQEMU_LAUNCHER = """
import sys
from bqemulator.storage.engine import DuckDBEngine
DuckDBEngine._load_spatial = lambda self: None  # offline: skip the spatial extension download
from bqemulator.cli import main
sys.argv = ["bqemulator", *sys.argv[1:]]
main()
"""


def ensure_bqemulator() -> Path:
    """The bqemulator venv's python, installing it on first use."""
    python = BQEMU_VENV / "bin" / "python"
    marker = BQEMU_VENV / ".installed"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BQEMU_VENV)], check=True)
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             BQEMU_REQUIREMENT, "numpy"],
            capture_output=True,
            text=True,
        )  # fmt: skip
        if installed.returncode != 0:
            raise RuntimeError(f"installing {BQEMU_REQUIREMENT} failed:\n{installed.stderr[-3000:]}")
        marker.touch()
    return python


def start_bigquery(workdir: Path, project: str, port: int | None = None) -> StandIn:
    python = ensure_bqemulator()
    launcher = workdir / "bqemulator_launcher.py"
    workdir.mkdir(parents=True, exist_ok=True)
    launcher.write_text(_BQEMU_LAUNCHER)
    port = port or free_port()
    grpc_port = free_port()

    def ready(_: str) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/bigquery/v2/projects/{project}/datasets", timeout=0.5
            ) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    stand_in = _launch(
        "bigquery",
        [
            str(python),
            str(launcher),
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(port),
            "--grpc-host",
            "127.0.0.1",
            "--grpc-port",
            str(grpc_port),
            "--project",
            project,
        ],
        workdir,
        port,
        ready,
        timeout=90,
        env={"BQEMU_ENABLE_FORMAT_EXTENSIONS": "false"},
    )
    stand_in.extra_ports["grpc"] = grpc_port
    return stand_in
