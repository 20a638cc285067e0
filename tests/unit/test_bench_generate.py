"""The benchmark's synthetic events: deterministic, valid, ~1 KB, skewed, inside the last 90 days."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta

import orjson
import pytest

from auditlog.model.event import COLUMNS, parse_event, parse_rfc3339, to_stored
from bench.generate import EVENT_TYPES, EventGenerator
from bench.generate import to_stored as bench_to_stored

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, 0)
N = 3000


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return list(EventGenerator(7, now=NOW).events(N))


def test_same_seed_same_events(events: list[dict]) -> None:
    again = list(EventGenerator(7, now=NOW).events(N))
    assert orjson.dumps(again) == orjson.dumps(events)


def test_other_seed_other_events(events: list[dict]) -> None:
    other = list(EventGenerator(8, now=NOW).events(N))
    assert {e["audit_id"] for e in other}.isdisjoint(e["audit_id"] for e in events)


def test_batches_are_the_same_events_grouped_by_tenant(events: list[dict]) -> None:
    batches = list(EventGenerator(7, now=NOW).batches(N, size=100))
    flat = [e for _, batch in batches for e in batch]
    assert sorted(e["audit_id"] for e in flat) == sorted(e["audit_id"] for e in events)
    for tenant, batch in batches:
        assert 1 <= len(batch) <= 100
        assert {e["tenant_id"] for e in batch} == {tenant}


def test_batches_are_lazy() -> None:
    # Ten million events: taking the first batches must not generate them all.
    stream = EventGenerator(7, now=NOW).batches(10_000_000, size=1000)
    first = list(itertools.islice(stream, 3))
    assert [len(b) for _, b in first] == [1000, 1000, 1000]


def test_events_validate_against_the_service_model(events: list[dict]) -> None:
    for event in events[:500]:
        model = parse_event(event)
        record = to_stored(
            model,
            tenant_id=event["tenant_id"],
            audit_id=model.audit_id or "",
            default_retention_days=90,
            now=NOW,
            max_future=timedelta(minutes=5),
        )
        # The bench's fast conversion is what the service itself stores (but for created_at).
        ours = bench_to_stored(event, created_at=record["created_at"])
        assert list(ours) == list(COLUMNS)
        assert ours == record


def test_events_are_about_one_kilobyte(events: list[dict]) -> None:
    sizes = [len(orjson.dumps(e)) for e in events]
    mean = sum(sizes) / len(sizes)
    assert 900 <= mean <= 1300, mean
    assert max(sizes) < 2000


def test_tenant_sizes_are_skewed(events: list[dict]) -> None:
    gen = EventGenerator(7, now=NOW)
    assert len(gen.tenants) == 50
    assert 0.27 <= gen.largest.share <= 0.33
    assert sum(len(t.users) for t in gen.tenants) == pytest.approx(10_000, rel=0.05)
    counts = Counter(e["tenant_id"] for e in events)
    top = counts.most_common(1)[0]
    assert top[0] == gen.largest.tenant_id
    assert 0.25 <= top[1] / N <= 0.35
    assert counts[gen.smallest.tenant_id] < 0.02 * N


def test_value_distributions(events: list[dict]) -> None:
    statuses = Counter(e["status"] for e in events)
    assert statuses["success"] / N > 0.85
    assert statuses["failure"] > 0 and statuses["denied"] > 0
    assert len(EVENT_TYPES) == 30
    assert len({e["event_type"] for e in events}) >= 25
    assert {"region", "plan", "request_source"} <= events[0]["metadata"].keys()
    assert len({e["metadata"]["region"] for e in events}) >= 4
    assert len({e["user_id"] for e in events}) > 500


def test_timestamps_lie_in_the_last_90_days_in_order(events: list[dict]) -> None:
    times = [parse_rfc3339(e["timestamp"]) for e in events]
    assert all(e["timestamp"].endswith("Z") for e in events)
    assert min(times) >= NOW - timedelta(days=90)
    assert max(times) <= NOW - timedelta(minutes=1)
    assert max(times) - min(times) > timedelta(days=85)
    assert times == sorted(times)
