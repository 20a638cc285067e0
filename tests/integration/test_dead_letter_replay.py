"""`auditlog dead-letter replay` (issue 20): archived dead letters, read from the BigQuery table
Pub/Sub's archive subscription fills (the BigQuery emulator), published again to the events topic
(the Pub/Sub emulator) byte for byte with their own attributes."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from google.pubsub_v1 import PublisherClient as TopicAdminClient
from google.pubsub_v1 import SubscriberClient as SubscriptionAdminClient

from auditlog.runtime.tools import replay_dead_letters
from auditlog.settings import Settings
from tests.conftest import BIGQUERY_PROJECT, ROOT

pytestmark = pytest.mark.integration

SCHEMA = json.loads((ROOT / "terraform/modules/platform/dead_letters.schema.json").read_text())


def _archive(emulator: Any, rows: list[dict[str, Any]]) -> str:
    client = bigquery.Client(
        project=BIGQUERY_PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{emulator.port}"),
    )
    dataset = f"dl_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    table = bigquery.Table(
        f"{BIGQUERY_PROJECT}.{dataset}.events_dead_letters",
        schema=[bigquery.SchemaField.from_api_repr(f) for f in SCHEMA],
    )
    table.time_partitioning = bigquery.TimePartitioning(field="publish_time")
    client.create_table(table)
    name = f"{BIGQUERY_PROJECT}.{dataset}.events_dead_letters"
    # The emulator keeps a BYTES parameter (and a loaded file's BYTES) as its base64 text, so the
    # bytes go in as base64 text decoded by FROM_BASE64, which it does right.
    for r in rows:
        params = [
            bigquery.ScalarQueryParameter("sub", "STRING", r["subscription_name"]),
            bigquery.ScalarQueryParameter("id", "STRING", r["message_id"]),
            bigquery.ScalarQueryParameter("at", "TIMESTAMP", r["publish_time"]),
            bigquery.ScalarQueryParameter("data", "STRING", base64.b64encode(r["data"]).decode()),
            bigquery.ScalarQueryParameter("attributes", "STRING", r["attributes"]),
        ]
        client.query(
            f"INSERT INTO `{name}` (subscription_name, message_id, publish_time, data, attributes) "
            "VALUES (@sub, @id, @at, FROM_BASE64(@data), @attributes)",
            job_config=bigquery.QueryJobConfig(query_parameters=params),
        ).result()
    return name


def _row(message_id: str, data: bytes, attributes: dict[str, str], when: datetime) -> dict[str, Any]:
    return {
        "subscription_name": "projects/p/subscriptions/archive",
        "message_id": message_id,
        "publish_time": when,
        "data": data,
        "attributes": json.dumps(attributes),
    }


def test_dead_letters_are_published_again_as_they_were(
    bigquery_emulator: Any, pubsub_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    now = datetime.now(UTC)
    body = orjson.dumps([{"audit_id": "a", "tenant_id": "acme"}])
    origin = {"tenant_id": "acme", "schema_version": "1", "count": "1"}
    pubsub = {
        "CloudPubSubDeadLetterSourceDeliveryCount": "10",
        "CloudPubSubDeadLetterSourceSubscription": "w",
    }
    table = _archive(
        bigquery_emulator,
        [
            _row("m-1", body, {**origin, **pubsub}, now - timedelta(hours=2)),
            _row("m-2", b"not json at all", {"tenant_id": "acme"}, now - timedelta(hours=1)),
            _row("m-old", b"long ago", {}, now - timedelta(days=90)),
        ],
    )
    name = f"events-{uuid.uuid4().hex[:8]}"
    topic = TopicAdminClient.topic_path(BIGQUERY_PROJECT, name)
    subscription = SubscriptionAdminClient.subscription_path(BIGQUERY_PROJECT, name)
    with TopicAdminClient() as topics, SubscriptionAdminClient() as subscriptions:
        topics.create_topic(name=topic)
        subscriptions.create_subscription(name=subscription, topic=topic)
        settings = Settings(
            gcp_project=BIGQUERY_PROJECT, bigquery_endpoint=f"http://127.0.0.1:{bigquery_emulator.port}"
        )
        since = now - timedelta(days=30)
        listed = replay_dead_letters(
            settings, table, name, since=since, message_ids=None, dry_run=True
        )
        assert listed == [("m-1", None), ("m-2", None)], "a dry run lists; the 30-day bound holds"
        nothing = subscriptions.pull(subscription=subscription, max_messages=10, timeout=2)
        assert nothing.received_messages == []

        replayed = replay_dead_letters(
            settings, table, name, since=since, message_ids=["m-1"], dry_run=False
        )
        assert [old for old, _ in replayed] == ["m-1"] and replayed[0][1]
        pulled = subscriptions.pull(subscription=subscription, max_messages=10, timeout=5)
        (message,) = pulled.received_messages
        assert message.message.data == body, "byte for byte"
        assert dict(message.message.attributes) == origin, "its own attributes, not Pub/Sub's"
