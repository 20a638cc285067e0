"""The GCP shape as tests start it: `make run-gcp-local`'s launcher in a process of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditlog.auth.dev_issuer import DevIssuer
from tests.conftest import ROOT, free_port


class GcpStack:
    def __init__(self, data_dir: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.data_dir = data_dir
        self.port = port
        self.process = process
        self.info: dict[str, Any] = json.loads((data_dir / "stack.json").read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, tenant: str, roles: list[str]) -> str:
        issuer = DevIssuer(self.data_dir, issuer="auditlog-dev", audience="auditlog")
        return issuer.issue(tenant_id=tenant, roles=roles)

    def client(self, tenant: str, roles: list[str]) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(tenant, roles)}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def refresh(self) -> dict[str, Any]:
        """stack.json again: the pids and restart counts move as the launcher restarts things."""
        self.info = json.loads((self.data_dir / "stack.json").read_text())
        return self.info

    def publisher(self) -> Any:
        os.environ["PUBSUB_EMULATOR_HOST"] = self.info["env"]["PUBSUB_EMULATOR_HOST"]
        from google.cloud import pubsub_v1

        return pubsub_v1.PublisherClient()

    def topic(self, name: str) -> str:
        return f"projects/{self.info['project']}/topics/{name}"


def running_stack(data_dir: Path) -> Iterator[GcpStack]:
    """``make run-gcp-local``'s stack on its own data dir, skipped (failed under CI=true) where a
    stand-in is missing; stopped as SIGTERM stops it."""
    from devtools import standins

    for name in ("pubsub", "firestore", "redis", "bigquery"):
        reason = standins.unavailable(name)
        if reason is not None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"the GCP stack needs {name} under CI=true: {reason}")
            pytest.skip(f"the GCP stack needs {name}: {reason}")
    port = free_port()
    log = (data_dir / "stack.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.gcp_local", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the stack exited:\n{(data_dir / 'stack.log').read_text()[-4000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the stack did not start:\n{(data_dir / 'stack.log').read_text()[-4000:]}")
            time.sleep(0.2)
        yield GcpStack(data_dir, port, process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
