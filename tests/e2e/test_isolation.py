"""Tenants never see each other: not through search, get, export, cursors, or a forged tenant_id."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.conftest import LocalService
from tests.e2e.helpers import (
    BATCH,
    EVENTS,
    EXPORT,
    assert_error,
    client,
    event,
    new_tenant,
    post_batch,
    post_one,
    rfc3339,
    search,
    search_ids,
    utc,
    wait_get,
    wait_ids,
)

pytestmark = pytest.mark.e2e


@dataclass
class Pair:
    a: str
    b: str
    a_ids: list[str]
    b_ids: list[str]


@pytest.fixture(scope="module")
def pair(service: LocalService) -> Pair:
    """Two tenants whose events look alike (same users, types, metadata, even a shared audit_id)."""
    a, b = new_tenant("iso-a"), new_tenant("iso-b")
    shared_id = str(uuid.uuid4())
    base = utc(-timedelta(hours=1), micro=0)

    def events(owner: str) -> list[dict]:
        return [
            event(
                audit_id=shared_id if i == 0 else str(uuid.uuid4()),
                timestamp=rfc3339(base - timedelta(seconds=i)),
                user_id="alice",
                correlation_id="corr-shared",
                metadata={"owner": owner, "region": "eu"},
            )
            for i in range(5)
        ]

    with client(service, a) as ca, client(service, b) as cb:
        a_events, b_events = events("a"), events("b")
        post_batch(ca, a_events)
        post_batch(cb, b_events)
        wait_ids(ca, [e["audit_id"] for e in a_events])
        wait_ids(cb, [e["audit_id"] for e in b_events])
    return Pair(a, b, [e["audit_id"] for e in a_events], [e["audit_id"] for e in b_events])


def test_search_shows_only_the_callers_tenant(service: LocalService, pair: Pair) -> None:
    with client(service, pair.b, ["audit_reader"]) as b:
        for params in ({}, {"user_id": "alice"}, {"correlation_id": "corr-shared"}, {"metadata.owner": "a"}):
            events = search(b, {**params, "page_size": 1000})["events"]
            assert all(e["tenant_id"] == pair.b for e in events), params
            assert all(e["metadata"]["owner"] == "b" for e in events), params
        assert search_ids(b, {"metadata.owner": "a"}) == []
        assert set(search_ids(b)) == set(pair.b_ids)
    with client(service, pair.a, ["audit_reader"]) as a:
        assert set(search_ids(a)) == set(pair.a_ids)


def test_get_of_another_tenants_event_is_not_found(service: LocalService, pair: Pair) -> None:
    only_a = pair.a_ids[1:]
    with client(service, pair.b, ["audit_reader"]) as b:
        for audit_id in only_a:
            assert_error(b.get(f"{EVENTS}/{audit_id}"), 404)
        # The id both tenants used shows each its own event.
        assert b.get(f"{EVENTS}/{pair.b_ids[0]}").json()["metadata"]["owner"] == "b"
    with client(service, pair.a, ["audit_reader"]) as a:
        assert a.get(f"{EVENTS}/{pair.a_ids[0]}").json()["metadata"]["owner"] == "a"


def test_export_shows_only_the_callers_tenant(service: LocalService, pair: Pair) -> None:
    with client(service, pair.b, ["audit_export"]) as b:
        lines = b.get(EXPORT, params={"format": "json"}).content.splitlines()
        csv_text = b.get(EXPORT, params={"format": "csv", "metadata.owner": "a"}).text
    exported = [json.loads(line) for line in lines]
    assert {e["audit_id"] for e in exported} == set(pair.b_ids)
    assert {e["tenant_id"] for e in exported} == {pair.b}
    assert csv_text.strip().count("\n") == 0  # the header only
    assert pair.a not in csv_text


@pytest.mark.parametrize("roles", [["audit_reader"], ["audit_export"], ["audit_writer", "audit_reader"]])
def test_naming_another_tenant_is_forbidden_for_single_tenant_roles(
    service: LocalService, pair: Pair, roles: list[str]
) -> None:
    with client(service, pair.b, roles) as b:
        assert_error(b.get(EVENTS, params={"tenant_id": pair.a}), 403)
        assert_error(b.get(EVENTS, params=[("tenant_id", pair.b), ("tenant_id", pair.a)]), 403)
        assert_error(b.get(f"{EVENTS}/{pair.a_ids[1]}", params={"tenant_id": pair.a}), 403)
        if "audit_export" in roles:
            assert_error(b.get(EXPORT, params={"tenant_id": pair.a}), 403)
        # Naming one's own tenant is allowed.
        assert set(search_ids(b, {"tenant_id": pair.b})) == set(pair.b_ids)


def test_cross_tenant_role_reads_only_the_tenants_it_names(service: LocalService, pair: Pair) -> None:
    """The positive control for the 403s above: the platform's audit_admin may name tenants."""
    with client(service, "auditlog-platform", ["audit_admin"]) as admin:
        assert set(search_ids(admin, {"tenant_id": pair.a})) == set(pair.a_ids)
        both = search(admin, [("tenant_id", pair.a), ("tenant_id", pair.b), ("page_size", "1000")])["events"]
        assert {e["audit_id"] for e in both} == set(pair.a_ids) | set(pair.b_ids)
        got = admin.get(f"{EVENTS}/{pair.a_ids[2]}", params={"tenant_id": pair.a})
        assert got.status_code == 200 and got.json()["tenant_id"] == pair.a
        assert_error(admin.get(f"{EVENTS}/{pair.a_ids[2]}"), 404)  # not in its own tenant
        assert_error(admin.get(EXPORT, params={"tenant_id": pair.a}), 403)  # read, not export


def test_another_tenants_page_token_is_refused(service: LocalService, pair: Pair) -> None:
    with client(service, pair.a, ["audit_reader"]) as a, client(service, pair.b, ["audit_reader"]) as b:
        token = search(a, {"page_size": 2})["next_page_token"]
        assert token
        assert_error(b.get(EVENTS, params={"page_size": 2, "page_token": token}), 400, "page_token")


def test_event_naming_another_tenant_is_refused(service: LocalService) -> None:
    mine, theirs = new_tenant("iso-w"), new_tenant("iso-v")
    foreign_id = str(uuid.uuid4())
    with client(service, mine) as c, client(service, theirs, ["audit_reader"]) as victim:
        single = assert_error(
            c.post(EVENTS, json=event(audit_id=foreign_id, tenant_id=theirs)), 403, "tenant_id"
        )
        assert single["code"] == "permission_denied"

        good = event(audit_id=str(uuid.uuid4()))
        response = c.post(BATCH, json={"events": [good, event(audit_id=foreign_id, tenant_id=theirs)]})
        assert response.status_code == 202, response.text
        answer = response.json()
        assert [r["status"] for r in answer["results"]] == ["accepted", "rejected"]
        assert [e["field"] for e in answer["results"][1]["errors"]] == ["events[1].tenant_id"]

        # Only the good event exists, in the writer's own tenant; none reached the other tenant.
        wait_get(c, good["audit_id"])
        assert search_ids(c) == [good["audit_id"]]
        assert_error(c.get(f"{EVENTS}/{foreign_id}"), 404)
        assert search_ids(victim) == []
        assert_error(victim.get(f"{EVENTS}/{foreign_id}"), 404)
        # The refused id was not registered either: it can still be used.
        assert post_one(c, event(audit_id=foreign_id))["status"] == "accepted"
