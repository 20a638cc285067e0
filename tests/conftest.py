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

from auditlog.identity import DevIssuer

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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            "AUDITLOG_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "AUDITLOG_ENVIRONMENT": "development",
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
