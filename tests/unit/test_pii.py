"""PII protection at ingest: every action on top-level fields and JSON paths, tenant keys.

Keys live in the real ``SqliteStateStore`` on a temporary file (fast, and the same
create-if-absent the service relies on); Firestore has its own tests in the integration layer.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditlog.backends.embedded.sqlite_state import SqliteStateStore
from auditlog.ingest.pii import COLLECTION, HASH_PREFIX, MASK, PiiProtector, TenantSecrets
from auditlog.ingest.subjects import SubjectKeys
from auditlog.model.event import StoredEvent
from auditlog.model.policy import PiiRule
from auditlog.ports.state import Document

pytestmark = pytest.mark.unit

EMAIL = "alice@example.com"
TOP_LEVEL = ("user_id", "session_id", "ip_address", "user_agent", "resource_id", "correlation_id")
COLUMNS = ("request_data", "response_data", "metadata")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStateStore]:
    state = SqliteStateStore(tmp_path / "state.sqlite3")
    yield state
    state.close()


@pytest.fixture
def protector(store: SqliteStateStore) -> PiiProtector:
    return PiiProtector(TenantSecrets(store), SubjectKeys(store))


def record(**overrides: Any) -> StoredEvent:
    row: dict[str, Any] = {
        "audit_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b",
        "timestamp": "2026-11-26T10:00:00.000000Z",
        "event_type": "user.login",
        "user_id": "alice",
        "session_id": "s-1",
        "ip_address": "203.0.113.7",
        "user_agent": "curl/8.0",
        "resource_type": "session",
        "resource_id": "r-1",
        "action": "create",
        "status": "success",
        "request_data": None,
        "response_data": None,
        "metadata": None,
        "tenant_id": "acme",
        "service_name": "web",
        "correlation_id": "c-1",
        "retention_period_days": 90,
        "created_at": "2026-11-26T10:00:01.000000Z",
        "partition_date": "2026-11-26",
    }
    for name, value in overrides.items():
        row[name] = orjson.dumps(value).decode() if name in COLUMNS and value is not None else value
    return row  # type: ignore[return-value]


def rules(*pairs: tuple[str, str]) -> list[PiiRule]:
    return [PiiRule.model_validate({"field": field, "action": action}) for field, action in pairs]


def column(row: StoredEvent, name: str) -> Any:
    text = row[name]  # type: ignore[literal-required]
    return None if text is None else orjson.loads(text)


def is_hash(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(HASH_PREFIX) and len(value) == len(HASH_PREFIX) + 64


# -- top-level fields ------------------------------------------------------------------------


@pytest.mark.parametrize("field", TOP_LEVEL)
def test_mask_top_level(protector: PiiProtector, field: str) -> None:
    row = protector.protect("acme", rules((field, "mask")), record())
    assert row[field] == MASK  # type: ignore[literal-required]


@pytest.mark.parametrize("field", TOP_LEVEL)
def test_hash_top_level(protector: PiiProtector, field: str) -> None:
    raw = record()[field]  # type: ignore[literal-required]
    row = protector.protect("acme", rules((field, "hash")), record())
    assert is_hash(row[field])  # type: ignore[literal-required]
    assert row[field] == protector.hash_for_search("acme", raw)  # type: ignore[literal-required]


@pytest.mark.parametrize("field", [f for f in TOP_LEVEL if f != "user_id"])
def test_drop_top_level_clears_the_field(protector: PiiProtector, field: str) -> None:
    row = protector.protect("acme", rules((field, "drop")), record())
    assert row[field] is None  # type: ignore[literal-required]


def test_drop_on_the_required_user_id_masks_it(protector: PiiProtector) -> None:
    row = protector.protect("acme", rules(("user_id", "drop")), record())
    assert row["user_id"] == MASK


@pytest.mark.parametrize("action", ["mask", "hash", "drop"])
def test_absent_top_level_field_stays_none(protector: PiiProtector, action: str) -> None:
    row = protector.protect("acme", rules(("session_id", action)), record(session_id=None))
    assert row["session_id"] is None


def test_other_fields_are_untouched(protector: PiiProtector) -> None:
    before = record(metadata={"email": EMAIL, "plan": "pro"})
    row = protector.protect(
        "acme", rules(("ip_address", "hash"), ("metadata.email", "drop")), record(**_columns(before))
    )
    for name, value in before.items():
        if name not in ("ip_address", "metadata"):
            assert row[name] == value, name  # type: ignore[literal-required]
    assert column(row, "metadata") == {"plan": "pro"}


def _columns(row: StoredEvent) -> dict[str, Any]:
    return {name: column(row, name) for name in COLUMNS}


def test_record_is_protected_in_place(protector: PiiProtector) -> None:
    row = record()
    assert protector.protect("acme", rules(("user_id", "mask")), row) is row


# -- paths inside the JSON columns -----------------------------------------------------------


@pytest.mark.parametrize("name", COLUMNS)
def test_each_action_on_a_nested_path(protector: PiiProtector, name: str) -> None:
    data = {"customer": {"email": EMAIL, "phone": "+1 555 0100", "name": "Alice"}, "n": 1}
    row = protector.protect(
        "acme",
        rules(
            (f"{name}.customer.email", "hash"),
            (f"{name}.customer.phone", "mask"),
            (f"{name}.customer.name", "drop"),
        ),
        record(**{name: data}),
    )
    customer = column(row, name)["customer"]
    assert customer == {"email": protector.hash_for_search("acme", EMAIL), "phone": MASK}
    assert column(row, name)["n"] == 1


@pytest.mark.parametrize("value", [42, 3.5, True, False, ["a", "b"], {"b": 1, "a": [1, 2]}, "", "ünïcødé ✓"])
def test_non_string_values_hash_over_their_compact_json(protector: PiiProtector, value: Any) -> None:
    row = protector.protect("acme", rules(("metadata.v", "hash")), record(metadata={"v": value}))
    stored = column(row, "metadata")["v"]
    assert is_hash(stored)
    assert stored == protector.hash_for_search("acme", value)
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    assert stored == protector.hash_for_search("acme", text)


def test_object_key_order_does_not_change_the_hash(protector: PiiProtector) -> None:
    assert protector.hash_for_search("acme", {"a": 1, "b": 2}) == protector.hash_for_search(
        "acme", {"b": 2, "a": 1}
    )


@pytest.mark.parametrize("value", [7, ["x"], {"k": "v"}, False])
def test_mask_replaces_non_string_values(protector: PiiProtector, value: Any) -> None:
    row = protector.protect("acme", rules(("metadata.v", "mask")), record(metadata={"v": value}))
    assert column(row, "metadata") == {"v": MASK}


def test_null_is_left_for_mask_and_hash_and_removed_by_drop(protector: PiiProtector) -> None:
    for action, expected in [("mask", {"v": None}), ("hash", {"v": None}), ("drop", {})]:
        row = protector.protect("acme", rules(("metadata.v", action)), record(metadata={"v": None}))
        assert column(row, "metadata") == expected, action


@pytest.mark.parametrize("action", ["mask", "hash", "drop"])
@pytest.mark.parametrize(
    ("field", "data"),
    [
        ("request_data.customer.email", {"other": 1}),
        ("request_data.customer.email", {"customer": "a string, not an object"}),
        ("request_data.customer.email", {"customer": {"name": "x"}}),
        ("request_data.customer.email", None),
        ("request_data.a.b.c.d.e.f.g", {"a": {"b": 1}}),
    ],
)
def test_missing_paths_are_ignored(protector: PiiProtector, action: str, field: str, data: Any) -> None:
    before = record(request_data=data)
    row = protector.protect("acme", rules((field, action)), record(request_data=data))
    assert row == before


def test_paths_through_lists_cover_every_element(protector: PiiProtector) -> None:
    data = {
        "to": [{"email": EMAIL}, {"email": "bob@example.com"}, {"name": "no email"}, "text", [{"email": 1}]]
    }
    row = protector.protect("acme", rules(("request_data.to.email", "mask")), record(request_data=data))
    assert column(row, "request_data") == {
        "to": [{"email": MASK}, {"email": MASK}, {"name": "no email"}, "text", [{"email": MASK}]]
    }


def test_unchanged_json_text_is_kept_as_is(protector: PiiProtector) -> None:
    text = '{"a":1,"b":{"c":2.5}}'
    row = record()
    row["metadata"] = text
    protector.protect("acme", rules(("metadata.b.x", "mask")), row)
    assert row["metadata"] is text


def test_rules_apply_in_policy_order(protector: PiiProtector) -> None:
    data = {"customer": {"email": EMAIL}}
    row = protector.protect(
        "acme",
        rules(("metadata.customer.email", "hash"), ("metadata.customer", "mask")),
        record(metadata=data),
    )
    assert column(row, "metadata") == {"customer": MASK}
    row = protector.protect(
        "acme",
        rules(("metadata.customer.email", "drop"), ("metadata.customer", "hash")),
        record(metadata=data),
    )
    assert column(row, "metadata")["customer"] == protector.hash_for_search("acme", {})


def test_no_rules_leaves_the_record_alone(store: SqliteStateStore, protector: PiiProtector) -> None:
    row = record(metadata={"email": EMAIL})
    assert protector.protect("acme", [], row) == record(metadata={"email": EMAIL})
    assert store.list(COLLECTION) == []


def test_mask_and_drop_rules_create_no_key(store: SqliteStateStore, protector: PiiProtector) -> None:
    protector.protect("acme", rules(("user_id", "mask"), ("metadata.email", "drop")), record())
    assert store.list(COLLECTION) == []


def test_compiled_rules_are_reused(protector: PiiProtector) -> None:
    first = rules(("user_id", "hash"), ("metadata.email", "mask"))
    protector.protect("acme", first, record())
    protector.protect("acme", rules(("user_id", "hash"), ("metadata.email", "mask")), record())
    assert len(protector._plans) == 1
    protector.protect("acme", rules(("user_id", "mask")), record())
    assert len(protector._plans) == 2


# -- the raw value appears nowhere afterwards ------------------------------------------------

SECRET = "alice.secret@example.com"
CARD = 4111111111111111  # a non-string value: its JSON text must not survive either


@pytest.mark.parametrize("action", ["mask", "hash", "drop"])
@pytest.mark.parametrize(
    "field",
    [*TOP_LEVEL, *(f"{c}.contact.email" for c in COLUMNS), "metadata.list.email", "metadata.card"],
)
def test_raw_value_is_gone_from_the_serialised_record(
    protector: PiiProtector, field: str, action: str
) -> None:
    top = {name: SECRET for name in TOP_LEVEL if name == field}
    data: dict[str, Any] = {c: {"contact": {"email": SECRET}} for c in COLUMNS if field.startswith(c + ".")}
    if field == "metadata.list.email":
        data = {"metadata": {"list": [{"email": SECRET}, {"email": SECRET}]}}
    if field == "metadata.card":
        data = {"metadata": {"card": {"number": CARD, "holder": SECRET}}}
    row = record(**top, **data)
    assert SECRET.encode() in orjson.dumps(row)
    protector.protect("acme", rules((field, action)), row)
    serialised = orjson.dumps(row)
    assert SECRET.encode() not in serialised
    assert str(CARD).encode() not in serialised


# -- hashes and tenant keys ------------------------------------------------------------------


def test_equal_values_hash_equal_within_a_tenant_and_differ_across(protector: PiiProtector) -> None:
    one = protector.protect("acme", rules(("ip_address", "hash")), record())["ip_address"]
    two = protector.protect("acme", rules(("ip_address", "hash")), record())["ip_address"]
    other = protector.protect("globex", rules(("ip_address", "hash")), record())["ip_address"]
    different = protector.protect("acme", rules(("ip_address", "hash")), record(ip_address="203.0.113.8"))
    assert one == two
    assert one != other
    assert one != different["ip_address"]


def test_hash_is_hmac_sha256_under_the_stored_key(store: SqliteStateStore, protector: PiiProtector) -> None:
    import hashlib
    import hmac

    stored = protector.hash_for_search("acme", EMAIL)
    document = store.get(COLLECTION, "acme")
    assert document is not None
    key = base64.b64decode(document["key"])
    assert len(key) == 32
    assert stored == HASH_PREFIX + hmac.new(key, EMAIL.encode(), hashlib.sha256).hexdigest()


def test_keys_persist_across_instances(store: SqliteStateStore, tmp_path: Path) -> None:
    first = PiiProtector(TenantSecrets(store), SubjectKeys(store)).hash_for_search("acme", EMAIL)
    assert PiiProtector(TenantSecrets(store), SubjectKeys(store)).hash_for_search("acme", EMAIL) == first
    store.close()
    reopened = SqliteStateStore(tmp_path / "state.sqlite3")
    try:
        assert (
            PiiProtector(TenantSecrets(reopened), SubjectKeys(reopened)).hash_for_search("acme", EMAIL)
            == first
        )
    finally:
        reopened.close()


def test_instances_racing_to_create_a_key_agree_on_one(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    SqliteStateStore(path).close()
    barrier = threading.Barrier(8)
    keys: list[bytes] = []
    stores: list[SqliteStateStore] = []
    lock = threading.Lock()

    def instance() -> None:
        state = SqliteStateStore(path)  # a connection of its own, like another instance
        with lock:
            stores.append(state)
        secrets = TenantSecrets(state)
        barrier.wait()
        key = secrets.key("acme")
        with lock:
            keys.append(key)

    threads = [threading.Thread(target=instance) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(keys) == 8
        assert len(set(keys)) == 1
        assert len(stores[0].list(COLLECTION)) == 1
    finally:
        for state in stores:
            state.close()


def test_threads_sharing_one_instance_agree_on_one_key(store: SqliteStateStore) -> None:
    protector = PiiProtector(TenantSecrets(store), SubjectKeys(store))
    barrier = threading.Barrier(8)
    hashes: list[str] = []

    def worker() -> None:
        barrier.wait()
        hashes.append(protector.hash_for_search("acme", EMAIL))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(hashes) == 8
    assert len(set(hashes)) == 1


class _LosesTheRace:
    """The state store as seen by an instance that reads "absent" just before another one
    creates the key: its own ``create`` then fails and it must read the winner's back."""

    def __init__(self, state: SqliteStateStore, winner: Document) -> None:
        self._state = state
        self._winner = winner
        self.creates = 0

    def get(self, collection: str, key: str) -> Document | None:
        if self.creates == 0:
            return None
        return self._state.get(collection, key)

    def create(self, collection: str, key: str, document: Document) -> bool:
        self.creates += 1
        self._state.create(collection, key, self._winner)
        return self._state.create(collection, key, document)

    def put(self, collection: str, key: str, document: Document) -> None:
        raise AssertionError("keys are only ever created")

    def delete(self, collection: str, key: str) -> None:
        raise AssertionError("keys are never deleted")

    def list(self, collection: str) -> list[tuple[str, Document]]:
        return self._state.list(collection)

    def close(self) -> None:
        pass


def test_the_loser_of_a_race_reads_back_the_winners_key(store: SqliteStateStore) -> None:
    winner = bytes(range(32))
    racing = _LosesTheRace(store, {"key": base64.b64encode(winner).decode()})
    assert TenantSecrets(racing).key("acme") == winner
    assert racing.creates == 1


@pytest.mark.parametrize(
    "document", [{}, {"key": "not base64!"}, {"key": base64.b64encode(b"short").decode()}]
)
def test_a_malformed_stored_key_is_refused(store: SqliteStateStore, document: Document) -> None:
    store.put(COLLECTION, "acme", document)
    with pytest.raises(RuntimeError, match="32-byte"):
        TenantSecrets(store).key("acme")


def test_the_key_is_read_once_per_process(store: SqliteStateStore) -> None:
    secrets = TenantSecrets(store)
    first = secrets.hmac_base("acme")
    store.put(COLLECTION, "acme", {"key": base64.b64encode(bytes(32)).decode()})
    assert secrets.hmac_base("acme") is first
