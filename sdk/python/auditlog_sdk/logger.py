"""``AuditLogger``: write events from the hot path without waiting on the audit log.

``log(event)`` returns at once. A background thread sends what is buffered in batches of up to
1000 (the batch endpoint), as soon as a batch is full or ``flush_seconds`` after the first event
waiting. Memory is bounded by ``max_buffer`` events; when full, ``on_full`` decides:
``"block"`` (wait for room), ``"drop"`` (discard the new event and count it in ``dropped``) or
``"raise"`` (``BufferFullError``). Nothing is lost silently: events the service refuses reach
``on_refused(event, errors)`` and ``refused``; batches that cannot be delivered after the
client's retries reach ``on_failed(events, error)`` and ``failed``. ``close()`` (also run at
interpreter exit) flushes what is buffered.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Literal

from auditlog_sdk._ops import with_audit_id
from auditlog_sdk.client import Client
from auditlog_sdk.errors import AuditLogError

MAX_BATCH = 1000
OnFull = Literal["block", "drop", "raise"]
Event = dict[str, Any]


class BufferFullError(AuditLogError):
    """The logger's buffer is full and its policy is ``"raise"``."""


class AuditLogger:
    def __init__(
        self,
        client: Client,
        *,
        max_buffer: int = 100_000,
        on_full: OnFull = "block",
        flush_seconds: float = 1.0,
        batch_size: int = MAX_BATCH,
        on_refused: Callable[[Event, list[dict[str, Any]]], None] | None = None,
        on_failed: Callable[[list[Event], Exception], None] | None = None,
    ) -> None:
        if on_full not in ("block", "drop", "raise"):
            raise ValueError("on_full must be block, drop or raise")
        self._client = client
        self._max = max_buffer
        self._on_full = on_full
        self._flush_seconds = flush_seconds
        self._batch = max(1, min(batch_size, MAX_BATCH))
        self._on_refused = on_refused
        self._on_failed = on_failed
        self._buffer: deque[Event] = deque()
        self._lock = threading.Condition()
        self._in_flight = 0
        self._closed = False
        self._first_waiting: float | None = None
        self._flushing = False  # a flush() wants everything buffered sent now
        self.sent = self.refused = self.dropped = self.failed = 0
        self._thread = threading.Thread(target=self._run, name="auditlog-logger", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def log(self, event: Mapping[str, Any]) -> str:
        """Buffer one event; returns its audit_id (set here if absent, so retries dedupe)."""
        record = with_audit_id(event)
        with self._lock:
            if self._closed:
                raise AuditLogError("the logger is closed")
            while len(self._buffer) >= self._max:
                if self._on_full == "drop":
                    self.dropped += 1
                    return str(record["audit_id"])
                if self._on_full == "raise":
                    raise BufferFullError(f"{self._max} events are waiting to be sent")
                self._lock.wait(0.1)
            self._buffer.append(record)
            if self._first_waiting is None:
                self._first_waiting = time.monotonic()
            if len(self._buffer) >= self._batch:
                self._lock.notify_all()
        return str(record["audit_id"])

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer) + self._in_flight

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything buffered now; True if it all went (or was reported) in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flushing = True
            self._lock.notify_all()
            while self._buffer or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def close(self, timeout: float | None = 30.0) -> None:
        with self._lock:
            if self._closed:
                return
        self.flush(timeout)
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        self._thread.join(timeout=5)
        atexit.unregister(self.close)
        with self._lock:  # what could not be sent in time is reported, not forgotten
            left = list(self._buffer)
            self._buffer.clear()
        if left:
            self.failed += len(left)
            if self._on_failed:
                self._on_failed(left, TimeoutError(f"{len(left)} events not sent before close() gave up"))

    def _take(self) -> list[Event] | None:
        with self._lock:
            while True:
                if self._buffer:
                    due = self._flushing or (
                        self._first_waiting is not None
                        and time.monotonic() - self._first_waiting >= self._flush_seconds
                    )
                    if len(self._buffer) >= self._batch or due or self._closed:
                        batch = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
                        self._in_flight = len(batch)
                        self._first_waiting = time.monotonic() if self._buffer else None
                        self._lock.notify_all()
                        return batch
                else:
                    self._flushing = False  # drained
                    if self._closed:
                        return None
                self._lock.wait(0.05)

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._deliver(batch)
            finally:
                with self._lock:
                    self._in_flight = 0
                    self._lock.notify_all()

    def _deliver(self, batch: list[Event]) -> None:
        try:
            answer = self._client.ingest_batch(batch)
        except Exception as exc:  # after the client's retries: reported, never silent
            self.failed += len(batch)
            if self._on_failed:
                self._on_failed(batch, exc)
            return
        for result in answer["results"]:
            if result["status"] == "rejected":
                self.refused += 1
                if self._on_refused:
                    self._on_refused(batch[result["index"]], list(result.get("errors") or []))
            else:
                self.sent += 1
