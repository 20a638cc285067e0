"""The composition root: builds each backend from settings and wires the services.

This is the only place that chooses implementations; the code above it sees interfaces.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from auditlog.cursor import CursorCodec
from auditlog.errors import ConfigurationError
from auditlog.identity import DevIssuer, TokenVerifier
from auditlog.ingest import IngestRules, IngestService
from auditlog.queue import EventQueue
from auditlog.retention import RetentionService
from auditlog.search import EventReader, ReadLimits
from auditlog.settings import Backend, Settings, get_settings
from auditlog.store import EventStore
from auditlog.writer import WriterLoop

CURSOR_KEY_FILE = "cursor-key"


@dataclass
class Runtime:
    settings: Settings
    queue: EventQueue
    store: EventStore
    verifier: TokenVerifier
    ingest: IngestService
    reader: EventReader
    retention: RetentionService
    writer_loop: WriterLoop | None = None
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # The writer drains what was accepted; anything committed after that stays in the
        # journal and is written at the next start.
        if self.writer_loop is not None:
            self.writer_loop.stop()
        self.queue.close()
        self.store.close()


def _secret_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def build_runtime(settings: Settings) -> Runtime:
    if settings.backend is not Backend.EMBEDDED:
        raise ConfigurationError(
            f"backend {settings.backend.value!r} is not available in this build; use 'embedded'"
        )
    if not settings.is_development:
        raise ConfigurationError(
            "production identity (JWKS) is not configured in this build; "
            "set AUDITLOG_ENVIRONMENT=development to use the local token issuer"
        )
    from auditlog.backends.duckdb_store import DuckDBEventStore
    from auditlog.backends.sqlite_journal import SqliteJournalQueue

    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    store = DuckDBEventStore(data / "events.duckdb")
    queue = SqliteJournalQueue(data / "queue.sqlite3")
    queue.ensure_position_after(store.applied_position())
    issuer = DevIssuer(data, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    codec = CursorCodec(_secret_file(data / CURSOR_KEY_FILE))
    skew = timedelta(seconds=settings.max_future_skew_seconds)
    limits = ReadLimits(
        timedelta(days=settings.default_window_days), timedelta(days=settings.max_window_days), skew
    )
    export_limits = ReadLimits(
        timedelta(days=settings.default_window_days),
        timedelta(days=settings.export_max_window_days),
        skew,
    )
    loop = WriterLoop(
        queue,
        store,
        max_events=settings.writer_batch_max_events,
        poll_seconds=settings.writer_poll_seconds,
        min_interval_seconds=settings.writer_min_interval_seconds,
    )
    loop.start()
    return Runtime(
        settings=settings,
        queue=queue,
        store=store,
        verifier=issuer.verifier(settings.jwt_leeway_seconds),
        ingest=IngestService(queue, IngestRules(settings.default_retention_days, skew)),
        reader=EventReader(store, codec, limits, export_limits),
        retention=RetentionService(store),
        writer_loop=loop,
    )


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime, built on first use (warm Cloud Function instances reuse it)."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(get_settings())
        return _runtime
