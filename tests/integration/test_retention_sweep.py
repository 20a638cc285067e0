"""Retention in bounded runs (issue 20): each run deletes a few ranges of partitions within its
budget, saves its place, and the next run goes on; runs never overlap; each writes one log line
with its outcome, which the deployment's alerts count."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditlog.admin.lease import Lease
from auditlog.admin.retention import RetentionService, SweepLimits
from auditlog.auth.identity import Principal
from auditlog.runtime import Runtime, build_runtime
from auditlog.settings import Settings
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def _lease(state: Any, seconds: float = 900) -> Lease:
    return Lease(state, seconds, collection="retention")

TENANT = "sweep"
WRITER = Principal("svc", TENANT, frozenset({"audit_writer"}))
DAYS = 400  # of history, one event a day


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(Settings(data_dir=tmp_path / "data", retention_partitions_per_step=31))
    events = [
        {
            "audit_id": str(uuid.uuid4()),
            "timestamp": (datetime.now(UTC) - timedelta(days=d)).isoformat(),
            "event_type": "record.read",
            "user_id": "u",
            "resource_type": "record",
            "action": "read",
            "retention_period_days": 2555,
        }
        for d in range(DAYS)
    ]
    asyncio.run(rt.ingest.write_batch(WRITER, {"events": events}))
    wait_for(lambda: rt.store.count() == DAYS, timeout=10)
    yield rt
    rt.close()


class Clock:
    """Each reading is a second after the last: a run's budget is a number of steps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _service(runtime: Runtime, budget: float) -> RetentionService:
    return RetentionService(
        runtime.store,
        runtime.holds,
        runtime.backends.cache,
        runtime.policies,
        runtime.protector,
        runtime.backends.state,
        SweepLimits(budget_seconds=budget, lease_seconds=900, partitions_per_step=31),
    )


def test_a_sweep_goes_on_where_the_last_run_stopped_until_complete(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    far = date.today() + timedelta(days=3000)  # every event has expired by then
    # Each reading of the clock is a second: a budget of 30 lets a run take 28 steps of 31 days,
    # so the ~3300 days from the oldest partition to the newest that can hold expired events
    # take four runs.
    service = _service(runtime, budget=30)
    caplog.set_level(logging.INFO, logger="auditlog.admin.retention")
    reports: list[dict[str, Any]] = []
    while not reports or reports[-1]["outcome"] == "partial":
        reports.append(service.sweep(far, clock=Clock()))
        assert len(reports) < 10
    assert [r["outcome"] for r in reports[:-1]] == ["partial"] * (len(reports) - 1)
    assert reports[-1]["outcome"] == "complete"
    assert sum(r["deleted"] for r in reports) == DAYS, "every expired event, each once"
    assert runtime.store.count() == 0
    # The runs' ranges follow one another without a gap.
    ranges = [(r["partitions_from"], r["partitions_to"]) for r in reports if r["partitions_from"]]
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert date.fromisoformat(start) == date.fromisoformat(end) + timedelta(days=1)
    lines = [r for r in caplog.records if getattr(r, "event", None) == "retention_run"]
    assert [getattr(r, "outcome", None) for r in lines] == [r["outcome"] for r in reports], "one line a run"
    again = service.sweep(far, clock=Clock())
    assert again["outcome"] == "complete" and again["deleted"] == 0, "at most one sweep a day"


def test_runs_never_overlap(runtime: Runtime) -> None:
    far = date.today() + timedelta(days=3000)
    holder = _lease(runtime.backends.state)
    assert holder.acquire(datetime.now(UTC).timestamp())
    assert not _lease(runtime.backends.state).acquire(datetime.now(UTC).timestamp())
    skipped = _service(runtime, budget=600).sweep(far)
    assert skipped["outcome"] == "skipped_locked" and runtime.store.count() == DAYS
    holder.release()
    assert _service(runtime, budget=600).sweep(far)["outcome"] == "complete"


def test_an_expired_lease_is_taken_over_by_exactly_one_run(runtime: Runtime) -> None:
    state = runtime.backends.state
    crashed = _lease(state, 1)
    assert crashed.acquire(1000.0)  # a run that died without releasing
    later = 1000.0 + 5
    contenders = [_lease(state) for _ in range(5)]
    assert sum(lease.acquire(later) for lease in contenders) == 1


def test_a_failed_run_logs_failed_and_releases_the_lease(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(runtime, budget=600)

    def broken(*args: Any, **kwargs: Any) -> dict[str, int]:
        raise RuntimeError("BigQuery said no")

    monkeypatch.setattr(runtime.store, "expired", broken)
    caplog.set_level(logging.INFO, logger="auditlog.admin.retention")
    with pytest.raises(RuntimeError):
        service.sweep(date.today() + timedelta(days=3000))
    (line,) = [r for r in caplog.records if getattr(r, "event", None) == "retention_run"]
    assert getattr(line, "outcome", None) == "failed" and line.levelno == logging.ERROR
    assert _lease(runtime.backends.state).acquire(datetime.now(UTC).timestamp())
