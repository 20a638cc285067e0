"""One log stream's delivery rate, on a fresh server, to a webhook receiver in a process of its
own (signatures verified with `standardwebhooks`), while ingest continues (issue 22's
"one stream delivers >= 20k events/s ... while ingest continues").

A backlog of ``events`` events of one tenant is written first; then, while a second writer keeps
ingesting into the same tenant, a stream from the log's beginning is created, and the time until
the receiver holds the whole backlog gives the delivery rate. The writer then stops, and the time
until the receiver has every event is the lag left at the end of ingest. Server CPU is measured
over the delivery.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from bench import ours
from bench.generate import EventGenerator
from bench.server import BenchServer
from bench.util import CpuMeter, Http, Progress, free_port

TENANT = "stream-bench"
BATCH = 1000


def _batches(gen: EventGenerator, count: int) -> list[bytes]:
    return [
        orjson.dumps({"events": [gen.live_event(TENANT) for _ in range(BATCH)]})
        for _ in range(count // BATCH)
    ]


def _post_all(server: BenchServer, bodies: list[bytes], stop: threading.Event | None = None) -> int:
    http, headers, sent = server.http(), server.headers(TENANT, json_body=True), 0
    try:
        for body in bodies:
            if stop is not None and stop.is_set():
                break
            status, payload = http.request("POST", ours.BATCH, body, headers)
            if status != 202:
                raise RuntimeError(f"ingest failed: HTTP {status} {payload[:200]!r}")
            sent += BATCH
    finally:
        http.close()
    return sent


def _stats(port: int) -> dict[str, Any]:
    http = Http("127.0.0.1", port, timeout=5)
    try:
        _, body = http.request("GET", "/stats")
        return dict(orjson.loads(body))
    finally:
        http.close()


def _wait_for(port: int, count: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if _stats(port)["events"] >= count:
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError(f"the receiver got {_stats(port)['events']:,} of {count:,} events in {timeout:.0f} s")


def run(gen: EventGenerator, workdir: Path, events: int, progress: Progress) -> dict[str, Any]:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.stream_receiver", "--port", str(port), "--secret", secret],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = BenchServer(workdir / "server", workdir / "server.log")
    server.start()
    try:
        progress.phase(f"stream: a backlog of {events:,} events of one tenant")
        _post_all(server, _batches(gen, events))
        ours.wait_until_queryable(server, gen, timeout=300)
        more = _batches(gen, events)  # generated before timing: the writer only posts
        stop = threading.Event()
        writer = threading.Thread(target=lambda: _post_all(server, more, stop), daemon=True)
        progress.phase("stream: delivering the backlog while ingest continues")
        writer.start()
        with CpuMeter(server.pid) as cpu:
            _create(server, port, secret)
            drain = _wait_for(port, events, timeout=max(120.0, events / 1000))
        stop.set()
        writer.join(timeout=120)
        total = _total(server)
        tail = _wait_for(port, total, timeout=300)
        stats = _stats(port)
        result = {
            "backlog_events": events,
            "delivery_seconds": round(drain, 3),
            "events_per_s": round(events / drain, 1),
            "server_cpu_ms_per_1k": round(1e6 * (cpu.result["server_cpu_seconds"] or 0) / events, 1),
            "ingested_meanwhile": total - events,
            "lag_after_ingest_stopped_s": round(tail, 3),
            "batches": stats["batches"],
            "refused_signatures": stats["refused"],
            "gaps": stats["gaps"],
        }
        progress.done(
            f"{result['events_per_s']:,.0f} events/s delivered; caught up {tail:.1f} s after ingest"
        )
        return result
    finally:
        server.stop()
        os.killpg(receiver.pid, signal.SIGTERM)
        receiver.wait(timeout=30)


def _create(server: BenchServer, port: int, secret: str) -> None:
    admin = server.admin_headers(TENANT)
    body = {
        "tenant_id": TENANT,
        "name": "bench",
        "destination": {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook", "secret": secret},
        "start": "beginning",
        "batch_size": 5000,
        "batch_wait_seconds": 0.2,
        "filter": {"include_self_audit": True},
    }
    http = server.http()
    try:
        status, payload = http.request("POST", "/api/v1/admin/streams", orjson.dumps(body), admin)
        if status != 201:
            raise RuntimeError(f"creating the stream failed: HTTP {status} {payload[:300]!r}")
    finally:
        http.close()


def _total(server: BenchServer) -> int:
    """Leaves in the tenant's log now (the events written, and the service's own records)."""
    http = server.http()
    try:
        status, body = http.request("GET", "/api/v1/audit/checkpoints/latest", None, server.headers(TENANT))
        return int(orjson.loads(body)["tree_size"]) if status == 200 else 0
    finally:
        http.close()
