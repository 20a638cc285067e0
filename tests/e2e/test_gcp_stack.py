"""The GCP shape end to end: the four functions as separate processes wired through the real
stand-ins (ingest → Pub/Sub emulator → push → writer → BigQuery emulator; query with Redis),
behind the local gateway, started exactly as `make run-gcp-local` starts it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import wait_for
from tests.e2e.gcp import GcpStack, running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gcp_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcpStack]:
    yield from running_stack(tmp_path_factory.mktemp("gcp-stack"))


def _event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
        "event_type": "invoice.update",
        "user_id": "alice",
        "resource_type": "invoice",
        "resource_id": "inv-1",
        "action": "update",
        "metadata": {"region": "eu", "note": 'comma, "quote"'},
    }
    event.update(overrides)
    return event


def _search(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit/events", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def test_ingest_query_get_and_export_through_the_stack(gcp_stack: GcpStack) -> None:
    tenant = f"gcp-{uuid.uuid4().hex[:8]}"
    with gcp_stack.client(tenant, ["audit_writer", "audit_reader", "audit_export"]) as client:
        one = client.post("/api/v1/audit/events", json=_event(user_id="solo"))
        assert one.status_code == 202, one.text
        batch = client.post(
            "/api/v1/audit/events/batch",
            json={"events": [_event(user_id=f"u{i}") for i in range(20)] + [{"bad": True}]},
        )
        assert batch.status_code == 202, batch.text
        assert (batch.json()["accepted"], batch.json()["rejected"]) == (20, 1)

        # Each read polls: bqemulator 1.4.0 (on DuckDB 2) sometimes answers a query that overlaps
        # a Storage Write append (here: the service's own records of these reads) short or
        # empty, then right the next time. The store's query semantics are tested in
        # tests/integration/test_bigquery_store.py without concurrent writes.
        events = wait_for(lambda: len(found := _search(client, page_size=100)) == 21 and found, timeout=30)
        assert {e["tenant_id"] for e in events} == {tenant}
        solo = wait_for(lambda: _search(client, user_id="solo"), timeout=15)
        assert [e["audit_id"] for e in solo] == [one.json()["audit_id"]]
        wait_for(lambda: len(_search(client, **{"metadata.region": "eu"})) == 21, timeout=15)

        got = wait_for(
            lambda: (
                (r := client.get(f"/api/v1/audit/events/{one.json()['audit_id']}")).status_code == 200 and r
            ),
            timeout=15,
        )
        assert got.json()["user_id"] == "solo"

        def two_pages() -> list[str] | None:
            page1 = client.get("/api/v1/audit/events", params={"page_size": 15}).json()
            if not page1.get("next_page_token"):
                return None
            page2 = client.get(
                "/api/v1/audit/events", params={"page_size": 15, "page_token": page1["next_page_token"]}
            ).json()
            ids = [e["audit_id"] for e in page1["events"] + page2["events"]]
            return ids if len(ids) == 21 else None

        ids = wait_for(two_pages, timeout=15)
        assert len(set(ids)) == 21

        def exported_rows() -> list[dict[str, str]] | None:
            exported = client.get("/api/v1/audit/events/export", params={"format": "csv"})
            assert exported.status_code == 200
            rows = list(csv.DictReader(io.StringIO(exported.text)))
            return rows if len(rows) == 21 else None

        rows = wait_for(exported_rows, timeout=15)
        assert json.loads(rows[0]["metadata"])["note"] == 'comma, "quote"'

    with gcp_stack.client("someone-else", ["audit_reader"]) as other:
        assert other.get(f"/api/v1/audit/events/{one.json()['audit_id']}").status_code == 404


def test_redelivered_message_is_stored_once(gcp_stack: GcpStack) -> None:
    """Pub/Sub delivers at least once; publishing the same batch twice stands in for that."""
    tenant = f"redeliver-{uuid.uuid4().hex[:8]}"
    with gcp_stack.client(tenant, ["audit_writer", "audit_reader"]) as client:
        written = client.post("/api/v1/audit/events/batch", json={"events": [_event() for _ in range(5)]})
        ids = [r["audit_id"] for r in written.json()["results"]]
        wait_for(lambda: len(_search(client)) == 5, timeout=30)
        stored = [
            wait_for(
                lambda i=i: (r := client.get(f"/api/v1/audit/events/{i}")).status_code == 200 and r.json()
            )
            for i in ids
        ]
        records = []
        for event in stored:
            record = dict(event)
            for name in ("request_data", "response_data", "metadata"):
                record[name] = None if event[name] is None else orjson.dumps(event[name]).decode()
            records.append(record)
        publisher = gcp_stack.publisher()
        for _ in range(2):
            publisher.publish(
                gcp_stack.topic(gcp_stack.info["topic"]),
                orjson.dumps(records),
                tenant_id=tenant,
                schema_version="1",
                count=str(len(records)),
            ).result(timeout=30)
        time.sleep(3)  # let both redeliveries reach the writer
        # A duplicate would never let this hold (see the first test for why reads poll).
        wait_for(lambda: sorted(e["audit_id"] for e in _search(client)) == sorted(ids), timeout=15)


def test_poison_message_reaches_the_dead_letter_topic(gcp_stack: GcpStack) -> None:
    from google.cloud import pubsub_v1

    publisher = gcp_stack.publisher()
    subscriber = pubsub_v1.SubscriberClient()
    info = gcp_stack.info
    dead_letters = f"projects/{info['project']}/subscriptions/{info['dead_letter_topic']}-sub"
    marker = uuid.uuid4().hex
    publisher.publish(
        gcp_stack.topic(gcp_stack.info["topic"]), b"this is not a batch of events", marker=marker
    ).result(timeout=30)

    def arrived() -> bool:
        pulled = subscriber.pull(subscription=dead_letters, max_messages=100, timeout=5)
        if pulled.received_messages:
            subscriber.acknowledge(
                subscription=dead_letters, ack_ids=[m.ack_id for m in pulled.received_messages]
            )
        return any(m.message.attributes.get("marker") == marker for m in pulled.received_messages)

    wait_for(arrived, timeout=90, interval=1)


def test_proofs_through_the_stack_verify(gcp_stack: GcpStack) -> None:
    """On GCP's shape the writer function stages leaves in Firestore and sequences them after its
    BigQuery append; proofs read both and verify against the published key."""
    from tests.e2e.test_integrity import checkpoint_ok, jcs_flat, rfc_inclusion_root

    tenant = f"gcp-proof-{uuid.uuid4().hex[:8]}"
    keys_doc = httpx.get(f"http://127.0.0.1:{gcp_stack.port}/api/v1/audit/public-key").json()
    keys = {k["key_id"]: bytes.fromhex(k["public_key"]) for k in keys_doc["keys"]}
    with gcp_stack.client(tenant, ["audit_writer", "audit_reader"]) as client:
        written = client.post(
            "/api/v1/audit/events/batch",
            json={"events": [_event(user_id=f"p{i}", metadata={"b": 2, "a": [1.5, "x"]}) for i in range(5)]},
        )
        assert written.status_code == 202, written.text
        receipts = {r["audit_id"]: r["leaf_hash"] for r in written.json()["results"]}
        for audit_id, leaf in receipts.items():
            # Polls until the record read back hashes to the receipt: the emulator sometimes
            # answers a read that overlaps a Storage Write append wrongly, then right (see the
            # first test); real BigQuery has no such window. A record that never matches fails.
            proof = wait_for(
                lambda a=audit_id, h=leaf: (
                    (r := client.get(f"/api/v1/audit/events/{a}/proof")).status_code == 200
                    and r.json()["record"] is not None
                    and hashlib.sha256(b"\x00" + jcs_flat(r.json()["record"])).hexdigest() == h
                    and r.json()
                ),
                timeout=30,
            )
            assert proof["leaf_hash"] == leaf
            assert checkpoint_ok(proof["checkpoint"], keys)
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            root = rfc_inclusion_root(proof["leaf_index"], proof["tree_size"], bytes.fromhex(leaf), path)
            assert root == bytes.fromhex(proof["checkpoint"]["root_hash"])


def test_a_stream_is_delivered_by_the_streams_function(gcp_stack: GcpStack) -> None:
    """On the GCP shape: administered through the gateway (retention function), state and leases
    in Firestore, records read from BigQuery, delivered by the streams function's scheduled run."""
    import base64
    import secrets

    from tests.webhook_receiver import WebhookReceiver

    tenant = f"gcp-stream-{uuid.uuid4().hex[:8]}"
    receiver = WebhookReceiver("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    receiver.start()
    try:
        events = [_event(audit_id=str(uuid.uuid4()), resource_id=f"inv-{i}") for i in range(12)]
        writing = gcp_stack.client(tenant, ["audit_writer"])
        with writing as writer, gcp_stack.client(tenant, ["system_admin"]) as admin:
            hook = {"type": "webhook", "url": receiver.url, "secret": receiver.secret}
            created = admin.post(
                "/api/v1/admin/streams",
                json={"tenant_id": tenant, "name": "siem", "destination": hook, "start": "beginning"},
            )
            assert created.status_code == 201, created.text
            assert writer.post("/api/v1/audit/events/batch", json={"events": events}).status_code == 202
            wanted = {e["audit_id"] for e in events}
            wait_for(lambda: wanted <= {e["audit_id"] for e in receiver.events()}, timeout=120, interval=1)
            status = admin.get(f"/api/v1/admin/streams/{created.json()['stream_id']}").json()["status"]
            assert status["delivered_leaf_index"] is not None and status["state"] == "active"
        indexes = [e["leaf_index"] for e in receiver.events()]
        assert indexes == list(range(len(indexes))), "in leaf order from 0, each once"
    finally:
        receiver.stop()
