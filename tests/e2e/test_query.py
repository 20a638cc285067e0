"""Searching: every filter alone and combined, time bounds, keyset paging, get by id.

Expected answers come from an oracle: the events the test wrote, filtered and ordered in Python
(newest first, ties by audit_id, descending).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import LocalService, wait_for
from tests.e2e.helpers import (
    EVENTS,
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
    z,
)

pytestmark = pytest.mark.e2e

FILTER_COLUMNS = (
    "user_id",
    "event_type",
    "resource_type",
    "resource_id",
    "action",
    "status",
    "service_name",
    "correlation_id",
    "session_id",
)


@dataclass
class Dataset:
    tenant: str
    events: list[dict[str, Any]]  # as sent, plus "_ts" (aware datetime)

    def ordered(self, events: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        chosen = self.events if events is None else events
        return sorted(chosen, key=lambda e: (e["_ts"], e["audit_id"]), reverse=True)

    def expect(self, params: list[tuple[str, str]]) -> list[str]:
        return [e["audit_id"] for e in self.ordered() if _matches(e, params)]


def _as_text(value: Any) -> str | None:
    """How a metadata value compares: as text (JSON text for numbers and booleans)."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _matches(e: dict[str, Any], params: list[tuple[str, str]]) -> bool:
    wanted: dict[str, set[str]] = {}
    for name, value in params:
        wanted.setdefault(name, set()).add(value)
    for name, values in wanted.items():
        if name == "start_time":
            if e["_ts"] < datetime.fromisoformat(next(iter(values))):
                return False
        elif name == "end_time":
            if e["_ts"] >= datetime.fromisoformat(next(iter(values))):
                return False
        elif name == "tenant_id":
            continue
        elif name.startswith("metadata."):
            node: Any = e.get("metadata")
            for part in name.removeprefix("metadata.").split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if _as_text(node) not in values:
                return False
        elif e.get(name) not in values:
            return False
    return True


