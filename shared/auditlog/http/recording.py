"""The audit record a route declares (``rules.Audited``), written by the app after the handler,
durable before the answer; a streamed answer is recorded before its first byte and again with its
outcome. Refusals are recorded too, but bounded: one record per caller, operation and reason per
``REFUSAL_INTERVAL_SECONDS`` (the next one carries how many were left out), so a stolen token
used from the wrong place cannot flood its tenant's log.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse

from auditlog.errors import Forbidden
from auditlog.http.call import Call, Streamed
from auditlog.http.rules import Audited
from auditlog.ingest.service import utc_now
from auditlog.read.self_audit import Record

log = logging.getLogger("auditlog.http")

REFUSAL_INTERVAL_SECONDS = 60.0
MAX_REFUSAL_KEYS = 10_000


async def record(call: Call, action: str, status: str | None = None) -> None:
    """Write the call's audit record (``read/self_audit.py``), durable on return."""
    note, principal = call.audit, call.caller
    entry = Record(
        action=action,
        tenants=note.tenants or (principal.tenant_id,),
        status=status or note.status,
        resource_id=note.resource_id,
        request=note.request,
        response=note.response,
        requests=note.requests,
        responses=note.responses,
    )
    write = functools.partial(call.runtime.self_audit.write, principal, call.context(), entry, utc_now())
    await run_in_threadpool(write)


async def streamed(call: Call, answer: Streamed) -> Response:
    """The stream's first chunk is read before answering, so a store error is still a proper
    error answer; then the record of the start is written, and the outcome when the stream ends."""
    audit = call.route.audit
    first = await run_in_threadpool(next, answer.body, b"")
    if isinstance(audit, Audited) and audit.before_stream:
        await record(call, audit.action, "started")

    async def stream() -> AsyncIterator[bytes]:
        complete = False
        try:
            yield first
            async for piece in iterate_in_threadpool(answer.body):
                yield piece
            complete = True
        finally:
            if isinstance(audit, Audited):
                call.audit.response = {"events": answer.rows()}
                await record(call, audit.action, "success" if complete else "incomplete")

    return StreamingResponse(stream(), media_type=answer.media_type, headers=answer.headers)


@dataclass(slots=True)
class _Window:
    opened: float
    suppressed: int = 0


@dataclass
class RefusalGate:
    """Which refusals to record: the first per (tenant, caller, operation, reason) in each
    interval; the rest are counted and reported by the next recorded one. Per process."""

    interval: float = REFUSAL_INTERVAL_SECONDS
    clock: Callable[[], float] = time.monotonic
    _windows: dict[tuple[str, ...], _Window] = field(default_factory=dict)

    def admit(self, key: tuple[str, ...]) -> int | None:
        """None when this refusal is not to be recorded; else how many were left out before it."""
        now = self.clock()
        window = self._windows.get(key)
        if window is not None and now - window.opened < self.interval:
            window.suppressed += 1
            return None
        if len(self._windows) >= MAX_REFUSAL_KEYS:
            self._windows = {k: w for k, w in self._windows.items() if now - w.opened < self.interval}
            if len(self._windows) >= MAX_REFUSAL_KEYS:
                return None  # a flood of distinct callers: the metric still counts them
        self._windows[key] = _Window(now)
        return window.suppressed if window is not None else 0


async def record_refusal(call: Call, exc: Forbidden, gate: RefusalGate) -> None:
    """A refused attempt by an authenticated caller is itself an audit event of its tenant."""
    principal = call.caller
    operation = call.route.operation_id
    left_out = gate.admit((principal.tenant_id, principal.subject, operation, exc.message))
    if left_out is None:
        return
    call.audit.tenants = (principal.tenant_id,)
    call.audit.request = {"operation": operation, "path": call.request.url.path[:512]}
    call.audit.response = {"reason": exc.message, "suppressed_since_last": left_out}
    try:
        await record(call, "access.denied", "denied")
    except Exception:  # the refusal is answered even if its record cannot be written
        log.exception("could not record a refused request", extra={"request_id": call.request_id})
