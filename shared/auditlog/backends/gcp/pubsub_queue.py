"""Pub/Sub queue: ingest publishes one message per accepted request; the writer subscription
(push, with a dead-letter policy) delivers it to the writer function.

A publish resolves once Pub/Sub has confirmed the message (it is then durable in the topic). Pub/Sub
cannot record the audit_ids atomically with the message, so the answer ``duplicate`` comes from an
``IdempotencyRegistry`` consulted before the publish and told about the ids only after the publish
is confirmed: a failed publish that the client retries is answered ``accepted`` again, never
``duplicate``. Two requests racing with the same new audit_id may both be answered ``accepted``;
the store's de-duplication by (tenant_id, audit_id) keeps one copy, as it does for every
redelivery.

Message: ``data`` is ``orjson.dumps(list_of_fresh_events)``; attributes ``tenant_id``,
``schema_version`` ("1") and ``count`` (the number of events). No ``position``: Pub/Sub has no
global order; the BigQuery store de-duplicates by (tenant_id, audit_id) instead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar, cast

import orjson
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry, if_exception_type
from google.cloud.pubsub_v1 import PublisherClient, types  # type: ignore[import-untyped]
from google.pubsub_v1 import (
    DeadLetterPolicy,
    ExpirationPolicy,
    PushConfig,
    RetryPolicy,
    Subscription,
)
from google.pubsub_v1 import PublisherClient as TopicAdminClient
from google.pubsub_v1 import SubscriberClient as SubscriptionAdminClient

from auditlog.model.event import StoredEvent
from auditlog.ports.queue import IdempotencyRegistry

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
    result: Future[list[bool]]


@dataclass(slots=True)
class _Published:
    tenant_id: str
    fresh_ids: list[str]
    flags: list[bool]
    result: Future[list[bool]]
    confirmation: Future[str]


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


def _settle(result: Future[list[bool]], flags: list[bool] | None, error: BaseException | None) -> None:
    with contextlib.suppress(InvalidStateError):  # cancelled by the caller, or failed by close()
        if error is not None:
            result.set_exception(error)
        else:
            result.set_result(cast("list[bool]", flags))


def _begin(result: Future[list[bool]]) -> bool:
    """Mark the answer as being worked on (the caller can no longer cancel it); False if the
    caller cancelled it already, or close() failed it."""
    try:
        return result.set_running_or_notify_cancel()
    except RuntimeError:
        return False


class PubSubEventQueue:
    """``EventQueue`` on a Pub/Sub topic; owns the publisher and the registry (closes both).

    ``publish`` never blocks its caller. A lookup thread asks the registry about everything queued
    at that moment (one ``known`` per tenant) and hands the new events to the publisher; when the
    publisher confirms, a remember thread tells the registry (one ``remember`` per tenant for all
    confirmations at that moment) and then answers. Publishes are never coalesced: one message per
    call.
    """

    def __init__(
        self,
        publisher: PublisherClient,
        topic_path: str,
        registry: IdempotencyRegistry,
        *,
        max_group_ids: int = 1000,
        close_timeout: float = PUBLISH_DEADLINE_SECONDS,
    ) -> None:
        self._publisher = publisher
        self._topic = topic_path
        self._registry = registry
        self._close_timeout = close_timeout
        self._lock = threading.Lock()
        self._in_flight: set[Future[list[bool]]] = set()
        self._closed = False
        # A group holds at most max_group_ids audit_ids (or one larger publish): one registry
        # command of a few thousand keys keeps Redis responsive for everyone else.
        self._lookups = _GroupWorker[_Request](
            "pubsub-queue-lookup", self._look_up, lambda r: len(r.events), max_group_ids
        )
        self._remembers = _GroupWorker[_Published](
            "pubsub-queue-remember", self._remember, lambda p: len(p.fresh_ids), max_group_ids
        )

    def publish(
        self, tenant_id: str, events: list[StoredEvent], leaves: list[bytes] | None = None
    ) -> Future[list[bool]]:
        # ``leaves`` stay here: the writer function computes them from the message it gets.
        result: Future[list[bool]] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("queue is closed")
            self._in_flight.add(result)
        result.add_done_callback(self._forget)
        self._lookups.put(_Request(tenant_id, events, result))
        return result

    def _forget(self, result: Future[list[bool]]) -> None:
        with self._lock:
            self._in_flight.discard(result)

    def _look_up(self, group: list[_Request]) -> None:
        """Lookup thread: which events are new, then one message per publish for the new ones."""
        by_tenant: dict[str, list[_Request]] = defaultdict(list)
        for request in group:
            if _begin(request.result):
                by_tenant[request.tenant_id].append(request)
        for tenant_id, requests in by_tenant.items():
            ids = [e["audit_id"] for r in requests for e in r.events]
            try:
                known = self._registry.known(tenant_id, ids) if ids else set()
            except BaseException as exc:  # the caller must hear about every failure
                for request in requests:
                    _settle(request.result, None, exc)
                continue
            for request in requests:
                self._publish_new(request, known)

    def _publish_new(self, request: _Request, known: set[str]) -> None:
        # Only the registry and this call decide: two concurrent calls with the same new id are
        # both "accepted" (one of them may yet fail); the store keeps one copy.
        seen: set[str] = set()
        flags: list[bool] = []
        fresh: list[StoredEvent] = []
        for event in request.events:
            audit_id = event["audit_id"]
            is_new = audit_id not in known and audit_id not in seen
            seen.add(audit_id)  # a second copy within the same publish is a duplicate
            flags.append(is_new)
            if is_new:
                fresh.append(event)
        if not fresh:
            _settle(request.result, flags, None)
            return
        try:
            confirmation = cast(
                "Future[str]",
                self._publisher.publish(
                    self._topic,
                    orjson.dumps(fresh),
                    tenant_id=request.tenant_id,
                    schema_version=SCHEMA_VERSION,
                    count=str(len(fresh)),
                ),
            )
        except BaseException as exc:
            _settle(request.result, None, exc)
            return
        published = _Published(
            request.tenant_id, [e["audit_id"] for e in fresh], flags, request.result, confirmation
        )
        # The callback runs on the publisher's commit thread, which must not wait on the registry.
        confirmation.add_done_callback(lambda _: self._remembers.put(published))

    def _remember(self, group: list[_Published]) -> None:
        """Remember thread: the registry learns the ids only once their message is durable."""
        by_tenant: dict[str, list[_Published]] = defaultdict(list)
        for item in group:
            error = item.confirmation.exception()
            if error is not None:
                _settle(item.result, None, error)
            else:
                by_tenant[item.tenant_id].append(item)
        for tenant_id, items in by_tenant.items():
            try:
                self._registry.remember(tenant_id, [a for item in items for a in item.fresh_ids])
            except Exception:
                # The events are durable; a retry may be answered "accepted" rather than
                # "duplicate", and the store keeps one copy. Not worth failing the request.
                log.warning("idempotency registry could not remember ids", exc_info=True)
            for item in items:
                _settle(item.result, item.flags, None)

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


# -- topology ------------------------------------------------------------------------------------


def ensure_topology(
    project: str,
    topic: str,
    dead_letter_topic: str,
    writer_subscription: str,
    push_endpoint: str | None,
    max_delivery_attempts: int,
    *,
    minimum_backoff_seconds: float | None = 10.0,
    maximum_backoff_seconds: float = 600.0,
    ack_deadline_seconds: int = 60,
) -> None:
    """Create the topic, the dead-letter topic with a pull subscription ``<dead_letter_topic>-sub``,
    and the writer subscription (push to ``push_endpoint`` when given, else pull) with a
    dead-letter policy and a retry policy. Idempotent: what exists is left as it is (not updated).
    Neither subscription expires when idle (the default deletes one after 31 idle days: a quiet
    dead-letter subscription, and what it holds, would vanish).

    ``minimum_backoff_seconds=None`` leaves out the retry policy (immediate redelivery), which
    tests use: the emulator honours a retry policy, and its backoff makes dead-lettering slow.
    On GCP the Pub/Sub service agent also needs ``roles/pubsub.publisher`` on the dead-letter topic
    and ``roles/pubsub.subscriber`` on the writer subscription (Terraform's job, not this one's).
    """
    topic_path = TopicAdminClient.topic_path(project, topic)
    dead_letter_path = TopicAdminClient.topic_path(project, dead_letter_topic)
    with TopicAdminClient() as topics, SubscriptionAdminClient() as subscriptions:
        _exists_ok(lambda: topics.create_topic(name=topic_path))
        _exists_ok(lambda: topics.create_topic(name=dead_letter_path))
        dead_letter_sub = Subscription(
            name=SubscriptionAdminClient.subscription_path(project, f"{dead_letter_topic}-sub"),
            topic=dead_letter_path,
            ack_deadline_seconds=ack_deadline_seconds,
            expiration_policy=ExpirationPolicy(),  # no ttl: never deleted for being idle
        )
        _exists_ok(lambda: subscriptions.create_subscription(request=dead_letter_sub))
        writer = Subscription(
            name=SubscriptionAdminClient.subscription_path(project, writer_subscription),
            topic=topic_path,
            ack_deadline_seconds=ack_deadline_seconds,
            expiration_policy=ExpirationPolicy(),
            dead_letter_policy=DeadLetterPolicy(
                dead_letter_topic=dead_letter_path, max_delivery_attempts=max_delivery_attempts
            ),
        )
        if push_endpoint is not None:
            writer.push_config = PushConfig(push_endpoint=push_endpoint)
        if minimum_backoff_seconds is not None:
            writer.retry_policy = RetryPolicy(
                minimum_backoff=timedelta(seconds=minimum_backoff_seconds),
                maximum_backoff=timedelta(seconds=maximum_backoff_seconds),
            )
        _exists_ok(lambda: subscriptions.create_subscription(request=writer))


def _exists_ok(create: Callable[[], object]) -> None:
    with contextlib.suppress(api_exceptions.AlreadyExists):
        create()
