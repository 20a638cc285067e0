"""Shared fixtures: a real local server in a subprocess, tokens from its development issuer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditlog.auth.dev_issuer import DevIssuer

ROOT = Path(__file__).resolve().parent.parent
ALL_ROLES = ["audit_writer", "audit_reader", "audit_export"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalService:
    """A running ``auditlog serve`` process on its own data dir and port."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # more AUDITLOG_* settings for this server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "AUDITLOG_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "AUDITLOG_ENVIRONMENT": "development",
            **self.env,
        }
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "auditlog.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become healthy:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def token(self, tenant: str = "acme", roles: list[str] | None = None, sub: str = "tester") -> str:
        issuer = DevIssuer(self.data_dir, issuer="auditlog-dev", audience="auditlog")
        return issuer.issue(tenant_id=tenant, roles=roles or ALL_ROLES, subject=sub)

    def client(
        self, tenant: str = "acme", roles: list[str] | None = None, sub: str = "tester"
    ) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token(tenant, roles, sub)}"},
            timeout=30,
        )


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """One server for the e2e session; tests keep to their own tenants to stay independent."""
    svc = LocalService(tmp_path_factory.mktemp("service") / "data")
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture
def fresh_service(tmp_path: Path) -> Iterator[LocalService]:
    """A server of the test's own, for tests that kill or restart it."""
    svc = LocalService(tmp_path / "data")
    svc.start()
    yield svc
    svc.stop(signal.SIGKILL)


def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


# -- GCP stand-ins: started once per session, each on a free port ---------------------------


def _stand_in(name: str, start: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from devtools import standins

    reason = standins.unavailable(name)
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} stand-in is required under CI=true: {reason}")
        pytest.skip(f"{name} stand-in unavailable: {reason}")
    stand_in = start(tmp_path_factory.mktemp(f"standin-{name}"))
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The official Pub/Sub emulator; ``.host`` is what PUBSUB_EMULATOR_HOST takes."""
    from devtools import standins

    yield from _stand_in("pubsub", standins.start_pubsub, tmp_path_factory)


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The official Firestore emulator; ``.host`` is what FIRESTORE_EMULATOR_HOST takes."""
    from devtools import standins

    yield from _stand_in("firestore", standins.start_firestore, tmp_path_factory)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real redis-server; connect to ``redis://{host}/0``."""
    from devtools import standins

    yield from _stand_in("redis", standins.start_redis, tmp_path_factory)


BIGQUERY_PROJECT = "auditlog-test"


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """bqemulator (REST on ``.port``) for project ``BIGQUERY_PROJECT``."""
    from devtools import standins

    yield from _stand_in(
        "bigquery",
        lambda workdir: standins.start_bigquery(workdir, BIGQUERY_PROJECT),
        tmp_path_factory,
    )
