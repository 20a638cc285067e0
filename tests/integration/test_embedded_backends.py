"""The embedded queue and store against their real engines (SQLite, DuckDB) on disk."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
from auditlog.backends.embedded.memory_cache import MemoryQueryCache
from auditlog.backends.embedded.sqlite_integrity import SqliteIntegrityStore
from auditlog.backends.embedded.sqlite_journal import SqliteJournalQueue
from auditlog.model.event import COLUMNS, StoredEvent
from auditlog.ports.queue import Outcome
from auditlog.ports.store import EventQuery, WriteBatch
from auditlog.write.writer import WriterLoop
from tests.records import stored_event

pytestmark = pytest.mark.integration

BASE = datetime(2026, 11, 1, 12, 0, 0)


def event(tenant: str = "acme", minutes: int = 0, **overrides: Any) -> StoredEvent:
    return stored_event(BASE, tenant, minutes, **overrides)


def window(tenant: str = "acme", **kw: Any) -> EventQuery:
    return EventQuery(tenants=(tenant,), start=BASE - timedelta(days=10), end=BASE + timedelta(days=10), **kw)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = DuckDBEventStore(tmp_path / "events.duckdb")
    yield s
    s.close()


@pytest.fixture
def queue(tmp_path: Path) -> Any:
    q = SqliteJournalQueue(tmp_path / "queue.sqlite3")
    yield q
    q.close()


def news(outcomes: list[Outcome]) -> list[bool]:
    return [o.new for o in outcomes]


def test_publish_reports_duplicates_per_tenant(queue: SqliteJournalQueue) -> None:
    a, b = event(), event()
    assert news(queue.publish("acme", [a, b]).result(5)) == [True, True]
    assert news(queue.publish("acme", [a, event()]).result(5)) == [False, True]
    assert news(queue.publish("globex", [dict(a, tenant_id="globex")]).result(5)) == [True]  # type: ignore[list-item]
    twice = event()
    assert news(queue.publish("acme", [twice, twice]).result(5)) == [True, False]


def test_a_duplicate_is_answered_with_the_first_copys_receipt(queue: SqliteJournalQueue) -> None:
    a = event()
    assert queue.publish("acme", [a], [b"first"]).result(5) == [Outcome(True)]
    second_version = dict(a, created_at="2026-11-26T12:00:09.000000Z")
    (again,) = queue.publish("acme", [second_version], [b"second"]).result(5)  # type: ignore[list-item]
    assert again == Outcome(False, b"first")
    twice = event()
    answer = queue.publish("acme", [twice, twice], [b"t", b"t2"]).result(5)
    assert answer == [Outcome(True), Outcome(False, b"t")]


def test_concurrent_publishes_are_grouped_and_none_is_lost(queue: SqliteJournalQueue) -> None:
    results: list[list[Outcome]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            answer = queue.publish("acme", [event()]).result(10)
            with lock:
                results.append(answer)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and all(news(r) == [True] for r in results)
    batches = queue.pull(0, 10_000, timeout=1)
    assert sum(len(b.events) for b in batches) == 200
    positions = [b.position for b in batches]
    assert positions == sorted(set(positions))


def test_journal_survives_reopen_until_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    q = SqliteJournalQueue(path)
    q.publish("acme", [event(), event()]).result(5)
    q.publish("acme", [event()]).result(5)
    q.close()
    q = SqliteJournalQueue(path)
    batches = q.pull(0, 10, timeout=0)
    assert [len(b.events) for b in batches] == [2, 1]
    q.acknowledge(batches[0].position)
    assert q.depth() == 1
    assert [b.position for b in q.pull(0, 10, timeout=0)] == [batches[1].position]
    q.close()


def _pulled(
    queue: SqliteJournalQueue, after: int = 0, max_events: int = 10_000
) -> list[tuple[int, str, list[str], Any]]:
    return [
        (b.position, b.tenant_id, [e["audit_id"] for e in b.events], b.leaves)
        for b in queue.pull(after, max_events, 0)
    ]


def test_the_writer_reads_commits_from_memory_and_from_the_journal_after_a_restart(
    tmp_path: Path,
) -> None:
    queue = SqliteJournalQueue(tmp_path / "queue.sqlite3")
    a, b, c = event(), event(), event("globex")
    queue.publish("acme", [a, b], [b"A", b"B"]).result(5)
    queue.publish("acme", [b, event()]).result(5)  # a duplicate, and no leaves given
    queue.publish("globex", [c, c], [b"C", b"C"]).result(5)
    in_memory = _pulled(queue)
    queue.close()
    ids = [(p, t, i) for p, t, i, _ in in_memory]
    # The committed batches, duplicates left out, each with the leaves of what it kept.
    assert [len(i) for _, _, i in ids] == [2, 1, 1] and ids[0][2] == [a["audit_id"], b["audit_id"]]
    assert [leaves for *_, leaves in in_memory] == [[b"A", b"B"], None, [b"C"]]
    reopened = SqliteJournalQueue(tmp_path / "queue.sqlite3")
    try:
        from_journal = _pulled(reopened)
        assert [(p, t, i) for p, t, i, _ in from_journal] == ids
        assert all(leaves is None for *_, leaves in from_journal)  # the writer computes them
    finally:
        reopened.close()


def test_the_writer_reads_the_journal_for_what_memory_let_go(tmp_path: Path) -> None:
    queue = SqliteJournalQueue(tmp_path / "queue.sqlite3", max_memory_events=5)
    try:
        published = [[event() for _ in range(3)] for _ in range(4)]
        for events in published:
            queue.publish("acme", events, [b"x"] * 3).result(5)
        got: list[tuple[int, str, list[str], Any]] = []
        while batch := _pulled(queue, got[-1][0] if got else 0, max_events=3):  # one at a time
            got += batch
        assert [i for _, _, i, _ in got] == [[e["audit_id"] for e in events] for events in published]
        # The oldest came back from the journal (no leaves), the newest from memory.
        assert got[0][3] is None and got[-1][3] == [b"x"] * 3
        queue.acknowledge(got[-1][0])
        assert _pulled(queue, got[-1][0]) == []
    finally:
        queue.close()


def test_positions_continue_past_the_store_after_the_journal_is_lost(tmp_path: Path) -> None:
    q = SqliteJournalQueue(tmp_path / "q.sqlite3")
    q.ensure_position_after(500)
    q.publish("acme", [event()]).result(5)
    assert q.pull(0, 10, timeout=0)[0].position == 501
    q.close()


def test_append_is_once_per_position(store: DuckDBEventStore) -> None:
    events = [event(minutes=i) for i in range(3)]
    assert store.append(WriteBatch(events, position=7)) == 3
    assert store.append(WriteBatch(events, position=7)) == 0
    assert store.append(WriteBatch([event()], position=5)) == 0
    assert store.count() == 3
    assert store.applied_position() == 7


def test_addresses_and_resource_ids_are_stored_uncompressed(store: DuckDBEventStore) -> None:
    """DuckDB's default string compression made every returned page slow to materialise these
    two columns (bench/README.md); the others keep the default."""
    events = [
        event(minutes=i, ip_address=f"10.{i % 250}.{i // 250}.7", resource_id=f"inv-{i:06d}")
        for i in range(3000)
    ]
    store.append(WriteBatch(events, position=1))
    store.checkpoint()
    methods = dict(
        store._cursor()
        .execute(
            "SELECT column_name, string_agg(DISTINCT compression, ',') FROM pragma_storage_info('events') "
            "WHERE segment_type = 'VARCHAR' AND compression <> 'Constant' GROUP BY column_name"
        )
        .fetchall()
    )
    assert methods["ip_address"] == "Uncompressed"
    assert methods["resource_id"] == "Uncompressed"
    assert methods["user_id"] != "Uncompressed", "the default still applies elsewhere"
    assert (
        store.query(window(filters={"resource_id": ("inv-002999",)}))[0][COLUMNS.index("ip_address")]
        == "10.249.11.7"
    )


@pytest.mark.parametrize(("mib", "checkpointed"), [(1, True), (1024, False)])
def test_the_write_ahead_log_is_checkpointed_at_the_configured_size(
    tmp_path: Path, mib: int, checkpointed: bool
) -> None:
    path = tmp_path / "events.duckdb"
    store = DuckDBEventStore(path, checkpoint_mib=mib)
    try:
        for position in range(1, 5):  # ~4 MiB of rows, one append at a time
            rows = [event(minutes=i, request_data='{"pad": "%s"}' % ("x" * 1000)) for i in range(1000)]
            store.append(WriteBatch(rows, position=position))
        wal = path.with_name(path.name + ".wal")
        wal_bytes = wal.stat().st_size if wal.exists() else 0
        assert (wal_bytes < 2**20) is checkpointed, wal_bytes
        assert store.count() == 4000  # this thread's cursor stays open across the close
    finally:
        store.close()
    assert not wal.exists() or wal.stat().st_size == 0, "a clean close leaves no log to replay"
    reopened = DuckDBEventStore(path, read_only=True)
    try:
        assert reopened.count() == 4000
    finally:
        reopened.close()


def test_a_log_left_by_a_crash_is_replayed_then_checkpointed_at_close(tmp_path: Path) -> None:
    """A writer that dies leaves its log; the next open replays it, and a clean close must then
    fold it into the file, or every later open (the verifier's too) replays it again."""
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "events.duckdb"
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
        from auditlog.ports.store import WriteBatch
        from tests.integration.test_embedded_backends import event
        store = DuckDBEventStore(Path({str(path)!r}), checkpoint_mib=1024)
        store.append(WriteBatch([event(minutes=i) for i in range(2000)], position=1))
        os._exit(0)  # no close
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2])
    wal = path.with_name(path.name + ".wal")
    assert wal.stat().st_size > 0, "the crash left its log"
    store = DuckDBEventStore(path, checkpoint_mib=1024)
    try:
        assert store.count() == 2000, "replayed"
    finally:
        store.close()
    assert not wal.exists() or wal.stat().st_size == 0


