"""The Pub/Sub queue against the real Pub/Sub emulator and a real redis-server.

Pulls use ``return_immediately``: deprecated because real Pub/Sub may then answer empty while
messages wait, but the emulator answers with what the topic holds at that moment, which is what
"the publish resolved, so the message is in the topic" needs checking against.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from google.api_core import exceptions as api_exceptions
from google.pubsub_v1 import PublisherClient as TopicAdminClient
from google.pubsub_v1 import ReceivedMessage
from google.pubsub_v1 import SubscriberClient as SubscriptionAdminClient

from auditlog.backends.gcp.firestore_claims import FirestoreClaimStore
from auditlog.backends.gcp.pubsub_queue import (
    BATCH_SETTINGS,
    PubSubEventQueue,
    publisher_for_throughput,
)
from auditlog.backends.gcp.pubsub_topology import ensure_topology
from auditlog.backends.gcp.redis_registry import RedisIdempotencyRegistry, redis_client
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.model.event import StoredEvent
from auditlog.ports.queue import Outcome
from tests.conftest import free_port

pytestmark = pytest.mark.integration

PROJECT = "auditlog-test"


def event(tenant: str = "acme", audit_id: str | None = None) -> StoredEvent:
    return {
        "audit_id": audit_id or str(uuid.uuid4()),
        "timestamp": "2026-11-26T12:00:00.000000Z",
        "event_type": "user.login",
        "user_id": "alice",
        "session_id": None,
        "ip_address": "10.0.0.1",
        "user_agent": None,
        "resource_type": "session",
        "resource_id": None,
        "action": "create",
        "status": "success",
        "request_data": '{"a":1}',
        "response_data": None,
        "metadata": None,
        "tenant_id": tenant,
        "service_name": None,
        "correlation_id": None,
        "retention_period_days": 90,
        "created_at": "2026-11-26T12:00:00.000000Z",
        "partition_date": "2026-11-26",
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def emulator(pubsub_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    return str(pubsub_emulator.host)


@pytest.fixture
def topics(emulator: str) -> Iterator[TopicAdminClient]:
    with TopicAdminClient() as client:
        yield client


@pytest.fixture
def subscriptions(emulator: str) -> Iterator[SubscriptionAdminClient]:
    with SubscriptionAdminClient() as client:
        yield client


@pytest.fixture
def registry(redis_server: Any) -> Iterator[RedisIdempotencyRegistry]:
    reg = RedisIdempotencyRegistry(redis_client(f"redis://{redis_server.host}/0"), ttl_seconds=600)
    yield reg
    reg.close()


@pytest.fixture
def claims(firestore_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FirestoreClaimStore]:
    from google.cloud import firestore

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    client = firestore.Client(project=PROJECT)
    yield FirestoreClaimStore(client, ttl_days=1)
    client.close()  # type: ignore[no-untyped-call]


def publish(queue: PubSubEventQueue, tenant: str, events: list[StoredEvent]) -> Any:
    """A publish of events whose ids their client chose."""
    return queue.publish(tenant, events, client_ids=[True] * len(events))


def flags(outcomes: list[Outcome]) -> list[bool]:
    return [o.new for o in outcomes]


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own: the Redis server is shared by the session."""
    return unique("tenant")


