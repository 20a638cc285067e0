"""Delivery: each stream's next contiguous range of leaves, covered by a signed checkpoint, to
its destination, at least once and in leaf order.

A round (``run_once``) serves every stream that is not paused and not waiting out a back-off,
each under its lease (one deliverer per stream across instances). A batch is the leaves from the
stream's position up to ``batch_size`` and at most the newest final checkpoint's size; a partial
batch waits ``batch_wait_seconds`` for more. Each leaf goes with its committed record rendered in
the stream's format, or with its hash alone where the filter leaves it out or retention deleted
it. Only when the destination acknowledged the batch does the position move past it, durably;
a failure backs off exponentially with jitter (or as ``Retry-After`` asks), marks the stream
``failing`` after ``failing_after_seconds``, and a permanent refusal pauses it with the reason.
Nothing is ever skipped: a crash re-sends the unacknowledged batch, with the same ids.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import orjson

from auditlog import metrics
from auditlog.admin.lease import Lease
from auditlog.ledger.checkpoints import Checkpoint
from auditlog.ledger.leaves import event_leaf_hash, record_from_row
from auditlog.model.event import COLUMNS, parse_rfc3339
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.store import Committed, EventStore
from auditlog.read.self_audit import is_self_audit_type
from auditlog.streams.batch import Batch, Item, batch_id
from auditlog.streams.book import LEASES, StoredStream, StreamBook
from auditlog.streams.destinations import Context, DeliveryError, Sender, open_destination
from auditlog.streams.formats import render
from auditlog.streams.model import Format, StreamFilter, StreamState, TestDelivery

log = logging.getLogger(__name__)

BASE_BACKOFF = 1.0
MAX_BACKOFF = 300.0
LAGGING_SECONDS = 900.0  # the lag alert's threshold: logged once a minute per stream beyond it


def matches(wanted: StreamFilter, event: Committed) -> bool:
    """Whether the stream sends this event in full (else its hash alone)."""
    event_type = event.event_type
    if is_self_audit_type(event_type) and not wanted.include_self_audit:
        return False
    if wanted.event_types and event_type not in wanted.event_types:
        return False
    if wanted.service_names and event.service_name not in wanted.service_names:
        return False
    if wanted.statuses and event.status not in wanted.statuses:
        return False
    if wanted.metadata:
        try:
            metadata = orjson.loads(event.metadata) if event.metadata else {}
        except orjson.JSONDecodeError:  # sealed by the tenant's PII policy: not readable here
            return False
        if not isinstance(metadata, dict):
            return False
        return all(str(metadata.get(k)) == v for k, v in wanted.metadata.items())
    return True


def json_event(record: bytes, leaf_index: int, leaf_hash: str) -> bytes:
    """A json stream's event: the committed record's JSON object with ``leaf_index`` and
    ``leaf_hash`` added (``{**record, **delivery}``; the record has tenant_id and audit_id)."""
    return record[:-1] + b',"leaf_index":%d,"leaf_hash":"%s"}' % (leaf_index, leaf_hash.encode())


def _delivery_fields(tenant_id: str, audit_id: str, index: int, leaf_hash: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "audit_id": audit_id, "leaf_index": index, "leaf_hash": leaf_hash}


def backoff(failures: int, retry_after: float | None) -> float:
    """Exponential with full jitter's upper half, at most MAX_BACKOFF; at least ``retry_after``."""
    delay: float = min(MAX_BACKOFF, BASE_BACKOFF * 2.0 ** max(0, failures - 1)) * random.uniform(0.5, 1.0)
    return float(min(MAX_BACKOFF * 4, max(delay, retry_after or 0.0)))


