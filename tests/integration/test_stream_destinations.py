"""The stream destinations against real receivers started here (tests/receivers.py): rsyslog
(plain TCP and RFC 5425 TLS), the Pub/Sub emulator, gcp-storage-emulator, and an HTTP Event
Collector written from Splunk's documentation. Each test checks what the receiver took: every
leaf once, in leaf order, with the fields the destination promises."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.pubsub_v1 import PublisherClient as TopicAdminClient
from google.pubsub_v1 import SubscriberClient as SubscriptionAdminClient

from auditlog.streams.batch import Batch, Item, batch_id
from auditlog.streams.destinations import Context, DeliveryError
from auditlog.streams.destinations.gcs import GcsSender
from auditlog.streams.destinations.pubsub import PubSubSender
from auditlog.streams.destinations.splunk import SplunkHecSender
from auditlog.streams.destinations.syslog import SD_ID, SyslogSender, host_name
from auditlog.streams.formats import render
from auditlog.streams.model import (
    Format,
    GcsDestination,
    PubSubDestination,
    SplunkHecDestination,
    SyslogDestination,
)
from tests.conftest import free_port
from tests.receivers import (
    GcsEmulator,
    Pki,
    Rsyslog,
    SplunkHecReceiver,
    gcs_emulator_unavailable,
    make_pki,
    require,
    rsyslog_unavailable,
)

pytestmark = pytest.mark.integration

PROJECT = "auditlog-test"
LOCAL = Context(PROJECT, allow_private_addresses=True, timeout_seconds=10.0)
TRICKY = 'quote " bracket ] backslash \\ ünïcødé ✓ 🎉'
STATUSES = ("success", "failure", "denied")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _stamp(index: int) -> str:
    """Whole milliseconds: OCSF's ``time`` and CEF's ``rt`` keep no more."""
    return f"2026-11-26T12:{index // 60 % 60:02d}:{index % 60:02d}.{index % 1000:03d}000Z"


def _rendered(fmt: Format, tenant: str, index: int, audit_id: str, leaf_hash: str) -> dict[str, Any] | str:
    """A committed record, rendered by the stream formats' own code."""
    record = {
        "audit_id": audit_id,
        "timestamp": _stamp(index),
        "event_type": "user.login",
        "user_id": TRICKY,
        "session_id": None,
        "ip_address": "203.0.113.7",
        "user_agent": "agent/1 (x]y)",
        "resource_type": "session",
        "resource_id": None,
        "action": "create",
        "status": STATUSES[index % 3],
        "request_data": '{"k":"v\\"]"}',
        "response_data": None,
        "metadata": None,
        "tenant_id": tenant,
        "service_name": "svc",
        "correlation_id": None,
        "retention_period_days": 90,
        "created_at": _stamp(index),
        "partition_date": "2026-11-26",
    }
    delivery = {"tenant_id": tenant, "audit_id": audit_id, "leaf_index": index, "leaf_hash": leaf_hash}
    return render(fmt, record, delivery)


def make_batch(
    tenant: str,
    stream: str,
    first: int,
    count: int,
    fmt: Format = Format.JSON,
    hash_only: set[int] | None = None,
) -> Batch:
    """Leaves ``first`` .. ``first + count - 1``; those in ``hash_only`` go as their hash alone."""
    items = []
    for index in range(first, first + count):
        audit_id = str(uuid.uuid4())
        leaf_hash = hashlib.sha256(f"{stream}/{index}".encode()).hexdigest()
        if index in (hash_only or set()):
            items.append(Item(index, audit_id, leaf_hash, None, "filtered"))
        else:
            items.append(Item(index, audit_id, leaf_hash, _rendered(fmt, tenant, index, audit_id, leaf_hash)))
    checkpoint = {"origin": "auditlog/test", "size": first + count, "note": "…"}
    return Batch(stream, tenant, fmt, items, checkpoint, batch_id(stream, first, first + count - 1))


