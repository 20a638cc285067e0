"""Our service under test: ``auditlog serve`` on a free port with a fresh data dir, and tokens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from auditlog.auth.dev_issuer import DevIssuer
from bench.util import Http, free_port

ROLES = ["audit_writer", "audit_reader", "audit_export"]


class BenchServer:
    def __init__(self, data_dir: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = free_port()
        self.host = "127.0.0.1"
        self.process: subprocess.Popen[bytes] | None = None
        self._extra_env = env or {}
        self._tokens: dict[str, str] = {}
        self._issuer: DevIssuer | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        script = Path(sys.executable).parent / "auditlog"
        command = (
            [str(script), "serve"] if script.exists() else [sys.executable, "-m", "auditlog.cli", "serve"]
        )
        env = {
            **os.environ,
            **self._extra_env,
            "AUDITLOG_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "AUDITLOG_HOST": self.host,
            "AUDITLOG_ENVIRONMENT": "development",
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        http = Http(self.host, self.port, timeout=2)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server exited early:\n{self.log_tail()}")
                try:
                    status, _ = http.request("GET", "/readyz")
                    if status == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.1)
        finally:
            http.close()
        raise RuntimeError(f"the server did not become ready in {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 120.0) -> None:
        """SIGTERM (the writer drains the journal first), SIGKILL if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self.process = None

    def token(self, tenant: str) -> str:
        if tenant not in self._tokens:
            if self._issuer is None:
                self._issuer = DevIssuer(self.data_dir, issuer="auditlog-dev", audience="auditlog")
            self._tokens[tenant] = self._issuer.issue(
                tenant_id=tenant, roles=ROLES, subject="bench", ttl_seconds=72 * 3600
            )
        return self._tokens[tenant]

    def admin_headers(self, tenant: str) -> dict[str, str]:
        """A tenant administrator's (system_admin): the stream benchmark creates a stream."""
        if self._issuer is None:
            self._issuer = DevIssuer(self.data_dir, issuer="auditlog-dev", audience="auditlog")
        token = self._issuer.issue(tenant_id=tenant, roles=["system_admin"], subject="bench-admin")
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def headers(self, tenant: str, *, json_body: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token(tenant)}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def http(self, timeout: float = 120.0) -> Http:
        return Http(self.host, self.port, timeout=timeout)

    def url(self, path: str = "") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