def test_the_runtime_gives_the_store_its_checkpoint_size(tmp_path: Path) -> None:
    from auditlog.runtime import build_runtime
    from auditlog.settings import Settings

    rt = build_runtime(Settings(data_dir=tmp_path, duckdb_checkpoint_mib=64))
    try:
        setting = rt.store._cursor().execute("SELECT current_setting('checkpoint_threshold')").fetchone()  # type: ignore[attr-defined]
        assert setting == ("64.0 MiB",)
    finally:
        rt.close()


def test_query_is_newest_first_with_keyset_ties_by_audit_id(store: DuckDBEventStore) -> None:
    same = [event(minutes=5) for _ in range(4)]
    store.append(WriteBatch([event(minutes=1), *same, event(minutes=9)], position=1))
    rows = store.query(window(limit=100))
    ts = COLUMNS.index("timestamp")
    ids = [r[0] for r in rows]
    assert [r[ts] for r in rows] == sorted((r[ts] for r in rows), reverse=True)
    assert ids[1:5] == sorted((e["audit_id"] for e in same), reverse=True)
    seen: list[str] = []
    after = None
    while True:
        page = store.query(window(limit=2, after=after))
        if not page:
            break
        seen += [r[0] for r in page]
        after = (page[-1][ts], page[-1][0])
    assert seen == ids