# -- syslog ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def rsyslog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rsyslog]:
    require("rsyslog", rsyslog_unavailable(tls=False))
    server = Rsyslog(tmp_path_factory.mktemp("rsyslog")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rsyslog_tls(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Rsyslog]:
    require("rsyslog with TLS", rsyslog_unavailable(tls=True))
    server = Rsyslog(tmp_path_factory.mktemp("rsyslog-tls"), pki).start()
    yield server
    server.stop()


def check_syslog(records: list[dict[str, Any]], batches: list[Batch]) -> None:
    """What rsyslog parsed is what each leaf should say, once per leaf, in leaf order."""
    items = [(batch, item) for batch in batches for item in batch.items]
    assert [r["sd"][SD_ID]["leaf"] for r in records] == [str(item.leaf_index) for _, item in items]
    for record, (batch, item) in zip(records, items, strict=True):
        expected_sd = {
            "tenant": batch.tenant_id,
            "stream": batch.stream_id,
            "leaf": str(item.leaf_index),
            "hash": item.leaf_hash,
            "audit_id": item.audit_id,
            **({"omitted": item.omitted} if item.omitted else {}),
        }
        assert record["sd"] == {SD_ID: expected_sd}
        assert (record["version"], record["app"], record["procid"]) == ("1", "auditlog", "-")
        assert record["hostname"] == host_name()
        assert record["msg"].startswith("\ufeff")
        body = record["msg"].removeprefix("\ufeff")
        if item.rendered is None:
            assert (record["msgid"], int(record["pri"])) == ("leaf", 13 * 8 + 6)
            assert json.loads(body) == item.as_json(batch.tenant_id)
            continue
        severity = {"success": 6, "failure": 5, "denied": 4}[STATUSES[item.leaf_index % 3]]
        assert (record["msgid"], int(record["pri"])) == ("user.login", 13 * 8 + severity)
        assert record["timestamp"] == _stamp(item.leaf_index)
        assert (json.loads(body) if isinstance(item.rendered, dict) else body) == item.rendered


def test_syslog_delivers_each_leaf_once_in_order(rsyslog: Rsyslog) -> None:
    tenant, stream = 'acme "]\\ ü', unique("syslog")
    batches = [
        make_batch(tenant, stream, 0, 5, hash_only={2}),
        make_batch(tenant, stream, 5, 3, Format.CEF, hash_only={6}),
        make_batch(tenant, stream, 8, 3, Format.OCSF, hash_only={9}),
    ]
    sender = SyslogSender(
        SyslogDestination(type="syslog", host="127.0.0.1", port=rsyslog.port, tls=False), LOCAL
    )
    for batch in batches:
        sender.deliver(batch)
    sender.close()
    check_syslog(rsyslog.wait_for(stream, 11), batches)


def test_syslog_over_tls_verifies_the_server(rsyslog_tls: Rsyslog, pki: Pki, tmp_path: Path) -> None:
    def sender(host: str, ca_cert: str) -> SyslogSender:
        config = SyslogDestination(type="syslog", host=host, port=rsyslog_tls.port, tls=True, ca_cert=ca_cert)
        return SyslogSender(config, LOCAL)

    tenant, stream = "acme", unique("syslog-tls")
    batch = make_batch(tenant, stream, 0, 4, hash_only={3})
    sender("localhost", pki.ca_pem).deliver(batch)
    check_syslog(rsyslog_tls.wait_for(stream, 4), [batch])

    other_ca = make_pki(tmp_path / "other").ca_pem
    refused = unique("refused")
    for host, ca in (("localhost", other_ca), ("127.0.0.1", pki.ca_pem)):  # unknown CA; name mismatch
        with pytest.raises(DeliveryError, match="certificate") as failure:
            sender(host, ca).deliver(make_batch(tenant, refused, 0, 1))
        assert not failure.value.permanent
    assert rsyslog_tls.wait_for(refused, 0) == []


def test_syslog_failures() -> None:
    config = SyslogDestination(type="syslog", host="127.0.0.1", port=free_port(), tls=False)
    batch = make_batch("acme", unique("down"), 0, 1)
    with pytest.raises(DeliveryError) as down:
        SyslogSender(config, LOCAL).deliver(batch)
    assert not down.value.permanent and "ConnectionRefused" in str(down.value)
    with pytest.raises(DeliveryError) as private:
        SyslogSender(config, Context(PROJECT, allow_private_addresses=False)).deliver(batch)
    assert private.value.permanent and "non-public" in str(private.value)
    with pytest.raises(DeliveryError) as bad_ca:
        SyslogSender(config.model_copy(update={"tls": True, "ca_cert": "not a PEM"}), LOCAL)
    assert bad_ca.value.permanent


def test_syslog_batch_is_not_acknowledged_when_the_receiver_resets() -> None:
    """A receiver that drops the connection without reading (a reset) has not taken the batch."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def reset() -> None:
            conn, _ = listener.accept()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

        thread = threading.Thread(target=reset)
        thread.start()
        config = SyslogDestination(type="syslog", host="127.0.0.1", port=port, tls=False)
        with pytest.raises(DeliveryError) as failure:
            SyslogSender(config, LOCAL).deliver(make_batch("acme", unique("reset"), 0, 50))
        thread.join()
    assert not failure.value.permanent  # reset, broken pipe or not connected: when it struck decides


# -- Pub/Sub --------------------------------------------------------------------------------------


@pytest.fixture
def pubsub(pubsub_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    return str(pubsub_emulator.host)


def pull(subscriptions: SubscriptionAdminClient, subscription: str, count: int) -> list[Any]:
    """``count`` messages, acknowledged as they come (an ordered key releases the next after)."""
    received: list[Any] = []
    deadline = time.monotonic() + 20
    while len(received) < count and time.monotonic() < deadline:
        response = subscriptions.pull(subscription=subscription, max_messages=10, timeout=5)
        if response.received_messages:
            received += response.received_messages
            ack_ids = [m.ack_id for m in response.received_messages]
            subscriptions.acknowledge(subscription=subscription, ack_ids=ack_ids)
    return received


def test_pubsub_one_message_per_batch_in_order(pubsub: str) -> None:
    name = unique("streams")
    topic = TopicAdminClient.topic_path(PROJECT, name)
    subscription = SubscriptionAdminClient.subscription_path(PROJECT, name)
    tenant, stream = "acme", unique("pubsub")
    batches = [make_batch(tenant, stream, 0, 3), make_batch(tenant, stream, 3, 2, Format.OCSF, hash_only={4})]
    with TopicAdminClient() as topics, SubscriptionAdminClient() as subscriptions:
        topics.create_topic(name=topic)
        ordered = {"name": subscription, "topic": topic, "enable_message_ordering": True}
        subscriptions.create_subscription(request=ordered)
        sender = PubSubSender(PubSubDestination(type="pubsub", topic=topic), LOCAL)
        for batch in batches:
            sender.deliver(batch)
        sender.close()
        received = pull(subscriptions, subscription, 2)
    assert [orjson.loads(m.message.data) for m in received] == [batch.body() for batch in batches]
    assert [m.message.ordering_key for m in received] == [stream, stream]
    assert [dict(m.message.attributes) for m in received] == [
        {
            "stream_id": stream,
            "tenant_id": tenant,
            "batch_id": batch.batch_id,
            "format": batch.format.value,
            "first_leaf_index": str(batch.first_leaf_index),
            "last_leaf_index": str(batch.last_leaf_index),
        }
        for batch in batches
    ]


def test_pubsub_missing_topic_is_permanent(pubsub: str) -> None:
    topic = TopicAdminClient.topic_path(PROJECT, unique("absent"))
    sender = PubSubSender(PubSubDestination(type="pubsub", topic=topic), LOCAL)
    with pytest.raises(DeliveryError) as failure:
        sender.deliver(make_batch("acme", unique("pubsub"), 0, 1))
    sender.close()
    assert failure.value.permanent and failure.value.status_code == 404


# -- Cloud Storage --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    require("gcp-storage-emulator", gcs_emulator_unavailable())
    emulator = GcsEmulator(tmp_path_factory.mktemp("gcs")).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def gcs(gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from google.cloud import storage  # type: ignore[attr-defined]

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    client = storage.Client(project=PROJECT)
    yield client
    client.close()


def lines(blob: Any) -> list[Any]:
    return [json.loads(line) for line in gzip.decompress(blob.download_as_bytes()).splitlines()]


def test_gcs_objects_sort_by_leaf_and_a_resend_changes_nothing(gcs: Any) -> None:
    bucket = gcs.create_bucket(unique("streams"))
    tenant, stream = "acme", unique("gcs")
    sender = GcsSender(GcsDestination(type="gcs", bucket=bucket.name, prefix="audit/"), LOCAL)
    batches = [
        make_batch(tenant, stream, 9, 3),
        make_batch(tenant, stream, 12, 2, Format.CEF, hash_only={13}),
    ]
    for batch in batches:
        sender.deliver(batch)
    names = [blob.name for blob in gcs.list_blobs(bucket.name)]
    assert names == [
        f"audit/{stream}/{9:020d}-{11:020d}.ndjson.gz",
        f"audit/{stream}/{12:020d}-{13:020d}.ndjson.gz",
    ]
    for name, batch in zip(names, batches, strict=True):
        blob = bucket.get_blob(name)
        header = {key: value for key, value in batch.body().items() if key != "events"}
        assert lines(blob) == [header, *(item.as_json(tenant, batch.format) for item in batch.items)]
        assert blob.content_type == "application/gzip"

    first = bucket.get_blob(names[0])
    newer = Batch(stream, tenant, batches[0].format, batches[0].items, {"size": 99}, batches[0].batch_id)
    sender.deliver(newer)  # a re-send, with a newer checkpoint: the first copy stays
    again = bucket.get_blob(names[0])
    assert again.generation == first.generation and lines(again)[0]["checkpoint"] == batches[0].checkpoint

    test_item = Item(-1, str(uuid.uuid4()), "00" * 32, {"event_type": "auditlog.stream.test"})
    sender.deliver(Batch(stream, tenant, Format.JSON, [test_item], {}, f"{stream}-test-1"))
    sender.close()
    listed = [blob.name for blob in gcs.list_blobs(bucket.name)]
    assert listed == [*names, f"audit/{stream}/test-{stream}-test-1.ndjson.gz"]


def test_gcs_missing_bucket_is_permanent(gcs: Any) -> None:
    sender = GcsSender(GcsDestination(type="gcs", bucket=unique("absent")), LOCAL)
    with pytest.raises(DeliveryError) as failure:
        sender.deliver(make_batch("acme", unique("gcs"), 0, 1))
    sender.close()
    assert failure.value.permanent and failure.value.status_code == 404


# -- Splunk HEC -----------------------------------------------------------------------------------

TOKEN = str(uuid.uuid4())


@pytest.fixture
def hec() -> Iterator[SplunkHecReceiver]:
    receiver = SplunkHecReceiver(TOKEN, allowed_indexes=frozenset({"main", "audit"})).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def hec_ack() -> Iterator[SplunkHecReceiver]:
    receiver = SplunkHecReceiver(TOKEN, use_ack=True, index_delay=0.3).start()
    yield receiver
    receiver.stop()


def splunk(receiver: SplunkHecReceiver, token: str = TOKEN, context: Context = LOCAL, **config: Any) -> Any:
    return SplunkHecSender(
        SplunkHecDestination(type="splunk_hec", url=receiver.url, **config), token, context
    )


def deliver_once(sender: Any, batch: Batch) -> None:
    """Deliver with a sender of its own, closed afterwards whatever happens."""
    try:
        sender.deliver(batch)
    finally:
        sender.close()


def test_splunk_batch_lands_as_events_in_order(hec: SplunkHecReceiver) -> None:
    tenant, stream = "acme", unique("hec")
    batches = [make_batch(tenant, stream, 0, 4, hash_only={1}), make_batch(tenant, stream, 4, 2, Format.CEF)]
    sender = splunk(hec, index="audit")
    for batch in batches:
        sender.deliver(batch)
    sender.close()
    items = [(batch, item) for batch in batches for item in batch.items]
    assert len(hec.events) == len(items)
    for event, (batch, item) in zip(hec.events, items, strict=True):
        assert event["event"] == (item.as_json(tenant) if item.rendered is None else item.rendered)
        assert event["fields"] == {"tenant_id": tenant, **item.delivery_fields()}
        assert (event["source"], event["sourcetype"]) == ("auditlog", f"auditlog:{batch.format.value}")
        assert (event["index"], event["host"]) == ("audit", host_name())
        if item.rendered is not None:
            expected = datetime.fromisoformat(_stamp(item.leaf_index)).timestamp()
            assert math.isclose(event["time"], expected, abs_tol=1e-3)
        else:
            assert abs(event["time"] - datetime.now(UTC).timestamp()) < 60


def test_splunk_refusals(hec: SplunkHecReceiver) -> None:
    batch = make_batch("acme", unique("hec"), 0, 2)
    wrong = str(uuid.uuid4())
    with pytest.raises(DeliveryError) as invalid:
        deliver_once(splunk(hec, token=wrong), batch)
    assert (
        invalid.value.permanent and invalid.value.status_code == 403 and "Invalid token" in str(invalid.value)
    )
    assert wrong not in str(invalid.value)
    with pytest.raises(DeliveryError) as index:
        deliver_once(splunk(hec, index="elsewhere"), batch)
    assert index.value.permanent and "Incorrect index" in str(index.value)
    hec.busy = True
    with pytest.raises(DeliveryError) as busy:
        deliver_once(splunk(hec), batch)
    assert not busy.value.permanent and busy.value.status_code == 503
    assert hec.events == []


def test_splunk_indexer_acknowledgement(hec_ack: SplunkHecReceiver) -> None:
    tenant, stream = "acme", unique("hec-ack")
    batches = [make_batch(tenant, stream, 0, 3), make_batch(tenant, stream, 3, 3)]
    sender = splunk(hec_ack, acknowledgement=True)
    for batch in batches:
        started = time.monotonic()
        sender.deliver(batch)
        assert time.monotonic() - started >= hec_ack.index_delay  # returned only once indexed
    sender.close()
    assert [e["fields"]["leaf_index"] for e in hec_ack.events] == list(range(6))
    assert hec_ack.channels == [sender.channel, sender.channel] and uuid.UUID(sender.channel)
    assert hec_ack.ack_queries >= 2

    with pytest.raises(DeliveryError) as no_channel:  # a token with useACK needs a channel
        deliver_once(splunk(hec_ack), batch)
    assert no_channel.value.permanent and "Data channel is missing" in str(no_channel.value)

    hec_ack.index_delay = math.inf
    with pytest.raises(DeliveryError) as unconfirmed:
        deliver_once(splunk(hec_ack, context=Context(PROJECT, True, 1.0), acknowledgement=True), batch)
    assert not unconfirmed.value.permanent and "indexing" in str(unconfirmed.value)