class Topic:
    """A topic with a subscription created before anything is published to it."""

    def __init__(self, topics: TopicAdminClient, subscriptions: SubscriptionAdminClient) -> None:
        name = unique("events")
        self.path = TopicAdminClient.topic_path(PROJECT, name)
        self.subscription = SubscriptionAdminClient.subscription_path(PROJECT, name)
        self._subscriptions = subscriptions
        topics.create_topic(name=self.path)
        subscriptions.create_subscription(name=self.subscription, topic=self.path)

    def pull_now(self) -> list[ReceivedMessage]:
        """What the subscription holds right now (acknowledged, so it is not seen again)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # return_immediately: see above
            response = self._subscriptions.pull(
                subscription=self.subscription, max_messages=1000, return_immediately=True
            )
        received = list(response.received_messages)
        if received:
            self._subscriptions.acknowledge(
                subscription=self.subscription, ack_ids=[m.ack_id for m in received]
            )
        return received

    def pull_until(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        out: list[ReceivedMessage] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            out += self.pull_now()  # the emulator answers at most 100 per pull
        return out


@pytest.fixture
def topic(topics: TopicAdminClient, subscriptions: SubscriptionAdminClient) -> Topic:
    return Topic(topics, subscriptions)


@pytest.fixture
def queue(
    topic: Topic, registry: RedisIdempotencyRegistry, claims: FirestoreClaimStore
) -> Iterator[PubSubEventQueue]:
    q = PubSubEventQueue(publisher_for_throughput(), topic.path, registry, claims)
    yield q
    q.close()


def decoded(message: ReceivedMessage) -> tuple[list[dict[str, Any]], dict[str, str]]:
    return orjson.loads(message.message.data), dict(message.message.attributes)


# -- publishing ----------------------------------------------------------------------------------


def test_publish_resolves_once_the_message_is_in_the_topic(
    queue: PubSubEventQueue, topic: Topic, tenant: str
) -> None:
    single = [event(tenant)]
    batch = [event(tenant) for _ in range(3)]

    assert flags(queue.publish(tenant, single).result(timeout=10)) == [True]
    (first,) = topic.pull_now()  # no waiting: resolved means already in the topic
    assert flags(queue.publish(tenant, batch).result(timeout=10)) == [True, True, True]
    (second,) = topic.pull_now()  # one message for the whole call

    assert first.message.data == orjson.dumps(single)
    assert decoded(first) == (single, {"tenant_id": tenant, "schema_version": "1", "count": "1"})
    assert decoded(second) == (batch, {"tenant_id": tenant, "schema_version": "1", "count": "3"})
    assert queue.depth() == 0


def test_duplicates_are_flagged_and_not_republished(
    queue: PubSubEventQueue, topic: Topic, tenant: str
) -> None:
    """Client-chosen ids (the only ones a client can send twice)."""
    a, b, c = event(tenant), event(tenant), event(tenant)
    assert flags(publish(queue, tenant, [a, b]).result(timeout=10)) == [True, True]
    assert len(topic.pull_now()) == 1

    # a is known; c is new, and its second copy in the same call is a duplicate.
    assert flags(publish(queue, tenant, [a, c, c]).result(timeout=10)) == [False, True, False]
    (message,) = topic.pull_now()
    events, attributes = decoded(message)
    assert [e["audit_id"] for e in events] == [c["audit_id"]]
    assert attributes["count"] == "1"

    # Nothing new at all: nothing published.
    assert flags(publish(queue, tenant, [b, a]).result(timeout=10)) == [False, False]
    assert flags(publish(queue, tenant, []).result(timeout=10)) == []
    assert topic.pull_now() == []

    # The same audit_id in another tenant is another event.
    other = unique("tenant")
    copy_in_other = event(other, audit_id=a["audit_id"])
    assert flags(publish(queue, other, [copy_in_other]).result(timeout=10)) == [True]
    (message,) = topic.pull_now()
    assert decoded(message)[0] == [copy_in_other]
    assert decoded(message)[1]["tenant_id"] == other


def test_a_failed_publish_is_not_remembered_so_its_retry_is_accepted(
    topics: TopicAdminClient,
    subscriptions: SubscriptionAdminClient,
    registry: RedisIdempotencyRegistry,
    claims: FirestoreClaimStore,
    tenant: str,
) -> None:
    name = unique("missing")
    path = TopicAdminClient.topic_path(PROJECT, name)
    events = [event(tenant), event(tenant)]
    ids = [e["audit_id"] for e in events]
    q = PubSubEventQueue(publisher_for_throughput(), path, registry, claims)
    try:
        failed = q.publish(tenant, events, client_ids=[True, True])
        with pytest.raises(api_exceptions.NotFound):
            failed.result(timeout=10)
        assert registry.known(tenant, ids) == {}

        topics.create_topic(name=path)
        subscription = SubscriptionAdminClient.subscription_path(PROJECT, name)
        subscriptions.create_subscription(name=subscription, topic=path)
        retry = q.publish(tenant, events, client_ids=[True, True]).result(timeout=10)
        # Claimed before the failed publish, so a duplicate with the first receipts; and its message
        # is published now, so nothing is lost.
        assert flags(retry) == [False, False]
        assert set(registry.known(tenant, ids)) == set(ids)
        response = subscriptions.pull(subscription=subscription, max_messages=10, timeout=5)
        assert [orjson.loads(m.message.data) for m in response.received_messages] == [events]
    finally:
        q.close()


def test_concurrent_publishes_from_eight_threads_lose_nothing(
    queue: PubSubEventQueue, topic: Topic, tenant: str
) -> None:
    # 8 threads x (10 single events + 5 batches of 3) = 200 events in 120 publishes.
    plans = [
        [[event(tenant)] for _ in range(10)] + [[event(tenant) for _ in range(3)] for _ in range(5)]
        for _ in range(8)
    ]
    answers: list[list[bool]] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def run(plan: list[list[StoredEvent]]) -> None:
        start.wait()
        futures = [queue.publish(tenant, events) for events in plan]
        results = [flags(f.result(timeout=30)) for f in futures]
        with lock:
            answers.extend(results)

    threads = [threading.Thread(target=run, args=(plan,)) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    sent = {e["audit_id"] for plan in plans for events in plan for e in events}
    assert len(sent) == 200
    assert len(answers) == 8 * 15 and all(all(news) for news in answers)
    messages = topic.pull_until(8 * 15)
    assert len(messages) == 8 * 15  # one message per publish
    received = [e["audit_id"] for m in messages for e in decoded(m)[0]]
    assert sorted(received) == sorted(sent)  # none lost, none twice
    assert queue.depth() == 0


def test_publish_does_not_block_and_close_flushes(
    topic: Topic, registry: RedisIdempotencyRegistry, claims: FirestoreClaimStore, tenant: str
) -> None:
    q = PubSubEventQueue(publisher_for_throughput(), topic.path, registry, claims)
    started = time.perf_counter()
    futures = [q.publish(tenant, [event(tenant)]) for _ in range(50)]
    assert time.perf_counter() - started < BATCH_SETTINGS.max_latency * 50  # no waiting per call
    q.close()  # waits for what is in flight and stops the publisher
    assert all(f.done() and flags(f.result()) == [True] for f in futures)
    assert len(topic.pull_until(50)) == 50
    with pytest.raises(RuntimeError):
        q.publish(tenant, [event(tenant)])
    q.close()  # a second close is harmless


def test_cancelled_publishes_do_not_break_the_queue(
    queue: PubSubEventQueue, topic: Topic, tenant: str
) -> None:
    async def main() -> list[Outcome]:
        tasks = [
            asyncio.ensure_future(asyncio.wrap_future(queue.publish(tenant, [event(tenant)])))
            for _ in range(40)
        ]
        await asyncio.sleep(0)
        for task in tasks[::2]:
            task.cancel()  # a client that went away: wrap_future cancels the queue's future
        await asyncio.gather(*tasks, return_exceptions=True)
        return await asyncio.wait_for(asyncio.wrap_future(queue.publish(tenant, [event(tenant)])), 10)

    assert flags(asyncio.run(main())) == [True]
    messages = topic.pull_until(21, timeout=3)
    assert 21 <= len(messages) <= 41  # cancelled before their turn: not published
    assert queue.depth() == 0


def test_publish_is_accepted_when_redis_is_down(
    topic: Topic, claims: FirestoreClaimStore, tenant: str
) -> None:
    down = RedisIdempotencyRegistry(redis_client(f"redis://127.0.0.1:{free_port()}/0"), ttl_seconds=60)
    q = PubSubEventQueue(publisher_for_throughput(), topic.path, down, claims)
    try:
        e = event(tenant)
        assert flags(q.publish(tenant, [e, e], client_ids=[True, True]).result(timeout=10)) == [True, False]
        # Redis cannot tell: the claims can, so the retry is a duplicate all the same.
        assert flags(q.publish(tenant, [e], client_ids=[True]).result(timeout=10)) == [False]
        assert len(topic.pull_until(2)) == 2, "the first message, and the claimed one again"
        assert down.failures >= 2
    finally:
        q.close()


# -- topology and dead-lettering -----------------------------------------------------------------


def test_ensure_topology_creates_everything_and_is_idempotent(
    topics: TopicAdminClient, subscriptions: SubscriptionAdminClient
) -> None:
    name = unique("audit")
    endpoint = "http://127.0.0.1:9/push"
    for _ in range(2):
        ensure_topology(PROJECT, name, f"{name}-dl", f"{name}-writer", endpoint, 7)

    topics.get_topic(topic=TopicAdminClient.topic_path(PROJECT, name))
    dead_letter_topic = TopicAdminClient.topic_path(PROJECT, f"{name}-dl")
    dl_sub = subscriptions.get_subscription(
        subscription=SubscriptionAdminClient.subscription_path(PROJECT, f"{name}-dl-sub")
    )
    assert dl_sub.topic == dead_letter_topic and not dl_sub.push_config.push_endpoint
    writer = subscriptions.get_subscription(
        subscription=SubscriptionAdminClient.subscription_path(PROJECT, f"{name}-writer")
    )
    assert writer.topic == TopicAdminClient.topic_path(PROJECT, name)
    assert writer.push_config.push_endpoint == endpoint
    assert writer.dead_letter_policy.dead_letter_topic == dead_letter_topic
    assert writer.dead_letter_policy.max_delivery_attempts == 7
    assert writer.retry_policy.minimum_backoff.total_seconds() == 10
    assert writer.retry_policy.maximum_backoff.total_seconds() == 600
    for sub in (writer, dl_sub):  # an expiration policy without a ttl: never expires
        assert "expiration_policy" in sub and not sub.expiration_policy.ttl

    pull_name = unique("pull")
    ensure_topology(PROJECT, pull_name, f"{pull_name}-dl", f"{pull_name}-writer", None, 5)
    pulled = subscriptions.get_subscription(
        subscription=SubscriptionAdminClient.subscription_path(PROJECT, f"{pull_name}-writer")
    )
    assert not pulled.push_config.push_endpoint


def test_a_poison_message_that_is_always_nacked_is_dead_lettered_intact(
    subscriptions: SubscriptionAdminClient,
    registry: RedisIdempotencyRegistry,
    claims: FirestoreClaimStore,
    tenant: str,
) -> None:
    name = unique("poison")
    # No retry policy: the emulator honours one, and its backoff would take ~10 s per message.
    ensure_topology(PROJECT, name, f"{name}-dl", f"{name}-writer", None, 5, minimum_backoff_seconds=None)
    writer = SubscriptionAdminClient.subscription_path(PROJECT, f"{name}-writer")
    dead_letters = SubscriptionAdminClient.subscription_path(PROJECT, f"{name}-dl-sub")
    poison = [event(tenant)]
    q = PubSubEventQueue(
        publisher_for_throughput(), TopicAdminClient.topic_path(PROJECT, name), registry, claims
    )
    try:
        assert flags(q.publish(tenant, poison).result(timeout=10)) == [True]
    finally:
        q.close()

    attempts: list[int] = []
    dead: list[ReceivedMessage] = []
    deadline = time.monotonic() + 30
    while not dead and time.monotonic() < deadline:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            got = subscriptions.pull(subscription=writer, max_messages=10, return_immediately=True)
            if got.received_messages:
                attempts += [m.delivery_attempt for m in got.received_messages]
                subscriptions.modify_ack_deadline(  # nack: hand it back at once
                    subscription=writer,
                    ack_ids=[m.ack_id for m in got.received_messages],
                    ack_deadline_seconds=0,
                )
            dead = list(
                subscriptions.pull(
                    subscription=dead_letters, max_messages=10, return_immediately=True
                ).received_messages
            )
        time.sleep(0.02)

    assert len(dead) == 1, f"not dead-lettered within 30 s; deliveries seen: {attempts}"
    assert attempts == [1, 2, 3, 4, 5]
    message = dead[0].message
    assert orjson.loads(message.data) == poison
    assert message.attributes["tenant_id"] == tenant
    assert message.attributes["count"] == "1"
    assert message.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == "5"


# -- one committed version of every event (issue 26) ------------------------------------------


def _receipts(events: list[StoredEvent]) -> list[bytes]:
    return [event_leaf_hash(e) for e in events]


def test_a_retry_after_redis_forgets_is_a_duplicate_with_the_first_receipt(
    topic: Topic, claims: FirestoreClaimStore, redis_server: Any, tenant: str
) -> None:
    """Client-chosen ids are claimed before they are published: when Redis forgets them (a flush,
    a failover), a retry with a new version of the same ids is answered ``duplicate`` with the
    first version's receipts, and no second version is ever published."""
    import redis

    first = [event(tenant) for _ in range(5)]
    registry = RedisIdempotencyRegistry(redis_client(f"redis://{redis_server.host}/0"), ttl_seconds=600)
    q = PubSubEventQueue(publisher_for_throughput(), topic.path, registry, claims)
    try:
        answered = q.publish(tenant, first, _receipts(first), client_ids=[True] * 5).result(timeout=10)
        assert flags(answered) == [True] * 5
        (original,) = topic.pull_now()

        redis.Redis.from_url(f"redis://{redis_server.host}/0").flushall()
        retry = [dict(e, created_at="2026-11-26T12:00:09.000000Z") for e in first]  # a new version
        again = q.publish(tenant, retry, _receipts(retry), client_ids=[True] * 5).result(timeout=10)  # type: ignore[arg-type]
        assert flags(again) == [False] * 5
        assert [o.receipt for o in again] == _receipts(first), "the first version's receipts"
        # Its message may never have gone out, so it is published again, exactly as it was.
        republished = topic.pull_now()
        assert [m.message.data for m in republished] == [original.message.data]

        # Now Redis knows again: a third try publishes nothing at all.
        third = q.publish(tenant, retry, _receipts(retry), client_ids=[True] * 5).result(timeout=10)  # type: ignore[arg-type]
        assert [o.receipt for o in third] == _receipts(first)
        assert topic.pull_now() == []
    finally:
        q.close()


