"""`make run-gcp-local`: the GCP shape on one machine.

Starts the stand-ins (Pub/Sub and Firestore emulators, redis-server, the BigQuery emulator),
creates the topic, subscriptions (push to the writer, with a dead-letter policy) and the events
table, runs the five functions as separate functions-framework processes, and serves the same API
as `make run` on PORT through a local gateway. A local scheduler calls the streams function's
delivery run every ``SCHEDULE_SECONDS`` (Cloud Scheduler does every minute on GCP), after the
integrity job that signs the checkpoints deliveries wait for. Endpoints are written to DATA_DIR/stack.json so
that tests (and curious people) can reach each piece.

Where it differs from GCP, on purpose:
- A function that dies is started again on its port within a second (Cloud Run would start a new
  instance), and so is redis-server (empty, as Memorystore after a failover); each restart is
  logged to stack.log and counted in stack.json's ``restarts``, which also lists the pids.
- The writer subscription has no retry policy: the Pub/Sub emulator stops delivering a push
  subscription's failed messages after an outage when it has one (seen with a trivial endpoint: 0
  of 5 redelivered, 0 dead-lettered). Without it a failed push is redelivered about once a
  second, so the dead-letter policy allows ``MAX_DELIVERY_ATTEMPTS`` (20: a writer outage of about
  20 s) rather than GCP's exponential backoff up to 10 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from devtools import standins

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "auditlog-local"
WRITER_SUBSCRIPTION = "audit-events-writer"
MAX_DELIVERY_ATTEMPTS = 20
SUPERVISE_SECONDS = 0.5
SCHEDULE_SECONDS = 5.0


class Stack:
    def __init__(self, workdir: Path, data_dir: Path) -> None:
        self.workdir = workdir
        self.data_dir = data_dir
        self.stand_ins: list[standins.StandIn] = []
        self.functions: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        self.env: dict[str, str] = {}
        self.restarts: dict[str, int] = {}
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> dict[str, Any]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pubsub = self._keep(standins.start_pubsub(self.workdir))
        firestore = self._keep(standins.start_firestore(self.workdir))
        redis = self._keep(standins.start_redis(self.workdir))
        self.redis = redis
        bigquery = self._keep(standins.start_bigquery(self.workdir, PROJECT))
        self.env = {
            "AUDITLOG_BACKEND": "gcp",
            "AUDITLOG_ENVIRONMENT": "development",
            "AUDITLOG_DATA_DIR": str(self.data_dir),
            "AUDITLOG_GCP_PROJECT": PROJECT,
            "AUDITLOG_BIGQUERY_ENDPOINT": f"http://127.0.0.1:{bigquery.port}",
            "AUDITLOG_BIGQUERY_STORAGE_ENDPOINT": f"127.0.0.1:{bigquery.extra_ports['grpc']}",
            "AUDITLOG_REDIS_URL": f"redis://{redis.host}/0",
            "PUBSUB_EMULATOR_HOST": pubsub.host,
            "FIRESTORE_EMULATOR_HOST": firestore.host,
        }
        ports = {name: standins.free_port() for name in ("ingest", "query", "retention", "streams", "writer")}
        self._bootstrap(push_endpoint=f"http://127.0.0.1:{ports['writer']}/")
        for name, port in ports.items():
            self._start_function(name, port)
        for name, (_, port) in self.functions.items():
            self._wait_healthy(name, port)
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()
        threading.Thread(target=self._schedule, name="scheduler", daemon=True).start()
        info = {
            "project": PROJECT,
            "env": self.env,
            "functions": {name: f"http://127.0.0.1:{port}" for name, (_, port) in self.functions.items()},
            "topic": "audit-events",
            "dead_letter_topic": "audit-events-dead-letter",
            "writer_subscription": WRITER_SUBSCRIPTION,
            "restarts": self.restarts,
            "pids": self._pids(),
        }
        (self.data_dir / "stack.json").write_text(json.dumps(info, indent=2))
        return info

    def _keep(self, stand_in: standins.StandIn) -> standins.StandIn:
        self.stand_ins.append(stand_in)
        return stand_in

    def _bootstrap(self, push_endpoint: str) -> None:
        argv = [
            sys.executable, "-m", "auditlog.cli", "bootstrap-gcp",
            "--push-endpoint", push_endpoint,
            "--writer-subscription", WRITER_SUBSCRIPTION,
            "--max-delivery-attempts", str(MAX_DELIVERY_ATTEMPTS),
            "--no-retry-policy",
        ]  # fmt: skip
        subprocess.run(
            argv,
            env={**os.environ, **self.env},
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def _start_function(self, name: str, port: int) -> None:
        argv = [
            sys.executable, "-m", "functions_framework", "--target", name,
            "--source", str(ROOT / "functions" / name / "main.py"),
            "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        if name == "writer":
            argv += ["--signature-type", "cloudevent"]
        else:
            argv += ["--asgi"]
        log = (self.workdir / f"function-{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        self.functions[name] = (process, port)

    def _supervise(self) -> None:
        """Start a function again when its process ends, as Cloud Run starts a new instance; and
        redis-server, as Memorystore fails over (empty)."""
        while not self._stopping.wait(SUPERVISE_SECONDS):
            for name, (process, port) in list(self.functions.items()):
                if process.poll() is None or self._stopping.is_set():
                    continue
                self.restarts[name] = self.restarts.get(name, 0) + 1
                print(f"function {name} exited ({process.returncode}); starting it again", flush=True)
                self._start_function(name, port)
                self._write_processes()
            if self.redis.process.poll() is not None and not self._stopping.is_set():
                self.restarts["redis"] = self.restarts.get("redis", 0) + 1
                print("redis-server exited; starting it again", flush=True)
                if self.redis in self.stand_ins:
                    self.stand_ins.remove(self.redis)
                with contextlib.suppress(RuntimeError):  # the port may still be closing: next time
                    self.redis = self._keep(standins.start_redis(self.workdir, self.redis.port))
                self._write_processes()

    def _schedule(self) -> None:
        """Cloud Scheduler's two jobs that keep streams moving: the integrity run (retention
        function), then the delivery run (streams function), with a platform token."""
        from auditlog.auth.dev_issuer import DevIssuer

        issuer = DevIssuer(self.data_dir, issuer="auditlog-dev", audience="auditlog")
        while not self._stopping.wait(SCHEDULE_SECONDS):
            token = issuer.issue(tenant_id="auditlog-platform", roles=["system_admin"], subject="scheduler")
            headers = {"Authorization": f"Bearer {token}"}
            for name, path in (("retention", "integrity/run"), ("streams", "streams/run")):
                port = self.functions[name][1]
                with contextlib.suppress(httpx.HTTPError):  # a function restarting: the next tick
                    httpx.post(f"http://127.0.0.1:{port}/api/v1/audit/{path}", headers=headers, timeout=120)

    def _write_processes(self) -> None:
        info_path = self.data_dir / "stack.json"
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(info_path.read_text())
            info["restarts"] = self.restarts
            info["pids"] = self._pids()
            info_path.write_text(json.dumps(info, indent=2))

    def _pids(self) -> dict[str, int]:
        pids = {name: process.pid for name, (process, _) in self.functions.items()}
        pids["redis"] = self.redis.process.pid
        return pids

    def _wait_healthy(self, name: str, port: int, timeout: float = 60) -> None:
        process, _ = self.functions[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (self.workdir / f"function-{name}.log").read_text(errors="replace")
                raise RuntimeError(f"function {name} exited:\n{log[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if name == "writer":
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=1)  # any answer means it is up
                    return
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"function {name} did not come up within {timeout} s")

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        for process, _ in self.functions.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.functions.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        for stand_in in reversed(self.stand_ins):
            stand_in.stop()


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from devtools.gateway import LocalGateway

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("AUDITLOG_DATA_DIR", ".auditlog-gcp"))
    )
    args = parser.parse_args(argv)
    # Absolute from here on: the stand-ins run with their own working directory.
    args.data_dir = args.data_dir.resolve()
    for name in ("pubsub", "firestore", "redis", "bigquery"):
        reason = standins.unavailable(name)
        if reason:
            print(f"cannot start the GCP shape: {reason}", file=sys.stderr)
            return 1
    stack = Stack(args.data_dir / "stand-ins", args.data_dir)
    try:
        info = stack.start()
        print(
            f"GCP shape serving on http://127.0.0.1:{args.port} (functions: {info['functions']})\n"
            f"  get a token:  AUDITLOG_DATA_DIR={args.data_dir} .venv/bin/auditlog token "
            "--tenant acme --roles audit_writer,audit_reader",
            flush=True,
        )
        # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default handler
        # that would end this process before `finally` stops the stand-ins (which run in
        # sessions of their own and would outlive it).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.run(
            LocalGateway(info["functions"]),
            host="127.0.0.1",
            port=args.port,
            log_level="warning",
            # A request waiting on a dead function must not hold the shutdown.
            timeout_graceful_shutdown=5,
        )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
