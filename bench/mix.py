"""The query mix, defined once for both systems, and the loop that times it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench.dataset import Dataset
from bench.util import Progress, latency_summary

PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class QuerySpec:
    key: str
    label: str
    tenant: str
    window: timedelta
    filters: tuple[tuple[str, str], ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()
    target_p95_ms: float = 50.0

    def window_at(self, anchor: datetime, shift: int) -> tuple[datetime, datetime]:
        """The window ending ``shift`` seconds before ``anchor``: each cold run asks a slightly
        different question, so no result cache can answer it; the work is the same."""
        end = anchor - timedelta(seconds=shift)
        return end - self.window, end


def query_mix(data: Dataset) -> list[QuerySpec]:
    large, small = data.largest, data.smallest
    day = timedelta(days=1)
    return [
        QuerySpec("large_24h", f"newest page, largest tenant ({large}), 24 h", large, day),
        QuerySpec("small_24h", f"newest page, small tenant ({small}), 24 h", small, day),
        QuerySpec(
            "user_30d", "largest tenant + user_id, 30 d", large, 30 * day, (("user_id", data.top_user),)
        ),
        QuerySpec(
            "type_status_90d",
            "largest tenant + event_type + status, 90 d",
            large,
            90 * day,
            (("event_type", data.filter_event_type), ("status", "failure")),
        ),
        QuerySpec(
            "metadata_90d",
            "largest tenant + metadata.region, 90 d",
            large,
            90 * day,
            metadata=(("region", data.rare_region),),
            target_p95_ms=300.0,
        ),
    ]


GET_TARGET_MS = 5.0
REPEATED_TARGET_MS = 5.0


def time_runs(
    run: Callable[[int], int], *, warmup: int, runs: int, progress: Progress, label: str, first: int = 0
) -> tuple[dict[str, Any], int]:
    """Call ``run(i)`` ``warmup`` times untimed, then ``runs`` times timed; ``run`` returns the
    number of rows it got. Returns the latency summary and the rows of the last run."""
    rows = 0
    for i in range(warmup):
        rows = run(first + i)
    seconds: list[float] = []
    for i in range(runs):
        started = time.perf_counter()
        rows = run(first + warmup + i)
        seconds.append(time.perf_counter() - started)
        progress.update(f"{label}: {i + 1}/{runs}")
    return latency_summary(seconds), rows