def test_a_claim_whose_publish_never_happened_is_published_by_the_retry(
    topic: Topic, registry: RedisIdempotencyRegistry, claims: FirestoreClaimStore, tenant: str
) -> None:
    """A crash between the claim and the publish: the retry finds the claim, answers duplicate
    with its receipt, and publishes the claimed version, so the event is not lost."""
    events = [event(tenant), event(tenant)]
    claims.claim(tenant, [("crashed", list(zip(events, _receipts(events), strict=True)))])
    q = PubSubEventQueue(publisher_for_throughput(), topic.path, registry, claims)
    try:
        retry = [dict(e, created_at="2026-11-26T12:00:05.000000Z") for e in events]
        answer = q.publish(tenant, retry, _receipts(retry), client_ids=[True, True]).result(timeout=10)  # type: ignore[arg-type]
        assert [o.receipt for o in answer] == _receipts(events)
        (message,) = topic.pull_now()
        assert decoded(message)[0] == events, "the claimed version, not the retry's"
    finally:
        q.close()


def test_racing_requests_claim_each_id_once(
    topic: Topic, registry: RedisIdempotencyRegistry, claims: FirestoreClaimStore, tenant: str
) -> None:
    shared = event(tenant)
    q = PubSubEventQueue(publisher_for_throughput(), topic.path, registry, claims)
    try:
        versions = [dict(shared, created_at=f"2026-11-26T12:00:0{i}.000000Z") for i in range(6)]
        futures = [
            q.publish(tenant, [v], _receipts([v]), client_ids=[True])  # type: ignore[list-item]
            for v in versions
        ]
        outcomes = [f.result(timeout=20)[0] for f in futures]
        assert sum(o.new for o in outcomes) == 1, "exactly one version wins"
        winner = versions[[o.new for o in outcomes].index(True)]
        assert {o.receipt for o in outcomes if not o.new} == {event_leaf_hash(winner)}  # type: ignore[arg-type]
        received = [e for m in topic.pull_until(1, timeout=3) for e in decoded(m)[0]]
        assert received and all(e == winner for e in received), "only the winning version is published"
    finally:
        q.close()


def test_server_chosen_ids_are_not_claimed(
    topic: Topic, registry: RedisIdempotencyRegistry, claims: FirestoreClaimStore, tenant: str
) -> None:
    events = [event(tenant)]
    q = PubSubEventQueue(publisher_for_throughput(), topic.path, registry, claims)
    try:
        q.publish(tenant, events, client_ids=[False]).result(timeout=10)
    finally:
        q.close()
    assert claims.claim(tenant, [("probe", [(events[0], b"x")])]) == [{}], "no claim existed"