@pytest.fixture(scope="module")
def dataset(service: LocalService) -> Dataset:
    """24 varied events an hour ago, in pairs sharing a timestamp, in a tenant of their own."""
    tenant = new_tenant("query")
    base = utc(-timedelta(hours=1), micro=500000)
    events: list[dict[str, Any]] = []
    for i in range(24):
        ts = base - timedelta(seconds=i // 2)
        metadata = (
            None
            if i % 7 == 6
            else {
                "region": ["eu", "us"][i % 2],
                "geo": {"country": ["DE", "FR", "US"][i % 3], "zone": {"id": f"z{i % 4}"}},
                "n": i % 4,
                "flag": i % 5 == 0,
            }
        )
        events.append(
            event(
                audit_id=str(uuid.uuid4()),
                timestamp=rfc3339(ts, timedelta(hours=(i % 3) - 1)),
                user_id=["alice", "bob", "carol"][i % 3],
                event_type=["user.login", "user.logout", "invoice.update", "invoice.read"][i % 4],
                resource_type=["session", "invoice"][i % 2],
                resource_id=["r-1", "r-2", None][i % 3],
                action=["create", "delete", "update", "read", "export"][i % 5],
                status=["success", "failure", "denied"][i % 3 if i % 2 else 0],
                service_name=["api", "worker", None][(i // 3) % 3],
                correlation_id=f"corr-{i % 4}",
                session_id=None if i % 5 == 4 else f"sess-{i % 5}",
                metadata=metadata,
                _ts=ts,
            )
        )
    with client(service, tenant) as c:
        post_batch(c, [{k: v for k, v in e.items() if k != "_ts"} for e in events])
        wait_ids(c, [e["audit_id"] for e in events])
    return Dataset(tenant, events)


FILTER_CASES: list[list[tuple[str, str]]] = [
    [("user_id", "alice")],
    [("event_type", "invoice.update")],
    [("resource_type", "invoice")],
    [("resource_id", "r-2")],
    [("action", "delete")],
    [("status", "failure")],
    [("service_name", "worker")],
    [("correlation_id", "corr-3")],
    [("session_id", "sess-1")],
    [("metadata.region", "eu")],
    [("metadata.geo.country", "FR")],
    [("metadata.geo.zone.id", "z3")],
    [("metadata.n", "2")],
    [("metadata.flag", "true")],
    # several values for one filter: any of them
    [("user_id", "alice"), ("user_id", "carol")],
    [("action", "create"), ("action", "update"), ("action", "export")],
    [("metadata.geo.country", "DE"), ("metadata.geo.country", "US")],
    # filters combined: all of them
    [("user_id", "bob"), ("resource_type", "session")],
    [("status", "failure"), ("status", "denied"), ("metadata.region", "us")],
    [("event_type", "user.login"), ("event_type", "invoice.update"), ("user_id", "carol")],
    [("metadata.region", "eu"), ("metadata.geo.country", "FR"), ("correlation_id", "corr-2")],
    [("service_name", "api"), ("session_id", "sess-0"), ("session_id", "sess-2")],
]


@pytest.mark.parametrize("params", FILTER_CASES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p))
def test_filter_returns_exactly_the_matching_events(
    service: LocalService, dataset: Dataset, params: list[tuple[str, str]]
) -> None:
    expected = dataset.expect(params)
    assert expected, "the case must match something"
    assert len(expected) < len(dataset.events), "the case must filter something out"
    with client(service, dataset.tenant, ["audit_reader"]) as c:
        assert search_ids(c, params) == expected


@pytest.mark.parametrize(
    "params",
    [
        [("user_id", "nobody")],
        [("user_id", "Alice")],  # values compare exactly
        [("metadata.missing", "x")],
        [("metadata.geo", "DE")],  # an object is not its member
        [("user_id", "alice"), ("resource_id", "r-2")],  # each matches, never together
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p),
)
def test_filter_matching_nothing_returns_an_empty_page(
    service: LocalService, dataset: Dataset, params: list[tuple[str, str]]
) -> None:
    assert dataset.expect(params) == []
    with client(service, dataset.tenant, ["audit_reader"]) as c:
        page = search(c, params)
    assert page == {"events": [], "next_page_token": None}


def test_no_filter_returns_everything_newest_first_ties_by_audit_id(
    service: LocalService, dataset: Dataset
) -> None:
    with client(service, dataset.tenant, ["audit_reader"]) as c:
        events = search(c)["events"]
        assert [e["audit_id"] for e in events] == dataset.expect([])
        # Naming one's own tenant changes nothing.
        assert search_ids(c, [("tenant_id", dataset.tenant)]) == dataset.expect([])
    keys = [(e["timestamp"], e["audit_id"]) for e in events]
    assert keys == sorted(keys, reverse=True)
    assert len({e["timestamp"] for e in events}) == 12  # the pairs really tie


def test_every_filter_column_is_accepted(service: LocalService, dataset: Dataset) -> None:
    sample = dataset.events[1]
    with client(service, dataset.tenant, ["audit_reader"]) as c:
        for column in FILTER_COLUMNS:
            params = [(column, sample[column])]
            ids = search_ids(c, params)
            assert sample["audit_id"] in ids, column
            assert ids == dataset.expect(params), column


def _group_ts(dataset: Dataset, group: int) -> datetime:
    value: datetime = dataset.events[2 * group]["_ts"]
    return value


def test_start_time_is_inclusive_and_end_time_exclusive(service: LocalService, dataset: Dataset) -> None:
    g3 = _group_ts(dataset, 3)
    g6 = _group_ts(dataset, 6)
    one_us = timedelta(microseconds=1)
    cases: list[tuple[list[tuple[str, str]], int]] = [
        ([("start_time", rfc3339(g3))], 8),  # groups 0..3, both members of group 3
        ([("start_time", rfc3339(g3 + one_us))], 6),
        ([("end_time", rfc3339(g3))], 16),  # groups 4..11
        ([("end_time", rfc3339(g3 + one_us))], 18),
        ([("start_time", rfc3339(g6)), ("end_time", rfc3339(g3))], 6),  # groups 4, 5, 6
        # The same instants written with other offsets.
        (
            [("start_time", rfc3339(g6, timedelta(hours=9))), ("end_time", rfc3339(g3, -timedelta(hours=7)))],
            6,
        ),
        ([("start_time", rfc3339(g3)), ("end_time", rfc3339(g3 + one_us))], 2),
        ([("start_time", rfc3339(g3)), ("end_time", rfc3339(g3 + one_us)), ("user_id", "alice")], 1),
    ]
    with client(service, dataset.tenant, ["audit_reader"]) as c:
        for params, count in cases:
            expected = dataset.expect([(k, v) for k, v in params])
            assert len(expected) == count, params
            assert search_ids(c, params) == expected, params


def test_default_window_is_the_last_30_days(service: LocalService) -> None:
    recent = event(audit_id=str(uuid.uuid4()))
    old_ts = utc(-timedelta(days=40))
    old = event(audit_id=str(uuid.uuid4()), timestamp=rfc3339(old_ts))
    future = event(audit_id=str(uuid.uuid4()), timestamp=rfc3339(utc(timedelta(minutes=2))))
    with client(service, new_tenant("window")) as c:
        post_batch(c, [recent, old, future])
        wide = {"start_time": rfc3339(old_ts - timedelta(days=1))}
        wait_ids(c, [recent["audit_id"], old["audit_id"], future["audit_id"]], wide)
        # Events up to five minutes ahead are accepted and visible by default.
        assert search_ids(c) == [future["audit_id"], recent["audit_id"]]
        assert search_ids(c, wide) == [future["audit_id"], recent["audit_id"], old["audit_id"]]
        assert search_ids(c, {"end_time": rfc3339(utc(-timedelta(days=39)))}) == [old["audit_id"]]


# -- paging ------------------------------------------------------------------------------------


def _walk(c: httpx.Client, params: list[tuple[str, str]], page_size: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    token: str | None = None
    while True:
        query = [*params, ("page_size", str(page_size))]
        if token:
            query.append(("page_token", token))
        page = search(c, query)
        assert len(page["events"]) <= page_size
        pages.append(page["events"])
        token = page["next_page_token"]
        if token is None:
            return pages
        assert len(page["events"]) == page_size, "a page with a next token is full"
        assert len(pages) < 100, "paging does not end"


def test_paging_walks_every_event_once_in_order(service: LocalService) -> None:
    base = utc(-timedelta(hours=2), micro=0)
    # 25 events, in groups of three sharing a timestamp: ties are broken by audit_id.
    events = [
        event(
            audit_id=str(uuid.uuid4()), timestamp=rfc3339(base - timedelta(seconds=i // 3)), user_id=f"u{i}"
        )
        for i in range(25)
    ]
    ts_of = {e["audit_id"]: base - timedelta(seconds=i // 3) for i, e in enumerate(events)}
    expected = [a for _, a in sorted(((ts_of[a], a) for a in ts_of), reverse=True)]
    with client(service, new_tenant("paging")) as c:
        post_batch(c, events)
        wait_ids(c, expected)
        assert search_ids(c, {"page_size": 1000}) == expected
        for size in (1, 3, 4, 5, 24, 25, 26):
            pages = _walk(c, [], size)
            walked = [e["audit_id"] for page in pages for e in page]
            assert walked == expected, size
            full = -(-25 // size)
            # When the events fill the last page exactly, one more (empty) page may follow.
            assert len(pages) == full or (len(pages) == full + 1 and pages[-1] == []), size
        # With a filter, the pages cover exactly the filtered events.
        even_users = [("user_id", f"u{i}") for i in range(0, 25, 2)]
        user_of = {e["audit_id"]: e["user_id"] for e in events}
        filtered = [a for a in expected if int(user_of[a][1:]) % 2 == 0]
        assert [e["audit_id"] for p in _walk(c, even_users, 2) for e in p] == filtered


def test_page_size_defaults_to_100_and_allows_1000(service: LocalService) -> None:
    events = [event(audit_id=str(uuid.uuid4()), user_id=f"u{i}") for i in range(150)]
    with client(service, new_tenant("paging")) as c:
        post_batch(c, events)
        wait_ids(c, [e["audit_id"] for e in events])
        first = search(c)
        assert len(first["events"]) == 100 and first["next_page_token"]
        second = search(c, {"page_token": first["next_page_token"]})
        assert len(second["events"]) == 50 and second["next_page_token"] is None
        everything = search(c, {"page_size": 1000})
        assert len(everything["events"]) == 150 and everything["next_page_token"] is None
        assert [e["audit_id"] for e in first["events"] + second["events"]] == [
            e["audit_id"] for e in everything["events"]
        ]


def test_paging_while_events_arrive_neither_skips_nor_repeats(service: LocalService) -> None:
    base = utc(-timedelta(hours=1), micro=0)
    originals = [
        event(audit_id=str(uuid.uuid4()), timestamp=rfc3339(base - timedelta(seconds=i)), user_id="orig")
        for i in range(30)
    ]
    original_ids = [e["audit_id"] for e in originals]  # already newest first
    with client(service, new_tenant("paging")) as c:
        post_batch(c, originals)
        wait_ids(c, original_ids)

        first = search(c, {"page_size": 7})
        seen = [e["audit_id"] for e in first["events"]]
        assert seen == original_ids[:7]
        cursor_ts = base - timedelta(seconds=6)  # the last row of page one
        token = first["next_page_token"]

        newer = event(timestamp=rfc3339(utc(-timedelta(minutes=1))), user_id="newer")
        tie_before = event(audit_id="ffffffff-ffff-4fff-bfff-ffffffffffff", timestamp=rfc3339(cursor_ts))
        tie_after = event(audit_id="00000000-0000-4000-8000-000000000001", timestamp=rfc3339(cursor_ts))
        between = event(timestamp=rfc3339(base - timedelta(seconds=15, milliseconds=500)), user_id="between")
        older = event(timestamp=rfc3339(base - timedelta(minutes=5)), user_id="older")
        answer = post_batch(c, [newer, tie_before, tie_after, between, older])
        newer_id, tie_before_id, tie_after_id, between_id, older_id = (
            r["audit_id"] for r in answer["results"]
        )
        assert tie_after_id < original_ids[6] < tie_before_id
        wait_ids(c, [newer_id, tie_before_id, tie_after_id, between_id, older_id])

        pages = 1
        late: str | None = None
        while token:
            page = search(c, {"page_size": 7, "page_token": token})
            seen += [e["audit_id"] for e in page["events"]]
            token = page["next_page_token"]
            pages += 1
            if pages == 3 and late is None:
                # One more arrival, older than the cursor, in the middle of the walk.
                late = post_one(c, event(timestamp=rfc3339(base - timedelta(minutes=10)), user_id="late"))[
                    "audit_id"
                ]
                wait_ids(c, [late])

    assert len(seen) == len(set(seen)), "an event was returned twice"
    assert set(original_ids) <= set(seen), "an event that existed when paging started was skipped"
    assert [a for a in seen if a in set(original_ids)] == original_ids
    # Arrivals ahead of the cursor are not shown; those behind it are, in their place.
    assert newer_id not in seen and tie_before_id not in seen
    assert seen.index(tie_after_id) == 7
    assert seen.index(original_ids[15]) < seen.index(between_id) < seen.index(original_ids[16])
    assert seen[-2:] == [older_id, late]


# -- get by id ---------------------------------------------------------------------------------


def test_get_by_id(service: LocalService) -> None:
    tenant = new_tenant("get")
    happened = utc(-timedelta(minutes=30), micro=654321)
    with client(service, tenant) as c, client(service, tenant, ["audit_reader"]) as reader:
        audit_id = post_one(c, event(timestamp=rfc3339(happened), user_id="getter"))["audit_id"]
        got = wait_get(reader, audit_id)
        assert got["audit_id"] == audit_id
        assert got["user_id"] == "getter"
        assert got["timestamp"] == z(happened)
        # An id in upper case is the same id.
        upper = reader.get(f"{EVENTS}/{audit_id.upper()}")
        assert upper.status_code == 200 and upper.json() == got


def test_get_unknown_id_is_404(service: LocalService) -> None:
    with client(service, new_tenant("get"), ["audit_reader"]) as c:
        error = assert_error(c.get(f"{EVENTS}/{uuid.uuid4()}"), 404)
    assert error["code"] == "not_found"


def test_get_another_tenants_event_is_404_not_403(service: LocalService) -> None:
    with client(service, new_tenant("get-a")) as a, client(service, new_tenant("get-b")) as b:
        audit_id = post_one(a, event())["audit_id"]
        wait_get(a, audit_id)
        error = assert_error(b.get(f"{EVENTS}/{audit_id}"), 404)
        assert error["code"] == "not_found"
        # Same answer as for an id that exists nowhere, so existence does not leak.
        unknown = assert_error(b.get(f"{EVENTS}/{uuid.uuid4()}"), 404)
        assert unknown["details"] == error["details"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "12345",
        "0123456789abcdef0123456789abcdef",
        "{01234567-89ab-cdef-0123-456789abcdef}",
        "01234567-89ab-cdef-0123-456789abcdeg",
        "01234567-89ab-cdef-0123-456789abcdef0",
    ],
)
def test_get_malformed_id_is_400(service: LocalService, bad_id: str) -> None:
    with client(service, new_tenant("get"), ["audit_reader"]) as c:
        assert_error(c.get(f"{EVENTS}/{bad_id}"), 400, "audit_id")


def test_get_refuses_unknown_query_parameters(service: LocalService) -> None:
    with client(service, new_tenant("get"), ["audit_reader"]) as c:
        assert_error(c.get(f"{EVENTS}/{uuid.uuid4()}", params={"verbose": "1"}), 400, "verbose")


def test_search_answer_shape(service: LocalService, dataset: Dataset) -> None:
    with client(service, dataset.tenant, ["audit_reader"]) as c:
        response = c.get(EVENTS, params={"page_size": 2})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    page = response.json()
    assert set(page) == {"events", "next_page_token"}
    assert isinstance(page["next_page_token"], str)
    for e in page["events"]:
        assert e["tenant_id"] == dataset.tenant
        assert datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_metadata_filter_in_the_documented_deep_object_form(service: LocalService) -> None:
    """OpenAPI describes `metadata` as a deepObject (`metadata[key]=value`); the dotted form the
    README shows works too, and both select the same events."""
    tenant = f"deep-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, ["audit_writer", "audit_reader"]) as client:
        events = [
            {
                "timestamp": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "event_type": "x",
                "user_id": "u",
                "resource_type": "r",
                "action": "a",
                "metadata": {"geo": {"region": region}},
            }
            for region in ("eu", "us", "eu")
        ]
        assert client.post("/api/v1/audit/events/batch", json={"events": events}).status_code == 202
        deep = wait_for(
            lambda: (
                len(
                    r := client.get("/api/v1/audit/events", params={"metadata[geo.region]": "eu"}).json()[
                        "events"
                    ]
                )
                == 2
                and r
            )
        )
        dotted = client.get("/api/v1/audit/events", params={"metadata.geo.region": "eu"}).json()["events"]
        assert sorted(e["audit_id"] for e in deep) == sorted(e["audit_id"] for e in dotted)
