"""The log's side of witnessing (c2sp.org/tlog-witness): each new checkpoint goes to the
configured witnesses with a consistency proof from the size each last cosigned; their
cosignatures join the checkpoint's note, and it becomes final once the quorum has cosigned.

A witness that is down or slow delays only the cosignature (the rounds run beside sequencing,
never in it); a witness that refuses a checkpoint as inconsistent with what it cosigned before
(422), or that holds a larger tree than the log (a rollback), means the log's history changed:
that is logged as ``witness_refused`` and counted in
``auditlog_integrity_witness_refusals_total``, which the alert rules watch.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC

import httpx

from auditlog import metrics
from auditlog.ledger import notes, tree
from auditlog.ledger.checkpoints import Checkpoint
from auditlog.ledger.notes import NoteKey, NoteSignature
from auditlog.model.event import parse_rfc3339
from auditlog.ports.integrity import IntegrityStore

log = logging.getLogger(__name__)

MAX_BACKOFF = 8.0  # seconds: a witness that comes back cosigns within this (and a loop tick)


@dataclass(frozen=True, slots=True)
class Witness:
    """A witness: its submission prefix and its cosignature verifier key."""

    url: str
    key: NoteKey

    @staticmethod
    def parse(spec: str) -> Witness:
        """``"<submission URL> <vkey>"`` (``AUDITLOG_WITNESSES`` holds a list of them)."""
        url, _, vkey = spec.strip().partition(" ")
        if not url.startswith(("http://", "https://")) or not vkey:
            raise notes.NoteError(f"a witness is '<submission URL> <vkey>', not {spec!r}")
        key = NoteKey.parse(vkey.strip())
        if key.sig_type != notes.COSIGNATURE_V1:
            raise notes.NoteError(f"witness {key.name}: a cosignature key (type 0x04) is needed")
        return Witness(url.rstrip("/"), key)


class Refused(Exception):
    """The witness will not cosign: ``fork`` when that means the log's history changed."""

    def __init__(self, message: str, *, fork: bool) -> None:
        super().__init__(message)
        self.fork = fork


def request_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


