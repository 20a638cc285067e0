"""The data set of one run, generated once into spool files so that no timed phase pays for it.

- ``batches.jsonl``: one line per HTTP batch: ``tenant_id<TAB>{"events": [...]}``;
- ``stored.csv``: the same events as the service stores them (``StoredEvent`` columns in order,
  no header, NULL as an empty unquoted field): PostgreSQL's COPY input, and what the raw DuckDB
  append reads back;
- ``singles.jsonl``: single-event bodies (another tenant) for the single-event phase.

While writing it notes what the query mix needs: tenant sizes, the busiest user and event types
of the largest tenant, its rarest region, and sample audit_ids.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from auditlog.model.event import COLUMNS
from bench.generate import EventGenerator, format_ts, to_stored
from bench.util import Progress

SAMPLE_IDS = 256
SINGLE_TENANT = "bench-single"


@dataclass
class Dataset:
    directory: Path
    events: int
    batches: int
    generated_at: datetime  # the generator's "now"
    tenant_counts: dict[str, int]
    largest: str
    smallest: str
    top_user: str  # the largest tenant's busiest user
    filter_event_type: str  # a mid-frequency event type of the largest tenant
    rare_region: str  # the largest tenant's least frequent metadata.region
    sample_ids: dict[str, list[str]] = field(default_factory=dict)  # per tenant: largest, smallest
    mean_event_bytes: float = 0.0
    singles: int = 0

    @property
    def batches_path(self) -> Path:
        return self.directory / "batches.jsonl"

    @property
    def stored_path(self) -> Path:
        return self.directory / "stored.csv"

    @property
    def singles_path(self) -> Path:
        return self.directory / "singles.jsonl"

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "batches": self.batches,
            "tenants": len(self.tenant_counts),
            "largest_tenant": {"id": self.largest, "events": self.tenant_counts[self.largest]},
            "smallest_tenant": {"id": self.smallest, "events": self.tenant_counts[self.smallest]},
            "mean_event_json_bytes": round(self.mean_event_bytes, 1),
            "top_user": self.top_user,
            "filter_event_type": self.filter_event_type,
            "rare_region": self.rare_region,
        }


def prepare(gen: EventGenerator, count: int, directory: Path, singles: int, progress: Progress) -> Dataset:
    directory.mkdir(parents=True, exist_ok=True)
    created_at = format_ts(datetime.now(UTC).replace(tzinfo=None))
    largest, smallest = gen.largest.tenant_id, gen.smallest.tenant_id
    tenant_counts: Counter[str] = Counter()
    users: Counter[str] = Counter()
    types: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    samples: dict[str, list[str]] = {largest: [], smallest: []}
    sampler = random.Random(gen.seed + 1)  # its own stream: the events do not depend on it
    total_bytes = 0
    n_batches = 0
    done = 0
    with (
        (directory / "batches.jsonl").open("wb") as batches_out,
        (directory / "stored.csv").open("w", newline="") as stored_out,
    ):
        writer = csv.writer(stored_out, lineterminator="\n")
        for tenant_id, events in gen.batches(count):
            body = orjson.dumps({"events": events})
            batches_out.write(tenant_id.encode() + b"\t" + body + b"\n")
            total_bytes += len(body) - 12  # minus the {"events":[]} wrapper
            n_batches += 1
            tenant_counts[tenant_id] += len(events)
            for event in events:
                record = to_stored(event, created_at)
                writer.writerow([record[c] for c in COLUMNS])
            if tenant_id == largest:
                for event in events:
                    users[event["user_id"]] += 1
                    types[event["event_type"]] += 1
                    regions[event["metadata"]["region"]] += 1
            if tenant_id in samples:
                _reservoir(
                    samples[tenant_id], [e["audit_id"] for e in events], tenant_counts[tenant_id], sampler
                )
            done += len(events)
            progress.update(f"{done:,}/{count:,} events")
    ranked_types = [t for t, _ in types.most_common()]
    with (directory / "singles.jsonl").open("wb") as out:
        single_gen = EventGenerator(gen.seed + 2, now=gen.now)
        for event in _singles(single_gen, singles):
            out.write(orjson.dumps(event) + b"\n")
    return Dataset(
        directory=directory,
        events=done,
        batches=n_batches,
        generated_at=gen.now,
        tenant_counts=dict(tenant_counts),
        largest=largest,
        smallest=smallest if tenant_counts[smallest] else min(tenant_counts, key=tenant_counts.__getitem__),
        top_user=users.most_common(1)[0][0] if users else gen.largest.users[0],
        filter_event_type=ranked_types[min(4, len(ranked_types) - 1)] if ranked_types else "user.login",
        rare_region=min(regions, key=regions.__getitem__) if regions else "sa-east-1",
        sample_ids=samples,
        mean_event_bytes=total_bytes / max(done, 1),
        singles=singles,
    )


def _singles(gen: EventGenerator, count: int) -> Iterator[dict[str, Any]]:
    """Single-event bodies for a tenant outside the data set, timestamps within the data's span."""
    for event in gen.events(count):
        event["tenant_id"] = SINGLE_TENANT
        yield event


def _reservoir(sample: list[str], new: list[str], seen_after: int, rng: random.Random) -> None:
    """Algorithm R over a stream arriving in chunks; ``seen_after`` counts the chunk."""
    seen = seen_after - len(new)
    for item in new:
        seen += 1
        if len(sample) < SAMPLE_IDS:
            sample.append(item)
        else:
            j = rng.randrange(seen)
            if j < SAMPLE_IDS:
                sample[j] = item


def read_stored(path: Path, chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
    """``stored.csv`` back as ``StoredEvent`` dicts, ``chunk_rows`` at a time."""
    retention = COLUMNS.index("retention_period_days")
    with path.open(newline="") as f:
        chunk: list[dict[str, Any]] = []
        for row in csv.reader(f):
            values: list[Any] = [v if v != "" else None for v in row]
            values[retention] = int(row[retention])
            chunk.append(dict(zip(COLUMNS, values, strict=True)))
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
