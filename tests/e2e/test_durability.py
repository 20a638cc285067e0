"""A 2xx means durable: every acknowledged event survives ``kill -9`` of the server."""

from __future__ import annotations

import signal
import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e


def _event(i: int) -> dict[str, object]:
    ts = datetime.now(UTC) - timedelta(minutes=1, seconds=i % 50)
    return {
        "audit_id": str(uuid.uuid4()),
        "timestamp": ts.isoformat(),
        "event_type": "doc.update",
        "user_id": f"user-{i % 7}",
        "resource_type": "document",
        "action": "update",
    }


def test_acknowledged_events_survive_kill_9_and_restart(fresh_service: LocalService) -> None:
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    token = fresh_service.token("durable", ["audit_writer"])

    def writer(worker: int) -> None:
        with httpx.Client(base_url=fresh_service.url, headers={"Authorization": f"Bearer {token}"}) as c:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    if i % 5 == 0:
                        batch = [_event(i * 100 + k) for k in range(50)]
                        r = c.post("/api/v1/audit/events/batch", json={"events": batch}, timeout=10)
                        ids = [e["audit_id"] for e in batch] if r.status_code == 202 else []
                    else:
                        e = _event(i)
                        r = c.post("/api/v1/audit/events", json=e, timeout=10)
                        ids = [str(e["audit_id"])] if r.status_code == 202 else []
                except httpx.TransportError:
                    return  # the server died under us: this request was never acknowledged
                with lock:
                    acknowledged.extend(ids)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    wait_for(lambda: len(acknowledged) >= 1500, timeout=60)
    fresh_service.stop(signal.SIGKILL)  # while requests are in flight
    stop.set()
    for t in threads:
        t.join()

    restarted = LocalService(fresh_service.data_dir)
    restarted.start()
    try:
        with restarted.client("durable", ["audit_export"]) as client:

            def exported() -> list[str]:
                r = client.get("/api/v1/audit/events/export", params={"format": "json"})
                assert r.status_code == 200
                return [orjson.loads(line)["audit_id"] for line in r.content.splitlines()]

            def all_there() -> list[str] | None:
                ids = exported()
                return ids if set(acknowledged) <= set(ids) else None

            ids = wait_for(all_there, timeout=10, interval=0.2)
        assert len(ids) == len(set(ids)), "an event appears twice after recovery"
        assert set(acknowledged) <= set(ids)
    finally:
        restarted.stop()
