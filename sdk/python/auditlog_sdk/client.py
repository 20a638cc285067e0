"""``Client`` and ``AsyncClient``: every API operation, with retries and typed errors.

Retries: connection errors, 429 and 5xx, with jittered exponential backoff that honours
``Retry-After``. Writes carry a client-set ``audit_id`` so a retried event is stored once.
The bearer token comes from a string or a callable (called per request, so it can refresh);
it never appears in a repr, an error or a log line.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

import httpx

from auditlog_sdk import _ops
from auditlog_sdk._ops import Params, Req, filters
from auditlog_sdk.errors import APIError, ConflictError, NotFoundError, TransportError, error_for
from auditlog_sdk.models import (
    AuditEvent,
    BatchIngestResult,
    Checkpoint,
    ConsistencyProof,
    EventPage,
    InclusionProof,
    IngestResult,
    PublicKeys,
    Stream,
    TestDelivery,
)
from auditlog_sdk.notes import WitnessPolicy
from auditlog_sdk.verify import keys_from, verify_proof

TokenProvider = str | Callable[[], str] | None
Progress = Callable[[int, int], None]  # (bytes written, lines written)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    base_seconds: float = 0.2
    max_seconds: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_seconds)
        return random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After as seconds, or as an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error(response: httpx.Response) -> APIError:
    try:
        body = response.json()["error"]
        code, message = str(body.get("code", "")), str(body.get("message", ""))
        details, request_id = list(body.get("details") or []), body.get("request_id")
    except (ValueError, KeyError, TypeError, AttributeError):
        code, message, details = "unknown", response.text[:200], []
        request_id = response.headers.get("x-request-id")
    return error_for(response.status_code)(
        response.status_code, code, message, details, request_id, _retry_after(response)
    )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class _Base:
    def __init__(self, base_url: str, token: TokenProvider, retry: RetryPolicy | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.retry = retry or RetryPolicy()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _headers(self, req: Req) -> dict[str, str]:
        if not req.auth or self._token is None:
            return {}
        token = self._token() if callable(self._token) else self._token
        return {"Authorization": f"Bearer {token}"}

    def _may_retry(self, req: Req, status: int | None) -> bool:
        if status is None:  # the request may have reached the server
            return req.retry_unsafe
        return status == 429 or (_retryable(status) and req.retry_unsafe)


class Client(_Base):
    """Synchronous client. ``Client(url, token=...)``; use as a context manager or ``close()``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        token: TokenProvider = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, token, retry)
        self._http = http or httpx.Client(timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, req: Req) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    req.method,
                    self.base_url + req.path,
                    params=req.params,
                    json=req.json,
                    headers=self._headers(req),
                )
            except httpx.TransportError as exc:
                if attempt + 1 >= self.retry.attempts or not self._may_retry(req, None):
                    raise TransportError(f"{req.operation}: {type(exc).__name__}: {exc}") from None
                time.sleep(self.retry.delay(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return response
            if attempt + 1 < self.retry.attempts and self._may_retry(req, response.status_code):
                time.sleep(self.retry.delay(attempt, _retry_after(response)))
                attempt += 1
                continue
            raise _error(response)

    def _json(self, req: Req) -> Any:
        return self._send(req).json()

    # -- writing ------------------------------------------------------------------------------

    def ingest_event(self, event: Mapping[str, Any]) -> IngestResult:
        """Write one event; durable when it returns. OpenAPI: ingestEvent"""
        return cast(IngestResult, self._json(_ops.ingest_event(event)))

    def ingest_batch(self, events: Sequence[Mapping[str, Any]]) -> BatchIngestResult:
        """Write up to 1000 events; one result per event. OpenAPI: ingestBatch"""
        return cast(BatchIngestResult, self._json(_ops.ingest_batch(events)))

    # -- reading ------------------------------------------------------------------------------

    def search_events(
        self, *, page_size: int | None = None, page_token: str | None = None, **criteria: Any
    ) -> EventPage:
        """One page, newest first; ``criteria`` as in ``filters``. OpenAPI: searchEvents"""
        return cast(EventPage, self._json(_ops.search_events(filters(**criteria), page_size, page_token)))

    def iter_events(self, *, page_size: int = 400, **criteria: Any) -> Iterator[AuditEvent]:
        """Every matching event, following the cursors. OpenAPI: searchEvents"""
        token: str | None = None
        while True:
            page = self.search_events(page_size=page_size, page_token=token, **criteria)
            yield from page["events"]
            token = page.get("next_page_token")
            if not token:
                return

    def get_event(self, audit_id: str, *, tenant_id: str | None = None) -> AuditEvent:
        """OpenAPI: getEvent"""
        return cast(AuditEvent, self._json(_ops.get_event(audit_id, tenant_id)))

    def export_events(
        self,
        out: str | Path | BinaryIO,
        *,
        format: str = "json",
        manifest: bool = False,
        proofs: bool = False,
        progress: Progress | None = None,
        **criteria: Any,
    ) -> int:
        """Stream an export into a file (path or binary file object); returns bytes written.
        OpenAPI: exportEvents"""
        req = _ops.export_events(filters(**criteria), format, manifest, proofs)
        written = lines = 0
        with self._http.stream(
            req.method, self.base_url + req.path, params=req.params, headers=self._headers(req)
        ) as response:
            if not response.is_success:
                response.read()
                raise _error(response)
            sink = open(out, "wb") if isinstance(out, (str, Path)) else out  # noqa: SIM115
            try:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                    written += len(chunk)
                    lines += chunk.count(b"\n")
                    if progress:
                        progress(written, lines)
            finally:
                if isinstance(out, (str, Path)):
                    sink.close()
        return written

    # -- integrity ----------------------------------------------------------------------------

    def get_event_proof(
        self, audit_id: str, *, tenant_id: str | None = None, tree_size: int | None = None
    ) -> InclusionProof:
        """OpenAPI: getEventProof"""
        return cast(InclusionProof, self._json(_ops.get_event_proof(audit_id, tenant_id, tree_size)))

    def get_latest_checkpoint(self, *, tenant_id: str | None = None) -> Checkpoint:
        """OpenAPI: getLatestCheckpoint"""
        return cast(Checkpoint, self._json(_ops.get_latest_checkpoint(tenant_id)))

    def get_checkpoint(self, tree_size: int, *, tenant_id: str | None = None) -> Checkpoint:
        """OpenAPI: getCheckpoint"""
        return cast(Checkpoint, self._json(_ops.get_checkpoint(tree_size, tenant_id)))

    def get_consistency_proof(
        self, first: int, second: int | None = None, *, tenant_id: str | None = None
    ) -> ConsistencyProof:
        """OpenAPI: getConsistencyProof"""
        return cast(ConsistencyProof, self._json(_ops.get_consistency_proof(first, second, tenant_id)))

    def get_public_key(self) -> PublicKeys:
        """OpenAPI: getPublicKey"""
        return cast(PublicKeys, self._json(_ops.get_public_key()))

    def get_log_checkpoint(self, *, tenant_id: str | None = None) -> str:
        """The newest final checkpoint as a C2SP signed note (``notes.open_checkpoint`` checks it).
        OpenAPI: getLogCheckpoint"""
        return self._send(_ops.get_log_checkpoint(tenant_id)).text

    def get_verifier_keys(self, tenant_id: str) -> dict[str, Any]:
        """The signed-note verifier keys of the tenant's log and of its witnesses.
        OpenAPI: getVerifierKeys"""
        return dict(self._json(_ops.get_verifier_keys(tenant_id)))

    def get_tile(self, path: str, *, tenant_id: str | None = None) -> bytes:
        """A C2SP hash tile, ``<L>/<N>[.p/<W>]``. OpenAPI: getTile"""
        return self._send(_ops.get_tile(path, tenant_id)).content

    def get_entry_bundle(self, path: str, *, tenant_id: str | None = None) -> bytes:
        """A C2SP entry bundle, ``<N>[.p/<W>]``. OpenAPI: getEntryBundle"""
        return self._send(_ops.get_entry_bundle(path, tenant_id)).content

    def verify_event(
        self,
        audit_id: str,
        *,
        receipt: str | None = None,
        wait_seconds: float = 10.0,
        witnesses: WitnessPolicy | None = None,
    ) -> InclusionProof:
        """Fetch the event's proof (waiting up to ``wait_seconds`` while it is not yet stored or
        not yet in a checkpoint) and the published key, and verify both: the checkpoint's
        signature, the record's leaf hash, the ``receipt`` from the write if given, and the
        inclusion path; with ``witnesses``, the checkpoint's quorum of cosignatures. Returns the
        verified proof; raises ValueError if it does not verify."""
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                proof = self.get_event_proof(audit_id)
                break
            except (ConflictError, NotFoundError):  # not yet stored, or not yet sequenced
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
        if not verify_proof(proof, keys_from(self.get_public_key()), receipt, witnesses=witnesses):
            raise ValueError(f"the proof of {audit_id} does not verify")
        return proof

    def run_integrity(self) -> dict[str, Any]:
        """OpenAPI: runIntegrity"""
        return dict(self._json(_ops.run_integrity()))

    # -- administration -----------------------------------------------------------------------

    def run_retention(self, *, dry_run: bool = False) -> dict[str, Any]:
        """OpenAPI: runRetention"""
        return dict(self._json(_ops.run_retention(dry_run)))

    def preview_retention(self, *, tenant_id: str | None = None) -> dict[str, Any]:
        """OpenAPI: previewRetention"""
        return dict(self._json(_ops.preview_retention(tenant_id)))

    def place_legal_hold(self, hold: Mapping[str, Any]) -> dict[str, Any]:
        """OpenAPI: placeLegalHold"""
        return dict(self._json(_ops.place_legal_hold(hold)))

    def list_legal_holds(self, *, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """OpenAPI: listLegalHolds"""
        return list(self._json(_ops.list_legal_holds(tenant_id))["holds"])

    def release_legal_hold(self, hold_id: str) -> dict[str, Any]:
        """OpenAPI: releaseLegalHold"""
        return dict(self._json(_ops.release_legal_hold(hold_id)))

    def erase_subject(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        """OpenAPI: eraseSubject"""
        return dict(self._json(_ops.erase_subject(tenant_id, user_id)))

    def list_erasures(self, *, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """OpenAPI: listErasures"""
        return list(self._json(_ops.list_erasures(tenant_id))["erasures"])

    def get_tenant_policy(self, tenant_id: str) -> dict[str, Any]:
        """OpenAPI: getTenantPolicy"""
        return dict(self._json(_ops.get_tenant_policy(tenant_id)))

    def put_tenant_policy(self, tenant_id: str, policy: Mapping[str, Any]) -> dict[str, Any]:
        """OpenAPI: putTenantPolicy"""
        return dict(self._json(_ops.put_tenant_policy(tenant_id, policy)))

    # -- log streams --------------------------------------------------------------------------

    def create_stream(self, stream: Mapping[str, Any]) -> Stream:
        """Create a log stream (``tenant_id``, ``name``, ``destination`` with its ``secret`` or
        ``token``; optional ``format``, ``filter``, ``start``, batching). Not resent after an
        ambiguous failure: list the streams before creating it again. OpenAPI: createStream"""
        return cast(Stream, self._json(_ops.create_stream(stream)))

    def list_streams(self, *, tenant_id: str | None = None) -> list[Stream]:
        """The streams with their delivery status. OpenAPI: listStreams"""
        return cast(list[Stream], self._json(_ops.list_streams(tenant_id))["streams"])

    def get_stream(self, stream_id: str) -> Stream:
        """OpenAPI: getStream"""
        return cast(Stream, self._json(_ops.get_stream(stream_id)))

    def update_stream(self, stream_id: str, change: Mapping[str, Any]) -> Stream:
        """Change the fields given (name, destination, format, filter, batching).
        OpenAPI: updateStream"""
        return cast(Stream, self._json(_ops.update_stream(stream_id, change)))

    def delete_stream(self, stream_id: str) -> Stream:
        """OpenAPI: deleteStream"""
        return cast(Stream, self._json(_ops.delete_stream(stream_id)))

    def pause_stream(self, stream_id: str) -> Stream:
        """Stop delivering; the position is kept. OpenAPI: pauseStream"""
        return cast(Stream, self._json(_ops.pause_stream(stream_id)))

    def resume_stream(self, stream_id: str) -> Stream:
        """Deliver again now, after a pause or failures. OpenAPI: resumeStream"""
        return cast(Stream, self._json(_ops.resume_stream(stream_id)))

    def replay_stream(
        self, stream_id: str, *, from_leaf_index: int | None = None, from_time: str | datetime | None = None
    ) -> Stream:
        """Deliver again from a leaf index, or from the first leaf created at or after
        ``from_time`` (RFC 3339 or an aware datetime); exactly one. OpenAPI: replayStream"""
        return cast(Stream, self._json(_ops.replay_stream(stream_id, from_leaf_index, from_time)))

    def test_stream(self, stream_id: str) -> TestDelivery:
        """Send one synthetic event (leaf index -1) and report the destination's answer.
        OpenAPI: testStream"""
        return cast(TestDelivery, self._json(_ops.test_stream(stream_id)))

    def run_streams(self) -> dict[str, Any]:
        """One delivery round: leaves delivered per stream. OpenAPI: runStreams"""
        return dict(self._json(_ops.run_streams()))

    # -- operations -------------------------------------------------------------------------

    def healthz(self) -> bool:
        """OpenAPI: healthz"""
        self._send(_ops.healthz())
        return True

    def readyz(self) -> dict[str, Any]:
        """Readiness per dependency; a 503 raises ServerError. OpenAPI: readyz"""
        return dict(self._json(_ops.readyz()))

    def metrics(self) -> str:
        """OpenAPI: metrics"""
        return self._send(_ops.metrics()).text

    def openapi(self) -> dict[str, Any]:
        """OpenAPI: openapi"""
        return dict(self._json(_ops.openapi()))


class AsyncClient(_Base):
    """Asynchronous client on ``httpx.AsyncClient``; the same operations as ``Client``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080",
        *,
        token: TokenProvider = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, token, retry)
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, req: Req) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    req.method,
                    self.base_url + req.path,
                    params=req.params,
                    json=req.json,
                    headers=self._headers(req),
                )
            except httpx.TransportError as exc:
                if attempt + 1 >= self.retry.attempts or not self._may_retry(req, None):
                    raise TransportError(f"{req.operation}: {type(exc).__name__}: {exc}") from None
                await asyncio.sleep(self.retry.delay(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return response
            if attempt + 1 < self.retry.attempts and self._may_retry(req, response.status_code):
                await asyncio.sleep(self.retry.delay(attempt, _retry_after(response)))
                attempt += 1
                continue
            raise _error(response)

    async def _json(self, req: Req) -> Any:
        return (await self._send(req)).json()

    async def ingest_event(self, event: Mapping[str, Any]) -> IngestResult:
        """OpenAPI: ingestEvent"""
        return cast(IngestResult, await self._json(_ops.ingest_event(event)))

    async def ingest_batch(self, events: Sequence[Mapping[str, Any]]) -> BatchIngestResult:
        """OpenAPI: ingestBatch"""
        return cast(BatchIngestResult, await self._json(_ops.ingest_batch(events)))

    async def search_events(
        self, *, page_size: int | None = None, page_token: str | None = None, **criteria: Any
    ) -> EventPage:
        """OpenAPI: searchEvents"""
        return cast(
            EventPage, await self._json(_ops.search_events(filters(**criteria), page_size, page_token))
        )

    async def iter_events(self, *, page_size: int = 400, **criteria: Any) -> AsyncIterator[AuditEvent]:
        """OpenAPI: searchEvents"""
        token: str | None = None
        while True:
            page = await self.search_events(page_size=page_size, page_token=token, **criteria)
            for event in page["events"]:
                yield event
            token = page.get("next_page_token")
            if not token:
                return

    async def get_event(self, audit_id: str, *, tenant_id: str | None = None) -> AuditEvent:
        """OpenAPI: getEvent"""
        return cast(AuditEvent, await self._json(_ops.get_event(audit_id, tenant_id)))

    async def export_events(self, *, format: str = "json", **criteria: Any) -> bytes:
        """The whole export in memory (use ``Client.export_events`` to stream to a file).
        OpenAPI: exportEvents"""
        return (await self._send(_ops.export_events(filters(**criteria), format, False, False))).content

    async def get_event_proof(
        self, audit_id: str, *, tenant_id: str | None = None, tree_size: int | None = None
    ) -> InclusionProof:
        """OpenAPI: getEventProof"""
        return cast(InclusionProof, await self._json(_ops.get_event_proof(audit_id, tenant_id, tree_size)))

    async def get_latest_checkpoint(self, *, tenant_id: str | None = None) -> Checkpoint:
        """OpenAPI: getLatestCheckpoint"""
        return cast(Checkpoint, await self._json(_ops.get_latest_checkpoint(tenant_id)))

    async def get_checkpoint(self, tree_size: int, *, tenant_id: str | None = None) -> Checkpoint:
        """OpenAPI: getCheckpoint"""
        return cast(Checkpoint, await self._json(_ops.get_checkpoint(tree_size, tenant_id)))

    async def get_consistency_proof(
        self, first: int, second: int | None = None, *, tenant_id: str | None = None
    ) -> ConsistencyProof:
        """OpenAPI: getConsistencyProof"""
        return cast(ConsistencyProof, await self._json(_ops.get_consistency_proof(first, second, tenant_id)))

    async def get_public_key(self) -> PublicKeys:
        """OpenAPI: getPublicKey"""
        return cast(PublicKeys, await self._json(_ops.get_public_key()))

    async def get_log_checkpoint(self, *, tenant_id: str | None = None) -> str:
        """OpenAPI: getLogCheckpoint"""
        return (await self._send(_ops.get_log_checkpoint(tenant_id))).text

    async def get_verifier_keys(self, tenant_id: str) -> dict[str, Any]:
        """OpenAPI: getVerifierKeys"""
        return dict(await self._json(_ops.get_verifier_keys(tenant_id)))

    async def get_tile(self, path: str, *, tenant_id: str | None = None) -> bytes:
        """OpenAPI: getTile"""
        return (await self._send(_ops.get_tile(path, tenant_id))).content

    async def get_entry_bundle(self, path: str, *, tenant_id: str | None = None) -> bytes:
        """OpenAPI: getEntryBundle"""
        return (await self._send(_ops.get_entry_bundle(path, tenant_id))).content

    async def run_integrity(self) -> dict[str, Any]:
        """OpenAPI: runIntegrity"""
        return dict(await self._json(_ops.run_integrity()))

    async def run_retention(self, *, dry_run: bool = False) -> dict[str, Any]:
        """OpenAPI: runRetention"""
        return dict(await self._json(_ops.run_retention(dry_run)))

    async def preview_retention(self, *, tenant_id: str | None = None) -> dict[str, Any]:
        """OpenAPI: previewRetention"""
        return dict(await self._json(_ops.preview_retention(tenant_id)))

    async def place_legal_hold(self, hold: Mapping[str, Any]) -> dict[str, Any]:
        """OpenAPI: placeLegalHold"""
        return dict(await self._json(_ops.place_legal_hold(hold)))

    async def list_legal_holds(self, *, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """OpenAPI: listLegalHolds"""
        return list((await self._json(_ops.list_legal_holds(tenant_id)))["holds"])

    async def release_legal_hold(self, hold_id: str) -> dict[str, Any]:
        """OpenAPI: releaseLegalHold"""
        return dict(await self._json(_ops.release_legal_hold(hold_id)))

    async def erase_subject(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        """OpenAPI: eraseSubject"""
        return dict(await self._json(_ops.erase_subject(tenant_id, user_id)))

    async def list_erasures(self, *, tenant_id: str | None = None) -> list[dict[str, Any]]:
        """OpenAPI: listErasures"""
        return list((await self._json(_ops.list_erasures(tenant_id)))["erasures"])

    async def get_tenant_policy(self, tenant_id: str) -> dict[str, Any]:
        """OpenAPI: getTenantPolicy"""
        return dict(await self._json(_ops.get_tenant_policy(tenant_id)))

    async def put_tenant_policy(self, tenant_id: str, policy: Mapping[str, Any]) -> dict[str, Any]:
        """OpenAPI: putTenantPolicy"""
        return dict(await self._json(_ops.put_tenant_policy(tenant_id, policy)))

    async def create_stream(self, stream: Mapping[str, Any]) -> Stream:
        """OpenAPI: createStream"""
        return cast(Stream, await self._json(_ops.create_stream(stream)))

    async def list_streams(self, *, tenant_id: str | None = None) -> list[Stream]:
        """OpenAPI: listStreams"""
        return cast(list[Stream], (await self._json(_ops.list_streams(tenant_id)))["streams"])

    async def get_stream(self, stream_id: str) -> Stream:
        """OpenAPI: getStream"""
        return cast(Stream, await self._json(_ops.get_stream(stream_id)))

    async def update_stream(self, stream_id: str, change: Mapping[str, Any]) -> Stream:
        """OpenAPI: updateStream"""
        return cast(Stream, await self._json(_ops.update_stream(stream_id, change)))

    async def delete_stream(self, stream_id: str) -> Stream:
        """OpenAPI: deleteStream"""
        return cast(Stream, await self._json(_ops.delete_stream(stream_id)))

    async def pause_stream(self, stream_id: str) -> Stream:
        """OpenAPI: pauseStream"""
        return cast(Stream, await self._json(_ops.pause_stream(stream_id)))

    async def resume_stream(self, stream_id: str) -> Stream:
        """OpenAPI: resumeStream"""
        return cast(Stream, await self._json(_ops.resume_stream(stream_id)))

    async def replay_stream(
        self, stream_id: str, *, from_leaf_index: int | None = None, from_time: str | datetime | None = None
    ) -> Stream:
        """OpenAPI: replayStream"""
        return cast(Stream, await self._json(_ops.replay_stream(stream_id, from_leaf_index, from_time)))

    async def test_stream(self, stream_id: str) -> TestDelivery:
        """OpenAPI: testStream"""
        return cast(TestDelivery, await self._json(_ops.test_stream(stream_id)))

    async def run_streams(self) -> dict[str, Any]:
        """OpenAPI: runStreams"""
        return dict(await self._json(_ops.run_streams()))

    async def healthz(self) -> bool:
        """OpenAPI: healthz"""
        await self._send(_ops.healthz())
        return True

    async def readyz(self) -> dict[str, Any]:
        """OpenAPI: readyz"""
        return dict(await self._json(_ops.readyz()))

    async def metrics(self) -> str:
        """OpenAPI: metrics"""
        return (await self._send(_ops.metrics())).text

    async def openapi(self) -> dict[str, Any]:
        """OpenAPI: openapi"""
        return dict(await self._json(_ops.openapi()))


__all__ = ["AsyncClient", "Client", "Params", "RetryPolicy"]