def test_filters_and_metadata(store: DuckDBEventStore) -> None:
    store.append(
        WriteBatch(
            [
                event(user_id="bob", metadata='{"geo":{"region":"eu"},"n":5}'),
                event(user_id="carol", metadata='{"geo":{"region":"us"}}'),
                event(user_id="dave"),
                event(tenant="globex", user_id="bob"),
            ],
            position=1,
        )
    )
    users = lambda q: sorted(r[COLUMNS.index("user_id")] for r in store.query(q))  # noqa: E731
    assert users(window(filters={"user_id": ("bob", "carol")})) == ["bob", "carol"]
    assert users(window(metadata={"geo.region": ("eu",)})) == ["bob"]
    assert users(window(metadata={"n": ("5",)})) == ["bob"]
    assert users(window(metadata={"geo.region": ("eu') OR ('1'='1",)})) == []
    assert users(window("globex")) == ["bob"]


def test_time_bounds_are_start_inclusive_end_exclusive(store: DuckDBEventStore) -> None:
    store.append(WriteBatch([event(minutes=0), event(minutes=10)], position=1))
    q = EventQuery(tenants=("acme",), start=BASE, end=BASE + timedelta(minutes=10))
    assert [r[COLUMNS.index("timestamp")] for r in store.query(q)] == [BASE]


def test_pages_are_newest_first_however_sparse_the_matches(store: DuckDBEventStore) -> None:
    # The store reads a window newest slice first and widens: pages must still be exactly the
    # brute-force order, through dense hours, empty days, equal timestamps and the cursor.
    rng = random.Random(7)
    minutes = [
        rng.choice([0, 1, 1, 30, 59, 61, 600, 3000, 9000, 14000]) + rng.randrange(5) for _ in range(400)
    ]
    events = [
        event(minutes=-m, status=rng.choice(["success"] * 9 + ["failure"]), user_id=rng.choice("ab"))
        for m in minutes
    ]
    store.append(WriteBatch(events, position=1))
    order = [COLUMNS.index("timestamp"), COLUMNS.index("audit_id")]
    # Ending a minute after the newest event: the matches fall in every slice the store reads.
    recent = EventQuery(("acme",), BASE - timedelta(days=10), BASE + timedelta(minutes=1), limit=7)

    def expected(**filters: tuple[str, ...]) -> list[str]:
        kept = [e for e in events if all(e[c] in v for c, v in filters.items())]  # type: ignore[literal-required]
        kept.sort(key=lambda e: (e["timestamp"], e["audit_id"]), reverse=True)
        return [e["audit_id"] for e in kept]

    for filters in ({}, {"status": ("failure",)}, {"status": ("failure",), "user_id": ("b",)}):
        got: list[str] = []
        after = None
        while True:
            page = store.query(replace(recent, filters=filters, after=after))
            got += [r[order[1]] for r in page]
            if len(page) < 7:
                break
            after = (page[-1][order[0]], page[-1][order[1]])
        assert got == expected(**filters), filters


