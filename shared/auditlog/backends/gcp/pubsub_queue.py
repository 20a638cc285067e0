"""Pub/Sub queue: ingest publishes the new events of each accepted request; the writer
subscription (push, with a dead-letter policy) delivers them to the writer function.

A publish resolves once Pub/Sub has confirmed every message (they are then durable in the topic).
One committed version of every event, even when Redis forgets (issue 26):
1. The registry (Redis, ``redis_registry.py``) is a cache: an id it remembers is a duplicate,
   answered with the receipt it keeps.
2. The claims (Firestore, ``firestore_claims.py``) are the authority, for ids a client chose
   (server-assigned ids cannot be sent twice): each is claimed, with its version, *before* its
   message is published, so a crash between the two cannot leave it unknown. An id claimed
   before is a duplicate, answered with the first version's receipt; no second version is ever
   published.
3. A duplicate the registry had forgotten may be one whose message never went out (a crash, or
   a failed publish, after the claim): its message is published again, exactly as it was claimed
   (same events, same order), so the writer stages it under the same key (``batch_key``) and the
   store receives identical copies, which reads drop. Nothing is lost, nothing is committed twice.

Client-chosen and server-assigned events of one request go in separate messages, so the claimed
ones can be published again alone. Message: ``data`` is ``orjson.dumps(events)``; attributes
``tenant_id``, ``schema_version`` ("1"), ``count`` and, for claimed events, ``message`` (the claim
group's key). No ``position``: Pub/Sub has no global order.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, wait
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

import orjson
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry, if_exception_type
from google.cloud.pubsub_v1 import PublisherClient, types  # type: ignore[import-untyped]

from auditlog.ledger.leaves import LeafEntry, batch_key, event_leaf_hash
from auditlog.model.event import StoredEvent
from auditlog.ports.claims import Claim, ClaimStore
from auditlog.ports.queue import NEW, IdempotencyRegistry, Outcome

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"

# -- publisher settings --------------------------------------------------------------------------

# Ingest waits for every publish before it answers, so the batching delay is request latency.
# Two kinds of message share the publisher: single-event requests (~1 KB, many, latency-bound) and
# batch requests (up to 1000 events, ~0.1-8 MB, fewer, throughput-bound).
# - max_latency 5 ms: a lone single-event request waits at most 5 ms for company; under load a
#   batch fills, and goes, sooner. On the emulator a lone publish (with the registry) took p50
#   ~7 ms against ~13 ms with the default 10 ms. 2 ms gave ~4 ms, but at moderate load sends up
#   to 2.5x as many requests; on GCP, where a publish round trip alone is ~10-30 ms, 5 ms is the
#   better trade.
# - max_messages 1000: the API's limit per PublishRequest; the default 100 splits a burst of small
#   messages into 10x the requests.
# - max_bytes 512 KB: a message larger than that (a batch of a few hundred events or more) is sent
#   at once in a request of its own instead of waiting max_latency (a lone 1000-event batch: p50
#   15-24 ms against 26-33 ms with the defaults), and small messages never queue behind megabytes.
BATCH_SETTINGS = types.BatchSettings(max_bytes=512_000, max_latency=0.005, max_messages=1000)

# Pub/Sub's default publish retry gives up after 600 s; a request waiting on it would time out long
# before. Retry transient errors for at most PUBLISH_DEADLINE_SECONDS, then fail the publish (the
# client retries the request; nothing was remembered, so it is accepted again).
PUBLISH_DEADLINE_SECONDS = 30.0
PUBLISH_ATTEMPT_TIMEOUT_SECONDS = 10.0
PUBLISH_RETRY = Retry(
    predicate=if_exception_type(
        api_exceptions.Aborted,
        api_exceptions.Cancelled,
        api_exceptions.DeadlineExceeded,
        api_exceptions.InternalServerError,
        api_exceptions.ResourceExhausted,
        api_exceptions.ServiceUnavailable,
        api_exceptions.Unknown,
    ),
    initial=0.05,
    maximum=5.0,
    multiplier=2.0,
    timeout=PUBLISH_DEADLINE_SECONDS,
)


def publisher_for_throughput() -> PublisherClient:
    """A batching publisher tuned for this service's mix of messages (see BATCH_SETTINGS).

    Honours ``PUBSUB_EMULATOR_HOST`` like every Pub/Sub client.
    """
    return PublisherClient(
        batch_settings=BATCH_SETTINGS,
        publisher_options=types.PublisherOptions(
            retry=PUBLISH_RETRY, timeout=PUBLISH_ATTEMPT_TIMEOUT_SECONDS
        ),
    )


# -- the queue -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Request:
    tenant_id: str
    events: list[StoredEvent]
    leaves: list[bytes]
    client_ids: list[bool]
    result: Future[list[Outcome]]


@dataclass(slots=True)
class _Published:
    tenant_id: str
    receipts: dict[str, bytes]  # what the registry learns once every message is confirmed
    outcomes: list[Outcome]
    result: Future[list[Outcome]]
    confirmations: list[Future[str]]


_Item = TypeVar("_Item")


class _GroupWorker(Generic[_Item]):
    """One thread that hands everything queued at that moment to ``handle`` in one call, as the
    journal's committer does: under load one registry round trip serves many publishes."""

    def __init__(
        self,
        name: str,
        handle: Callable[[list[_Item]], None],
        size: Callable[[_Item], int],
        max_group_size: int,
    ) -> None:
        self._handle = handle
        self._size = size
        self._max_group_size = max_group_size
        self._items: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: _Item) -> None:
        with self._cond:
            if not self._stopping:
                self._items.append(item)
                self._cond.notify()
                return
        self._handle([item])  # after stop() (a close that timed out): do it here

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._stopping:
                    self._cond.wait()
                if not self._items:
                    return  # stopping and drained
                group = [self._items.popleft()]
                total = self._size(group[0])
                while self._items and total + self._size(self._items[0]) <= self._max_group_size:
                    total += self._size(self._items[0])
                    group.append(self._items.popleft())
            try:
                self._handle(group)
            except BaseException:  # a handler bug must not stop the thread (waiters would hang)
                log.exception("%s failed", self._thread.name)

    def stop(self, timeout: float) -> None:
        """Handle what is queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)


def _settle(
    result: Future[list[Outcome]], outcomes: list[Outcome] | None, error: BaseException | None
) -> None:
    with contextlib.suppress(InvalidStateError):  # cancelled by the caller, or failed by close()
        if error is not None:
            result.set_exception(error)
        else:
            result.set_result(cast("list[Outcome]", outcomes))


def _begin(result: Future[list[Outcome]]) -> bool:
    """Mark the answer as being worked on (the caller can no longer cancel it); False if the
    caller cancelled it already, or close() failed it."""
    try:
        return result.set_running_or_notify_cancel()
    except RuntimeError:
        return False


class _Plan:
    """What one request publishes: per event its outcome; the new events in at most two messages
    (claimed under ``key``, and server-assigned); the claimed messages to publish again."""

    def __init__(self, request: _Request, key: str) -> None:
        self.request = request
        self.key = key
        self.outcomes: list[Outcome] = [NEW] * len(request.events)
        self.claimed: list[int] = []  # indexes of new events with client-chosen ids
        self.unclaimed: list[int] = []
        self.messages: list[tuple[str | None, list[StoredEvent]]] = []
        self.republish: set[str] = set()
        self.receipts: dict[str, bytes] = {}
        self.copies: dict[int, int] = {}  # a second copy of an id in the request -> the first

    @classmethod
    def of(cls, request: _Request, known: dict[str, bytes]) -> _Plan:
        events = request.events
        first: dict[str, int] = {}
        for i, event in enumerate(events):
            first.setdefault(event["audit_id"], i)
        claimed = [
            i
            for i, e in enumerate(events)
            if request.client_ids[i] and first[e["audit_id"]] == i and e["audit_id"] not in known
        ]
        plan = cls(request, batch_key([LeafEntry(events[i]["audit_id"], b"", "") for i in claimed]))
        plan.claimed = claimed
        for i, event in enumerate(events):
            audit_id = event["audit_id"]
            if audit_id in known:
                plan.outcomes[i] = Outcome(False, known[audit_id] or None)
            elif first[audit_id] != i:  # a second copy within the same publish
                plan.copies[i] = first[audit_id]
            elif not request.client_ids[i]:
                plan.unclaimed.append(i)
        return plan

    def claimed_events(self) -> list[tuple[StoredEvent, bytes]]:
        return [(self.request.events[i], self.request.leaves[i]) for i in self.claimed]

    def apply_claims(self, existing: dict[str, Claim]) -> None:
        events, leaves = self.request.events, self.request.leaves
        winners = []
        for i in self.claimed:
            claim = existing.get(events[i]["audit_id"])
            if claim is None:
                winners.append(i)
            else:  # claimed before: that version stands; its message may never have gone out
                self.outcomes[i] = Outcome(False, claim.receipt)
                self.republish.add(claim.message)
                self.receipts[claim.audit_id] = claim.receipt
        if winners:
            self.messages.append((self.key, [events[i] for i in winners]))
        if self.unclaimed:
            self.messages.append((None, [events[i] for i in self.unclaimed]))
        for i in winners:
            self.receipts[events[i]["audit_id"]] = leaves[i]
        for i, first in self.copies.items():
            outcome = self.outcomes[first]
            self.outcomes[i] = Outcome(False, leaves[first] if outcome.new else outcome.receipt)


class PubSubEventQueue:
    """``EventQueue`` on a Pub/Sub topic; owns the publisher and the registry (closes both).

    ``publish`` never blocks its caller. A lookup thread asks the registry about everything queued
    at that moment (one ``known`` per tenant), claims the client-chosen ids among the rest (one
    ``claim`` per tenant), and hands the new events to the publisher; when the publisher confirms
    a request's messages, a remember thread tells the registry (one ``remember`` per tenant for
    all confirmations at that moment) and then answers.
    """

    def __init__(
        self,
        publisher: PublisherClient,
        topic_path: str,
        registry: IdempotencyRegistry,
        claims: ClaimStore,
        *,
        max_group_ids: int = 1000,
        close_timeout: float = PUBLISH_DEADLINE_SECONDS,
    ) -> None:
        self._publisher = publisher
        self._topic = topic_path
        self._registry = registry
        self._claims = claims
        self._close_timeout = close_timeout
        self._lock = threading.Lock()
        self._in_flight: set[Future[list[Outcome]]] = set()
        self._closed = False
        # A group holds at most max_group_ids audit_ids (or one larger publish): one registry
        # command of a few thousand keys keeps Redis responsive for everyone else.
        self._lookups = _GroupWorker[_Request](
            "pubsub-queue-lookup", self._look_up, lambda r: len(r.events), max_group_ids
        )
        self._remembers = _GroupWorker[_Published](
            "pubsub-queue-remember", self._remember, lambda p: len(p.receipts), max_group_ids
        )

    def publish(
        self,
        tenant_id: str,
        events: list[StoredEvent],
        leaves: list[bytes] | None = None,
        *,
        client_ids: list[bool] | None = None,
    ) -> Future[list[Outcome]]:
        result: Future[list[Outcome]] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("queue is closed")
            self._in_flight.add(result)
        result.add_done_callback(self._forget)
        receipts = leaves if leaves is not None else [event_leaf_hash(e) for e in events]
        chosen = client_ids if client_ids is not None else [False] * len(events)
        self._lookups.put(_Request(tenant_id, events, receipts, chosen, result))
        return result

    def _forget(self, result: Future[list[Outcome]]) -> None:
        with self._lock:
            self._in_flight.discard(result)

    def _look_up(self, group: list[_Request]) -> None:
        """Lookup thread: the registry, then the claims, then the messages."""
        by_tenant: dict[str, list[_Request]] = defaultdict(list)
        for request in group:
            if _begin(request.result):
                by_tenant[request.tenant_id].append(request)
        for tenant_id, requests in by_tenant.items():
            try:
                plans = self._plan(tenant_id, requests)
            except BaseException as exc:  # the caller must hear about every failure
                for request in requests:
                    _settle(request.result, None, exc)
                continue
            for plan in plans:
                self._send(plan)

    def _plan(self, tenant_id: str, requests: list[_Request]) -> list[_Plan]:
        # Only client-chosen ids can come back; server-assigned ones cost neither Redis nor claims.
        ids = [
            event["audit_id"]
            for r in requests
            for event, chosen in zip(r.events, r.client_ids, strict=True)
            if chosen
        ]
        known = self._registry.known(tenant_id, ids) if ids else {}
        plans = [_Plan.of(r, known) for r in requests]
        claiming = [p for p in plans if p.claimed]
        beaten = self._claims.claim(tenant_id, [(p.key, p.claimed_events()) for p in claiming])
        for plan, found in zip(claiming, beaten, strict=True):
            plan.apply_claims(found)
        for plan in plans:
            if not plan.claimed:
                plan.apply_claims({})
        return plans

    def _send(self, plan: _Plan) -> None:
        request = plan.request
        if not plan.messages and not plan.republish:  # nothing new, nothing to make sure of
            _settle(request.result, plan.outcomes, None)
            return
        try:
            confirmations = [
                self._publish_message(request.tenant_id, events, key) for key, events in plan.messages
            ]
            for message in plan.republish:
                events = self._claims.message_events(request.tenant_id, message)
                confirmations.append(self._publish_message(request.tenant_id, events, message))
        except BaseException as exc:
            _settle(request.result, None, exc)
            return
        published = _Published(request.tenant_id, plan.receipts, plan.outcomes, request.result, confirmations)
        pending = [len(confirmations)]
        pending_lock = threading.Lock()

        def confirmed(_: Future[str]) -> None:
            # Runs on the publisher's commit thread, which must not wait on the registry.
            with pending_lock:
                pending[0] -= 1
                last = pending[0] == 0
            if last:
                self._remembers.put(published)

        for confirmation in confirmations:
            confirmation.add_done_callback(confirmed)

    def _publish_message(self, tenant_id: str, events: list[StoredEvent], message: str | None) -> Future[str]:
        attributes = {"tenant_id": tenant_id, "schema_version": SCHEMA_VERSION, "count": str(len(events))}
        if message is not None:
            attributes["message"] = message
        return cast("Future[str]", self._publisher.publish(self._topic, orjson.dumps(events), **attributes))

    def _remember(self, group: list[_Published]) -> None:
        """Remember thread: the registry learns the receipts only once their messages are durable."""
        by_tenant: dict[str, list[_Published]] = defaultdict(list)
        for item in group:
            errors = [c.exception() for c in item.confirmations if c.exception() is not None]
            if errors:
                _settle(item.result, None, errors[0])
            else:
                by_tenant[item.tenant_id].append(item)
        for tenant_id, items in by_tenant.items():
            receipts = {a: r for item in items for a, r in item.receipts.items()}
            try:
                self._registry.remember(tenant_id, receipts)
            except Exception:
                # The events are durable and claimed; the registry only saves a claim lookup.
                log.warning("idempotency registry could not remember ids", exc_info=True)
            for item in items:
                _settle(item.result, item.outcomes, None)

    def depth(self) -> int:
        """Publishes accepted by ``publish`` and not yet answered (the subscription's backlog is
        Pub/Sub's to report: ``subscription/num_undelivered_messages`` in Cloud Monitoring)."""
        with self._lock:
            return len(self._in_flight)

    def close(self) -> None:
        """Refuse new publishes, answer those in flight, flush and stop the publisher."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = list(self._in_flight)
        self._lookups.stop(self._close_timeout)
        wait(pending, timeout=self._close_timeout)
        with contextlib.suppress(RuntimeError):  # already stopped by its owner
            self._publisher.stop()  # sends whatever is still batched
        self._remembers.stop(self._close_timeout)
        closed = RuntimeError("queue closed before the publish was confirmed")
        for result in pending:
            _settle(result, None, closed)
        self._registry.close()