class StreamDelivery:
    def __init__(
        self,
        book: StreamBook,
        log_store: IntegrityStore,
        store: EventStore,
        context: Context,
        *,
        witnessed: bool,
        lease_seconds: float = 120.0,
    ) -> None:
        self._book = book
        self._log = log_store
        self._store = store
        self._context = context
        self._witnessed = witnessed
        self._lease_seconds = lease_seconds
        self._senders: dict[str, tuple[str, Sender]] = {}
        self._waiting_since: dict[str, float] = {}
        self._lag_logged: dict[str, float] = {}
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-read")

    # -- rounds -----------------------------------------------------------------------------------

    def run_once(self, budget_seconds: float = 5.0) -> dict[str, int]:
        """Serve every stream once (a stream with a backlog keeps going until the budget is
        spent); leaves delivered per stream."""
        deadline = time.monotonic() + budget_seconds
        delivered: dict[str, int] = {}
        streams = self._book.stored()
        for stream in streams:
            if stream.state is not StreamState.PAUSED:
                delivered[stream.stream_id] = self._serve(stream, deadline)
        self._gauges(streams)
        self._close_removed({s.stream_id for s in streams})
        return delivered

    def _serve(self, stream: StoredStream, deadline: float) -> int:
        position = self._book.position(stream.stream_id)
        if float(position.get("next_attempt_at") or 0.0) > time.time() and not stream.document.get("replay"):
            return 0
        lease = Lease(self._book.state, self._lease_seconds, LEASES, stream.stream_id)
        if not lease.acquire(time.time()):
            return 0
        try:
            current = self._book.refreshed(stream)
            if current is None or current.state is StreamState.PAUSED:
                return 0
            position = self._apply_replay(current, self._book.position(stream.stream_id))
            return self._deliver_until(current, position, lease, deadline)
        finally:
            lease.release()

    def _deliver_until(
        self, stream: StoredStream, position: dict[str, Any], lease: Lease, deadline: float
    ) -> int:
        """Batches one after another; the next is read (store, rendering) while the destination
        takes the one before, and is dropped if that one fails."""
        sent = 0
        batch = self._next_batch(stream, int(position["next_leaf_index"]))
        kind = stream.destination.type
        while batch is not None and time.monotonic() < deadline:
            ahead = self._reader.submit(self._next_batch, stream, batch.last_leaf_index + 1)
            try:
                self._send(stream, batch)
            except DeliveryError as failure:
                ahead.cancel()
                metrics.STREAM_EVENTS.labels(kind, "failed").inc(len(batch.items))
                self._failed(stream, position, failure)
                break
            metrics.STREAM_EVENTS.labels(kind, "delivered").inc(len(batch.items))
            sent += len(batch.items)
            self._waiting_since.pop(stream.stream_id, None)
            if not lease.held(time.time()):
                log.warning("stream %s: lease lost; another deliverer goes on", stream.stream_id)
                break
            position = self._delivered(stream, position, batch)
            batch = ahead.result()
        self._record_lag(stream, position)
        return sent

    # -- batches ----------------------------------------------------------------------------------

    def _checkpoint(self, tenant: str) -> Checkpoint | None:
        checkpoint = self._log.latest_checkpoint(tenant, final=True)
        if checkpoint is None and not self._witnessed:
            checkpoint = self._log.latest_checkpoint(tenant)
        return checkpoint

    def _next_batch(self, stream: StoredStream, start: int) -> Batch | None:
        checkpoint = self._checkpoint(stream.tenant_id)
        if checkpoint is None or checkpoint.tree_size <= start:
            return None
        config = stream.config
        end = min(start + config.batch_size, checkpoint.tree_size)
        if end - start < config.batch_size:
            since = self._waiting_since.setdefault(stream.stream_id, time.monotonic())
            if time.monotonic() - since < config.batch_wait_seconds:
                return None
        ids, hashes = self._log.spine(stream.tenant_id, start, end)
        found = self._store.committed_many(stream.tenant_id, ids)
        items = []
        for offset, (audit_id, leaf_hash) in enumerate(zip(ids, hashes, strict=True)):
            items.append(self._item(stream, start + offset, audit_id, leaf_hash.hex(), found.get(audit_id)))
        return Batch(
            stream.stream_id,
            stream.tenant_id,
            config.format,
            items,
            checkpoint.as_dict(),
            batch_id(stream.stream_id, start, start + len(items) - 1),
        )

    def _item(
        self, stream: StoredStream, index: int, audit_id: str, leaf_hash: str, event: Committed | None
    ) -> Item:
        if event is None:
            return Item(index, audit_id, leaf_hash, None, "deleted")
        if not matches(stream.config.filter, event):
            return Item(index, audit_id, leaf_hash, None, "filtered")
        fmt = stream.config.format
        if fmt is Format.JSON:
            # The committed record (it already holds tenant_id and audit_id) with the leaf's
            # index and hash added, as bytes: never parsed and written again.
            return Item(index, audit_id, leaf_hash, json_event(event.record, index, leaf_hash))
        delivery = _delivery_fields(stream.tenant_id, audit_id, index, leaf_hash)
        return Item(index, audit_id, leaf_hash, render(fmt, orjson.loads(event.record), delivery))

    # -- outcomes ---------------------------------------------------------------------------------

    def _delivered(self, stream: StoredStream, position: dict[str, Any], batch: Batch) -> dict[str, Any]:
        stored = self._book.position(stream.stream_id)
        ahead = int(stored.get("next_leaf_index", 0)) > batch.last_leaf_index + 1
        if ahead and not stream.document.get("replay"):
            return stored  # another deliverer got further while our lease lapsed: never go back
        updated = {
            **position,
            "next_leaf_index": batch.last_leaf_index + 1,
            "delivered_leaf_index": batch.last_leaf_index,
            "last_delivery_at": datetime.now(UTC).isoformat(),
            "consecutive_failures": 0,
            "failing_since": None,
            "next_attempt_at": None,
        }
        self._book.save_position(stream.stream_id, updated)
        if stream.state is StreamState.FAILING:
            self._book.set_state(None, stream.stream_id, StreamState.ACTIVE)
        return updated

    def _failed(self, stream: StoredStream, position: dict[str, Any], failure: DeliveryError) -> None:
        now = time.time()
        failures = int(position.get("consecutive_failures", 0)) + 1
        since = position.get("failing_since") or now
        position.update(
            consecutive_failures=failures,
            failing_since=since,
            last_error=str(failure)[:500],
            next_attempt_at=now + backoff(failures, failure.retry_after),
        )
        self._book.save_position(stream.stream_id, position)
        extra = {
            "event": "stream_delivery_failed",
            "stream_id": stream.stream_id,
            "tenant_id": stream.tenant_id,
            "destination": stream.destination.type,
            "status_code": failure.status_code,
            "consecutive_failures": failures,
            "state": stream.state.value,
        }
        log.warning("stream %s: delivery failed: %s", stream.stream_id, failure, extra=extra)
        if failure.permanent:
            self._book.set_state(None, stream.stream_id, StreamState.PAUSED, f"paused: {failure}"[:500])
        elif now - float(since) >= stream.config.failing_after_seconds and stream.state is StreamState.ACTIVE:
            self._book.set_state(None, stream.stream_id, StreamState.FAILING)
            log.error("stream %s is failing", stream.stream_id, extra={**extra, "event": "stream_failing"})

    def _apply_replay(self, stream: StoredStream, position: dict[str, Any]) -> dict[str, Any]:
        replay = stream.document.get("replay")
        if not replay:
            return position
        start = replay.get("from_leaf_index")
        if start is None:
            start = self._first_leaf_at(stream.tenant_id, parse_rfc3339(replay["from_time"]))
        position = {**position, "next_leaf_index": int(start), "next_attempt_at": None}
        self._book.save_position(stream.stream_id, position)
        self._book.clear_replay(stream)
        self._waiting_since.pop(stream.stream_id, None)
        return position

    def _first_leaf_at(self, tenant: str, when: datetime) -> int:
        """The first leaf whose record was created at or after ``when`` (binary search over leaf
        order, which follows creation; a record retention deleted counts as older)."""
        cutoff = when.astimezone(UTC).replace(tzinfo=None)
        low, high = 0, self._log.state(tenant).frontier.size
        while low < high:
            middle = (low + high) // 2
            created = self._created_at(tenant, middle)
            if created is None or created < cutoff:
                low = middle + 1
            else:
                high = middle
        return low

    def _created_at(self, tenant: str, index: int) -> datetime | None:
        """When the record of leaf ``index`` was created (naive UTC); None if retention deleted it."""
        ids, _ = self._log.spine(tenant, index, index + 1)
        row = self._store.get_many(tenant, ids).get(ids[0]) if ids else None
        return None if row is None else parse_rfc3339(record_from_row(row)["created_at"])

    def _record_lag(self, stream: StoredStream, position: dict[str, Any]) -> None:
        start = int(position["next_leaf_index"])
        lag = 0.0
        if start < self._log.state(stream.tenant_id).frontier.size:
            created = self._created_at(stream.tenant_id, start)
            if created is not None:
                lag = max(0.0, (datetime.now(UTC) - created.replace(tzinfo=UTC)).total_seconds())
        if position.get("lag_seconds") != round(lag, 3):
            position["lag_seconds"] = round(lag, 3)
            self._book.save_position(stream.stream_id, position)
        if lag > LAGGING_SECONDS and time.monotonic() - self._lag_logged.get(stream.stream_id, -1e9) >= 60:
            self._lag_logged[stream.stream_id] = time.monotonic()
            log.warning(
                "stream %s is %.0f s behind",
                stream.stream_id,
                lag,
                extra={
                    "event": "stream_lagging",
                    "stream_id": stream.stream_id,
                    "tenant_id": stream.tenant_id,
                    "destination": stream.destination.type,
                    "lag_seconds": round(lag),
                },
            )

    def _gauges(self, streams: list[StoredStream]) -> None:
        lags: dict[str, float] = {}
        failing: dict[str, int] = {}
        for stream in streams:
            kind = stream.destination.type
            lag = float(self._book.position(stream.stream_id).get("lag_seconds") or 0.0)
            lags[kind] = max(lags.get(kind, 0.0), lag if stream.state is not StreamState.PAUSED else 0.0)
            failing[kind] = failing.get(kind, 0) + (stream.state is StreamState.FAILING)
        for kind in ("webhook", "syslog", "pubsub", "gcs", "splunk_hec"):
            metrics.STREAM_LAG.labels(kind).set(lags.get(kind, 0.0))
            metrics.STREAMS_FAILING.labels(kind).set(failing.get(kind, 0))

    # -- senders ----------------------------------------------------------------------------------

    def _send(self, stream: StoredStream, batch: Batch) -> None:
        """Deliver, every failure a DeliveryError: a sender's unexpected error (a name that does
        not encode, a library's own exception) fails this stream's batch, never the round."""
        try:
            self._sender(stream).deliver(batch)
        except DeliveryError:
            raise
        except Exception as exc:
            log.exception("stream %s: the %s sender failed", stream.stream_id, stream.destination.type)
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from None

    def _sender(self, stream: StoredStream) -> Sender:
        secret = self._book.secret(stream)
        shown = orjson.dumps(stream.document["destination"], option=orjson.OPT_SORT_KEYS)
        fingerprint = hashlib.sha256(shown + (secret or "").encode()).hexdigest()
        cached = self._senders.get(stream.stream_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        if cached is not None:
            cached[1].close()
        sender = open_destination(stream.destination, secret, self._context)
        self._senders[stream.stream_id] = (fingerprint, sender)
        return sender

    def _close_removed(self, live: set[str]) -> None:
        for stream_id in set(self._senders) - live:
            self._senders.pop(stream_id)[1].close()

    def test(self, stream: StoredStream) -> TestDelivery:
        """One synthetic event (leaf index -1, event type ``auditlog.stream.test``), sent now."""
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
        record: dict[str, Any] = dict.fromkeys(COLUMNS)
        record.update(
            audit_id="00000000-0000-7000-8000-000000000000",
            timestamp=now,
            event_type="auditlog.stream.test",
            action="test",
            status="success",
            tenant_id=stream.tenant_id,
            created_at=now,
            partition_date=now[:10],
            retention_period_days=1,
        )
        leaf_hash = event_leaf_hash(record).hex()
        delivery = _delivery_fields(stream.tenant_id, record["audit_id"], -1, leaf_hash)
        item = Item(-1, record["audit_id"], leaf_hash, render(stream.config.format, record, delivery))
        checkpoint = self._checkpoint(stream.tenant_id)
        batch = Batch(
            stream.stream_id,
            stream.tenant_id,
            stream.config.format,
            [item],
            checkpoint.as_dict() if checkpoint else {},
            f"{stream.stream_id}-test-{int(time.time())}",
        )
        try:
            self._send(stream, batch)
        except DeliveryError as failure:
            return TestDelivery(ok=False, status_code=failure.status_code, detail=str(failure)[:500])
        return TestDelivery(ok=True, detail="the destination acknowledged the test event")

    def close(self) -> None:
        self._reader.shutdown(wait=True, cancel_futures=True)
        for _, sender in self._senders.values():
            sender.close()
        self._senders.clear()


class DeliveryLoop:
    """The embedded server's delivery: a round every ``interval`` seconds in a thread."""

    def __init__(self, delivery: StreamDelivery, interval: float = 0.2) -> None:
        self._delivery = delivery
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._delivery.run_once(budget_seconds=2.0)
            except Exception:
                log.exception("stream delivery round failed; retrying")
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