def test_get_is_scoped_to_the_tenant(store: DuckDBEventStore) -> None:
    e = event()
    store.append(WriteBatch([e], position=1))
    row = store.get("acme", e["audit_id"])
    assert row is not None and row[0] == e["audit_id"]
    assert store.get("globex", e["audit_id"]) is None
    assert store.get("acme", str(uuid.uuid4())) is None


def test_get_tells_apart_one_audit_id_in_two_tenants(store: DuckDBEventStore) -> None:
    # audit_ids are unique per tenant only; the lookup goes by id alone and picks the tenant's.
    shared = str(uuid.uuid4())
    store.append(WriteBatch([event(audit_id=shared), event("globex", audit_id=shared)], position=1))
    for tenant in ("acme", "globex"):
        row = store.get(tenant, shared)
        assert row is not None and row[COLUMNS.index("tenant_id")] == tenant


def test_export_streams_every_row_in_chunks(store: DuckDBEventStore) -> None:
    store.append(WriteBatch([event(minutes=i % 500) for i in range(2500)], position=1))
    chunks = list(store.export(window(), chunk_rows=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500]


def test_export_crosses_days_newest_first_in_full_chunks(tmp_path: Path) -> None:
    # The store sorts runs of days of about 30 rows one at a time (a day holds ~39 here); the
    # stream must still be one newest-first order, in full chunks.
    store = DuckDBEventStore(tmp_path / "events.duckdb", export_slice_rows=30)
    events = [event(minutes=m) for m in range(-3 * 1440, 1440, 37)] + [event(minutes=5), event(minutes=5)]
    store.append(WriteBatch(events, position=1))
    chunks = list(store.export(window(), chunk_rows=40))
    assert all(len(c) == 40 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 40
    got = [r[COLUMNS.index("audit_id")] for c in chunks for r in c]
    events.sort(key=lambda e: (e["timestamp"], e["audit_id"]), reverse=True)
    assert got == [e["audit_id"] for e in events]


def test_expired_counts_and_deletes_per_tenant(store: DuckDBEventStore) -> None:
    store.append(
        WriteBatch(
            [event(), event(retention_period_days=365), event(tenant="globex")],
            position=1,
        )
    )
    today = BASE.date() + timedelta(days=91)
    assert store.expired(today, delete=False) == {"acme": 1, "globex": 1}
    assert store.count() == 3
    assert store.expired(today, delete=True) == {"acme": 1, "globex": 1}
    assert store.count() == 1
    assert store.expired(today, delete=True) == {}
    assert store.expired(date(2026, 11, 1), delete=False) == {}


def test_writer_loop_moves_published_events_into_the_store(
    queue: SqliteJournalQueue, store: DuckDBEventStore, tmp_path: Path
) -> None:
    integrity = SqliteIntegrityStore(tmp_path / "integrity.sqlite3")
    loop = WriterLoop(queue, store, MemoryQueryCache(), integrity, max_events=1000, poll_seconds=0.01)
    loop.start()
    for _ in range(5):
        queue.publish("acme", [event() for _ in range(300)]).result(5)
    deadline = datetime.now() + timedelta(seconds=5)
    while store.count() < 1500 and datetime.now() < deadline:
        threading.Event().wait(0.02)
    loop.stop()
    assert store.count() == 1500
    assert queue.depth() == 0
    staged = integrity.pending("acme", 100)
    assert sum(len(b.entries) for b in staged) == 1500, "every written event's leaf is staged"


def test_writer_resumes_from_the_store_position_after_a_crash(tmp_path: Path) -> None:
    """A batch appended but not acknowledged (crash in between) is not written twice."""
    q = SqliteJournalQueue(tmp_path / "q.sqlite3")
    s = DuckDBEventStore(tmp_path / "e.duckdb")
    q.publish("acme", [event(), event()]).result(5)
    batches = q.pull(0, 100, timeout=0)
    s.append(WriteBatch([e for b in batches for e in b.events], position=batches[-1].position))
    # no acknowledge: the journal still holds the batch, as after a crash
    integrity = SqliteIntegrityStore(tmp_path / "integrity.sqlite3")
    loop = WriterLoop(q, s, MemoryQueryCache(), integrity, max_events=100, poll_seconds=0.01)
    assert loop.drain_once(0) == 0
    assert s.count() == 2
    q.close()
    s.close()
