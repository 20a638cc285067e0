"""Query-string parsing, tenant scoping and cursors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from auditlog.auth.identity import Principal
from auditlog.errors import Forbidden, InvalidInput
from auditlog.model.cursor import CursorCodec, PageCursor, filter_digest
from auditlog.ports.store import json_path
from auditlog.read.query import ReadLimits, parse_query

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, 12, 0, 0)
LIMITS = ReadLimits(timedelta(days=30), timedelta(days=400), timedelta(minutes=5))
CODEC = CursorCodec(b"k" * 32)
READER = Principal("u", "acme", frozenset({"audit_reader"}))
ADMIN = Principal("a", "auditlog-platform", frozenset({"audit_admin"}), platform=True)
TENANT_AUDITOR = Principal("t", "acme", frozenset({"audit_admin"}))


def parse(params: list[tuple[str, str]], principal: Principal = READER):  # type: ignore[no-untyped-def]
    return parse_query(params, principal=principal, limits=LIMITS, codec=CODEC, now=NOW)


def refused(params: list[tuple[str, str]]) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(params)
    return caught.value.details[0].field


def test_default_window_ends_now_plus_skew_and_spans_the_default() -> None:
    query, _ = parse([])
    assert query.end == NOW + timedelta(minutes=5)
    assert query.start == query.end - timedelta(days=30)
    assert query.tenants == ("acme",)
    assert query.limit == 100


def test_filters_take_several_values_and_metadata_keys() -> None:
    query, _ = parse([("user_id", "a"), ("user_id", "b"), ("metadata.geo.region", "eu"), ("status", "x")])
    assert query.filters == {"user_id": ("a", "b"), "status": ("x",)}
    assert query.metadata == {"geo.region": ("eu",)}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("colour", "red")], "colour"),
        ([("user_id", "")], "user_id"),
        ([("page_size", "0")], "page_size"),
        ([("page_size", "1001")], "page_size"),
        ([("page_size", "ten")], "page_size"),
        ([("page_size", "-1")], "page_size"),
        ([("start_time", "yesterday")], "start_time"),
        ([("start_time", "2026-11-26T00:00:00Z"), ("end_time", "2026-11-25T00:00:00Z")], "start_time"),
        ([("start_time", "2024-01-01T00:00:00Z"), ("end_time", "2026-01-01T00:00:00Z")], "start_time"),
        ([("metadata.", "x")], "metadata."),
        ([("metadata.a b", "x")], "metadata.a b"),
        ([("start_time", "2026-11-20T00:00:00Z"), ("start_time", "2026-11-21T00:00:00Z")], "start_time"),
        ([("page_token", "garbage")], "page_token"),
    ],
)
def test_bad_parameters_name_the_field(params: list[tuple[str, str]], field: str) -> None:
    assert refused(params) == field


def test_explicit_window_is_used_as_given() -> None:
    query, _ = parse([("start_time", "2026-11-01T00:00:00Z"), ("end_time", "2026-11-02T00:00:00+01:00")])
    assert query.start == datetime(2026, 11, 1)
    assert query.end == datetime(2026, 11, 1, 23, 0)


def test_reader_may_name_only_its_own_tenant() -> None:
    assert parse([("tenant_id", "acme")])[0].tenants == ("acme",)
    with pytest.raises(Forbidden):
        parse([("tenant_id", "globex")])


def test_cross_tenant_role_chooses_tenants_explicitly() -> None:
    assert parse([("tenant_id", "globex"), ("tenant_id", "initech")], ADMIN)[0].tenants == (
        "globex",
        "initech",
    )
    assert parse([], ADMIN)[0].tenants == ("auditlog-platform",)


def test_an_audit_admin_of_a_customer_tenant_reads_only_its_own_tenant() -> None:
    assert parse([], TENANT_AUDITOR)[0].tenants == ("acme",)
    with pytest.raises(Forbidden):
        parse([("tenant_id", "globex")], TENANT_AUDITOR)
    assert parse([("include_self_audit", "true")], TENANT_AUDITOR)[0].include_self_audit


def test_one_read_names_at_most_20_tenants_and_20_metadata_keys() -> None:
    many = [("tenant_id", f"t{i}") for i in range(21)]
    with pytest.raises(InvalidInput) as tenants:
        parse(many, ADMIN)
    assert tenants.value.details[0].field == "tenant_id" and "20" in tenants.value.details[0].problem
    assert len(parse(many[:20], ADMIN)[0].tenants) == 20
    keys = [(f"metadata.k{i}", "v") for i in range(21)]
    assert refused(keys) == "metadata"
    assert len(parse(keys[:20])[0].metadata) == 20


def test_a_metadata_key_with_a_trailing_newline_is_refused() -> None:
    assert refused([("metadata.region\n", "eu")]) == "metadata.region\n"


def test_cursor_round_trips_and_pins_the_window() -> None:
    first, digest = parse([("user_id", "a")])
    token = CODEC.encode(
        PageCursor(datetime(2026, 11, 20, 1, 2, 3, 4), "id-1", first.start, first.end, digest)
    )
    later = NOW + timedelta(hours=1)
    query, _ = parse_query(
        [("user_id", "a"), ("page_token", token)], principal=READER, limits=LIMITS, codec=CODEC, now=later
    )
    assert query.after == (datetime(2026, 11, 20, 1, 2, 3, 4), "id-1")
    assert (query.start, query.end) == (first.start, first.end)


def test_cursor_with_other_filters_or_tampered_is_refused() -> None:
    first, digest = parse([("user_id", "a")])
    token = CODEC.encode(PageCursor(NOW, "id-1", first.start, first.end, digest))
    with pytest.raises(InvalidInput, match="other filters"):
        parse([("user_id", "b"), ("page_token", token)])
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(InvalidInput, match="not valid"):
        parse([("user_id", "a"), ("page_token", tampered)])
    other_key = CursorCodec(b"x" * 32).encode(PageCursor(NOW, "id-1", first.start, first.end, digest))
    with pytest.raises(InvalidInput, match="not valid"):
        parse([("user_id", "a"), ("page_token", other_key)])


def test_cursor_of_one_tenant_does_not_serve_another() -> None:
    _, digest_reader = parse([])
    _, digest_admin = parse([("tenant_id", "globex")], ADMIN)
    assert digest_reader != digest_admin


def test_filter_digest_ignores_order() -> None:
    assert filter_digest([("a", "1"), ("b", "2")]) == filter_digest([("b", "2"), ("a", "1")])


def test_json_path_quotes_every_key() -> None:
    assert json_path("a.b") == '$."a"."b"'
    assert json_path('x"y') == '$."x\\"y"'