class Cosigning:
    """Rounds of cosigning for a tenant's newest checkpoint. ``http``: one client, kept alive."""

    def __init__(
        self,
        store: IntegrityStore,
        witnesses: list[Witness],
        quorum: int,
        http: httpx.Client,
    ) -> None:
        self._store = store
        self.witnesses = witnesses
        self.quorum = quorum
        self._http = http
        # The size each witness last cosigned for each tenant, as last learnt (a 409 corrects it).
        self._sizes: dict[tuple[str, str], int] = {}
        # Witnesses that failed: not asked again before then (the back-off doubles to MAX_BACKOFF).
        self._backoff: dict[str, tuple[float, float]] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(witnesses)), thread_name_prefix="witness")

    def round(self, tenant_id: str) -> Checkpoint | None:
        """Submit the tenant's newest checkpoint to the witnesses that have not cosigned it; the
        checkpoint as stored afterwards (None if there is none to submit)."""
        checkpoint = self._store.latest_checkpoint(tenant_id)
        if checkpoint is None or checkpoint.note is None:
            return None
        held = checkpoint.signatures()
        missing = [w for w in self.witnesses if not any(s.by(w.key) for s in held)]
        now = time.monotonic()
        ask = [w for w in missing if self._backoff.get(w.url, (0.0, 0.0))[0] <= now]
        results = list(self._pool.map(lambda w: self._cosignature(w, tenant_id, checkpoint), ask))
        added = [s for s in results if s is not None]
        have = len(self.witnesses) - len(missing) + len(added)
        final = have >= self.quorum
        if not added and final == checkpoint.final:
            return checkpoint
        updated = checkpoint.cosigned(added, final=final)
        self._store.put_checkpoint(updated)
        if final and not checkpoint.final:
            signed = parse_rfc3339(checkpoint.timestamp).replace(tzinfo=UTC).timestamp()
            metrics.COSIGNING_DELAY.observe(max(0.0, time.time() - signed))
        return updated

    def _cosignature(self, witness: Witness, tenant_id: str, checkpoint: Checkpoint) -> NoteSignature | None:
        try:
            cosignature = self._submit(witness, tenant_id, checkpoint)
            self._backoff.pop(witness.url, None)
            return cosignature
        except Refused as refusal:
            self._back_off(witness)
            metrics.WITNESS_REFUSALS.labels("fork" if refusal.fork else "other").inc()
            level = logging.ERROR if refusal.fork else logging.WARNING
            log.log(
                level,
                "witness refused a checkpoint: %s",
                refusal,
                extra={
                    "event": "witness_refused",
                    "witness": witness.key.name,
                    "tenant_id": tenant_id,
                    "tree_size": checkpoint.tree_size,
                    "fork": refusal.fork,
                },
            )
        except (httpx.HTTPError, notes.NoteError) as exc:
            self._back_off(witness)
            metrics.WITNESS_REFUSALS.labels("unreachable").inc()
            log.warning("witness %s unreachable: %s", witness.key.name, exc)
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def _back_off(self, witness: Witness) -> None:
        _, previous = self._backoff.get(witness.url, (0.0, 0.0))
        delay = min(MAX_BACKOFF, max(0.5, previous * 2))
        self._backoff[witness.url] = (time.monotonic() + delay, delay)

    def _submit(self, witness: Witness, tenant_id: str, checkpoint: Checkpoint) -> NoteSignature | None:
        size = checkpoint.tree_size
        key = (witness.url, tenant_id)
        old = min(self._sizes.get(key, 0), size)
        assert checkpoint.note is not None and checkpoint.text is not None
        for _ in range(2):  # the second attempt with the size the witness said it holds
            proof = tree.consistency(self._store, tenant_id, old, size) if 0 < old < size else []
            answer = self._http.post(
                f"{witness.url}/add-checkpoint",
                content=request_body(old, proof, checkpoint.note),
                headers={"content-type": "text/plain; charset=utf-8"},
            )
            if answer.status_code == 200:
                self._sizes[key] = size
                return _cosignature_in(answer.text, witness.key, checkpoint.text)
            if answer.status_code == 409 and answer.text.strip().isdigit():
                held = int(answer.text.strip())
                if held > size:
                    raise Refused(
                        f"{witness.key.name} holds a tree of {held} leaves, the log {size}: a rollback",
                        fork=True,
                    )
                old = self._sizes[key] = held
                continue
            if answer.status_code == 422:
                raise Refused(f"{witness.key.name}: {answer.text.strip()[:200]}", fork=True)
            raise Refused(
                f"{witness.key.name} answered {answer.status_code}: {answer.text[:200]}", fork=False
            )
        return None


def _cosignature_in(lines: str, key: NoteKey, text: str) -> NoteSignature:
    """The witness's cosignature among the signature lines it answered, verified."""
    _, signatures = notes.split(text + "\n" + lines)
    for signature in signatures:
        if notes.cosigned_at(text, signature, key) is not None:
            return signature
    raise notes.NoteError(f"{key.name} answered no valid cosignature of the checkpoint")


class CosigningLoop:
    """Runs cosigning rounds in a thread of their own: tenants whose newest checkpoint is not
    cosigned by every witness are retried, each witness after a back-off while it fails."""

    def __init__(
        self, cosigning: Cosigning, tenants: Callable[[], Iterable[str]], interval: float = 1.0
    ) -> None:
        self._cosigning = cosigning
        self._pending: set[str] = set(tenants())
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="cosigning", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def signed(self, checkpoint: Checkpoint) -> None:
        """The sequencer signed ``checkpoint``: witness it."""
        with self._lock:
            self._pending.add(checkpoint.tenant_id)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            with self._lock:
                tenants, self._pending = self._pending, set()
            for tenant in tenants:
                try:
                    done = self._cosigning.round(tenant)
                except Exception:
                    log.exception("cosigning round failed; retrying")
                    done = None
                if not _complete(done, self._cosigning.witnesses):
                    with self._lock:
                        self._pending.add(tenant)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)


def _complete(checkpoint: Checkpoint | None, witnesses: list[Witness]) -> bool:
    if checkpoint is None:
        return True
    held = checkpoint.signatures()
    return all(any(s.by(w.key) for s in held) for w in witnesses)
