"""The ocsf and cef renderings of a committed record, each checked by a library we did not write.

OCSF: every event is validated against the JSON Schema (draft 2020-12, with the ``jsonschema``
package) that ``ocsf-json-schema`` generates from the OCSF 1.8.0 schema it ships, for the event's
class with no profile: required attributes, types, enum values, the classes' and objects'
at-least-one constraints, and no attribute the class does not define (``additionalProperties``
is false everywhere but in ``unmapped``). The same shipped schema data then checks what JSON
Schema cannot: ``type_uid`` is ``class_uid * 100 + activity_id`` and every caption (class,
category, activity, type, severity, status) is the one the schema gives for its id.

CEF: every line is parsed back with ``cefp``, an independent parser that undoes the escapes
(``pycef`` does not: it splits the header on ``\\|`` and keeps escapes in values).

Both packages are in requirements-dev.txt; without them the tests that need them skip, except
under CI=true, where they fail.
"""

from __future__ import annotations

import calendar
import importlib
import os
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from auditlog import __version__
from auditlog.ingest.subjects import seal
from auditlog.ledger.leaves import event_leaf_hash
from auditlog.model.event import COLUMNS
from auditlog.streams.formats import render
from auditlog.streams.formats.cef import to_cef
from auditlog.streams.formats.ocsf import OCSF_VERSION, activity, epoch_millis, ocsf_class, to_ocsf
from auditlog.streams.model import Format

pytestmark = pytest.mark.unit

AUDIT_ID = "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
SEALED_IP = seal(bytes(32), "acme", "zoë", "198.51.100.9")
SEALED_AGENT = seal(bytes(32), "acme", "zoë", "Mozilla/5.0 (X11; Linux x86_64)")
HASHED_EMAIL = "hmac-sha256:" + "5e" * 32
NOON = calendar.timegm((2026, 11, 26, 12, 0, 0)) * 1000  # the records' time, in ms, less 123


def record(**overrides: Any) -> dict[str, Any]:
    """A committed record: the required columns set, every other None unless overridden."""
    base: dict[str, Any] = dict.fromkeys(COLUMNS)
    base.update(
        audit_id=AUDIT_ID,
        timestamp="2026-11-26T12:00:00.123456Z",
        event_type="invoice.update",
        action="update",
        status="success",
        tenant_id="acme",
        created_at="2026-11-26T12:00:01.500000Z",
    )
    base.update(overrides)
    return base


def delivery(rec: dict[str, Any], leaf_index: int = 41) -> dict[str, Any]:
    """What a stream delivers beside each event, with the record's real leaf hash."""
    return {
        "tenant_id": rec["tenant_id"],
        "audit_id": rec["audit_id"],
        "leaf_index": leaf_index,
        "leaf_hash": event_leaf_hash(rec).hex(),
    }


LOGIN = record(
    event_type="user.login",
    action="create",
    user_id="alice",
    session_id="sess-1",
    ip_address="203.0.113.7",
    user_agent="curl/8.5.0",
    resource_type="session",
    service_name="sso",
    metadata='{"method":"password"}',
    retention_period_days=90,
    partition_date="2026-11-26",
)
LOGOUT_FAILED = record(event_type="auth.logout", action="delete", user_id="alice", status="failure")
USER_CREATED = record(
    event_type="user.create",
    action="create",
    user_id="admin-7",
    ip_address="2001:db8::1",
    resource_type="user",
    resource_id="bob",
    request_data='{"email":"bob@example.com","roles":["viewer"]}',
    response_data='{"id":"bob"}',
    service_name="accounts",
)
ROLE_DENIED = record(
    event_type="role.assign",
    action="update",
    user_id="mallory",
    session_id="sess-9",
    resource_type="role",
    resource_id="admin",
    status="denied",
    correlation_id="req-123",
)
API_CALL_BARE = record()  # every column that may be None is None
API_CALL_FULL = record(
    user_id="alice",
    session_id="sess-1",
    ip_address="203.0.113.7",
    user_agent="auditlog-sdk/0.1",
    resource_type="invoice",
    resource_id="inv-42",
    service_name="billing",
    correlation_id="corr-1",
    request_data='{"amount":12}',
    retention_period_days=365,
    partition_date="2026-11-26",
)
UNICODE_SEALED = record(
    event_type="document.share",
    action="share",
    user_id="zoë",
    ip_address=SEALED_IP,
    user_agent=SEALED_AGENT,
    resource_type="document",
    resource_id="résumé-文档-🔒",
    metadata='{"email":"' + HASHED_EMAIL + '","note":"naïve ☃"}',
    service_name="drive",
)
UNKNOWN_STATUS = record(status="timeout", user_id="alice")

RECORDS = {
    "login success": LOGIN,
    "logout failure": LOGOUT_FAILED,
    "user creation": USER_CREATED,
    "role assignment denied": ROLE_DENIED,
    "api call, optional fields None": API_CALL_BARE,
    "api call, every field": API_CALL_FULL,
    "unicode and ciphertext": UNICODE_SEALED,
    "status outside the three": UNKNOWN_STATUS,
}


def _need(module: str, package: str) -> Any:
    """Import a test dependency; skip without it, except under CI=true, where that fails."""
    try:
        return importlib.import_module(module)
    except ImportError:
        reason = f"{package} is not installed (requirements-dev.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; required under CI=true")
        pytest.skip(reason)


# --- OCSF ------------------------------------------------------------------------------------

OcsfCheck = Callable[[dict[str, Any]], list[str]]


def _caption_problems(schema: dict[str, Any], event: dict[str, Any]) -> list[str]:
    """What JSON Schema cannot check: ids and their sibling captions agree with the schema data."""
    cls = next(c for c in schema["classes"].values() if c["uid"] == event["class_uid"])
    attributes = cls["attributes"]

    pairs = {"class_name": "class_uid", "category_name": "category_uid", "type_name": "type_uid"}
    pairs |= {"severity": "severity_id", "activity_name": "activity_id", "status": "status_id"}
    problems = []
    for name, uid in pairs.items():
        if event[uid] == 99 and name in ("activity_name", "status"):
            continue  # Other: the name is the source's own value
        want = attributes[uid]["enum"].get(str(event[uid]), {}).get("caption")
        if event.get(name) != want:
            problems.append(f"{name} is {event.get(name)!r}, not {want!r}")
    if event["type_uid"] != event["class_uid"] * 100 + event["activity_id"]:
        problems.append(f"type_uid {event['type_uid']} is not class_uid * 100 + activity_id")
    return problems


@pytest.fixture(scope="module")
def ocsf_check() -> OcsfCheck:
    """A function giving every problem the OCSF schema finds in an event (none: valid)."""
    ocsf_json_schema = _need("ocsf_json_schema", "ocsf-json-schema")
    jsonschema = _need("jsonschema", "jsonschema")
    assert OCSF_VERSION in ocsf_json_schema.get_packaged_versions()
    schema = ocsf_json_schema.get_ocsf_schema(version=OCSF_VERSION)
    generator = ocsf_json_schema.OcsfJsonSchemaEmbedded(schema)
    validators: dict[int, Any] = {}

    def check(event: dict[str, Any]) -> list[str]:
        uid = event["class_uid"]
        if uid not in validators:
            class_schema = generator.get_class_schema(generator.lookup_class_name_from_uid(uid), [])
            jsonschema.Draft202012Validator.check_schema(class_schema)
            validators[uid] = jsonschema.Draft202012Validator(class_schema)
        found = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validators[uid].iter_errors(event)
        ]
        return found + _caption_problems(schema, event)

    return check


@pytest.mark.parametrize("name", RECORDS)
def test_each_record_gives_an_event_the_ocsf_schema_accepts(name: str, ocsf_check: OcsfCheck) -> None:
    rec = RECORDS[name]
    event = to_ocsf(rec, delivery(rec))
    assert ocsf_check(event) == []
    assert orjson.loads(orjson.dumps(event)) == event  # plain JSON, nothing lost on the wire
    assert event["metadata"]["version"] == OCSF_VERSION
    sent = delivery(rec, leaf_index=1234567)  # and it carries the delivery fields
    assert {key: to_ocsf(rec, sent)["unmapped"][key] for key in sent} == sent


BROKEN: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("no actor", lambda e: {k: v for k, v in e.items() if k != "actor"}, "'actor' is a required property"),
    ("status_id outside its enum", lambda e: {**e, "status_id": 7}, "7 is not one of"),
    ("an attribute the class lacks", lambda e: {**e, "tenant_id": "acme"}, "'tenant_id' was unexpected"),
    ("time as text", lambda e: {**e, "time": "2026-11-26T12:00:00Z"}, "is not of type 'integer'"),
    ("an empty endpoint", lambda e: {**e, "src_endpoint": {}}, "src_endpoint: {} is not valid"),
    ("a sealed value as ip", lambda e: {**e, "src_endpoint": {"ip": SEALED_IP}}, "src_endpoint/ip:"),
    ("another activity's name", lambda e: {**e, "activity_name": "Delete"}, "activity_name is 'Delete'"),
    ("type_uid of another activity", lambda e: {**e, "type_uid": 600304}, "type_uid 600304 is not"),
]


@pytest.mark.parametrize(("case", "breaks", "expected"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_the_schema_check_rejects_broken_events(
    case: str, breaks: Callable[[dict[str, Any]], dict[str, Any]], expected: str, ocsf_check: OcsfCheck
) -> None:
    """The check is live: each way of breaking a valid event is reported, for its reason."""
    problems = ocsf_check(breaks(to_ocsf(API_CALL_FULL, delivery(API_CALL_FULL))))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("event_type", "action", "class_uid", "activity_id", "activity_name"),
    [
        ("user.login", "create", 3002, 1, "Logon"),
        ("User.Sign-In", "create", 3002, 1, "Logon"),
        ("auth.logout", "delete", 3002, 2, "Logoff"),
        ("login", "create", 3002, 1, "Logon"),
        ("user.create", "create", 3001, 1, "Create"),
        ("user.password_change", "update", 3001, 3, "Password Change"),
        ("password.reset", "update", 3001, 4, "Password Reset"),
        ("iam.password_reset", "update", 3001, 4, "Password Reset"),
        ("account.disable", "update", 3001, 5, "Disable"),
        ("user.delete", "delete", 3001, 6, "Delete"),
        ("role.assign", "update", 3001, 7, "Attach Policy"),
        ("permission.revoke", "delete", 3001, 8, "Detach Policy"),
        ("mfa.enable", "update", 3001, 10, "MFA Factor Enable"),
        ("credential.rotate", "update", 3001, 99, "update"),
        ("user.update", "rename", 3001, 99, "rename"),
        ("user.view", "read", 6003, 2, "Read"),
        ("roles.list", "read", 6003, 2, "Read"),
        ("invoice.update", "update", 6003, 3, "Update"),
        ("invoice.created", "create", 6003, 1, "Create"),
        ("document.download", "read", 6003, 2, "Read"),
        ("report", "export", 6003, 2, "Read"),
        ("invoice.approve", "approve", 6003, 99, "approve"),
        ("sessions:purge", "delete", 6003, 4, "Delete"),
    ],
)
def test_the_class_and_activity_follow_the_event_type(
    event_type: str, action: str, class_uid: int, activity_id: int, activity_name: str
) -> None:
    cls = ocsf_class(event_type)
    assert (cls.uid, *activity(cls, event_type, action)) == (class_uid, activity_id, activity_name)
    event = to_ocsf(record(event_type=event_type, action=action), delivery(record()))
    assert (event["class_uid"], event["activity_id"], event["type_uid"]) == (
        class_uid,
        activity_id,
        class_uid * 100 + activity_id,
    )
    assert event["category_uid"] == class_uid // 1000


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-11-26T12:00:00.123456Z", NOON + 123),
        ("2026-11-26T12:00:00.999999Z", NOON + 999),
        ("2026-11-26T13:00:00.5+01:00", NOON + 500),
        ("1970-01-01T00:00:00.000999Z", 0),
        ("1969-12-31T23:59:59.999500Z", -1),
    ],
)
def test_time_is_whole_epoch_milliseconds_never_rounded_up(timestamp: str, expected: int) -> None:
    assert epoch_millis(timestamp) == expected
    rec = record(timestamp=timestamp)
    event = to_ocsf(rec, delivery(rec))
    assert event["time"] == expected
    assert event["metadata"]["original_time"] == timestamp
    assert event["metadata"]["logged_time"] == NOON + 1500


def test_an_api_call_maps_to_api_activity_attributes() -> None:
    event = to_ocsf(API_CALL_FULL, delivery(API_CALL_FULL))
    assert event["actor"] == {"user": {"uid": "alice"}, "session": {"uid": "sess-1"}}
    assert event["api"] == {"operation": "update", "service": {"name": "billing"}}
    assert event["resources"] == [{"uid": "inv-42", "type": "invoice"}]
    assert event["src_endpoint"] == {"ip": "203.0.113.7"}
    assert event["http_request"] == {"user_agent": "auditlog-sdk/0.1"}
    assert event["metadata"] == {
        "version": "1.8.0",
        "product": {"name": "auditlog", "vendor_name": "auditlog", "version": __version__},
        "uid": AUDIT_ID,
        "event_code": "invoice.update",
        "original_time": "2026-11-26T12:00:00.123456Z",
        "logged_time": NOON + 1500,
        "tenant_uid": "acme",
        "correlation_uid": "corr-1",
    }
    assert (event["status_id"], event["status"], event["severity_id"]) == (1, "Success", 1)
    assert "status_detail" not in event
    assert event["unmapped"] == {
        "request_data": '{"amount":12}',
        "retention_period_days": 365,
        "partition_date": "2026-11-26",
        **delivery(API_CALL_FULL),
    }


def test_an_api_call_with_nothing_optional_names_the_required_parts_unknown() -> None:
    event = to_ocsf(API_CALL_BARE, delivery(API_CALL_BARE))
    assert event["actor"] == {"user": {"name": "unknown"}}
    assert event["src_endpoint"] == {"name": "unknown"}
    assert event["api"] == {"operation": "update"}
    assert "resources" not in event and "http_request" not in event
    assert "correlation_uid" not in event["metadata"]
    assert event["unmapped"] == delivery(API_CALL_BARE)


def test_a_login_is_authentication_with_the_user_session_and_service() -> None:
    event = to_ocsf(LOGIN, delivery(LOGIN))
    assert event["type_name"] == "Authentication: Logon"
    assert event["user"] == {"uid": "alice"}
    assert event["session"] == {"uid": "sess-1"}
    assert event["service"] == {"name": "sso"}
    assert event["src_endpoint"] == {"ip": "203.0.113.7"}
    assert "actor" not in event and "api" not in event
    assert [event["unmapped"][k] for k in ("action", "resource_type")] == ["create", "session"]
    assert event["unmapped"]["metadata"] == '{"method":"password"}'
    assert "service" in to_ocsf(LOGOUT_FAILED, delivery(LOGOUT_FAILED))  # required: "unknown"


def test_an_account_change_targets_the_resource_and_keeps_the_request() -> None:
    event = to_ocsf(USER_CREATED, delivery(USER_CREATED))
    assert (event["class_uid"], event["activity_name"]) == (3001, "Create")
    assert event["actor"] == {"user": {"uid": "admin-7"}}
    assert event["user"] == {"uid": "bob"}
    assert event["src_endpoint"] == {"ip": "2001:db8::1"}
    unmapped = event["unmapped"]
    assert unmapped["request_data"] == USER_CREATED["request_data"]  # the committed text, as is
    assert unmapped["response_data"] == '{"id":"bob"}'
    assert unmapped["action"] == "create" and unmapped["resource_type"] == "user"
    assert unmapped["service_name"] == "accounts"


def test_denied_is_a_failure_with_detail_denied() -> None:
    event = to_ocsf(ROLE_DENIED, delivery(ROLE_DENIED))
    assert (event["status_id"], event["status"], event["status_detail"]) == (2, "Failure", "denied")
    assert (event["severity_id"], event["severity"]) == (3, "Medium")
    assert event["metadata"]["correlation_uid"] == "req-123"
    failed = to_ocsf(LOGOUT_FAILED, delivery(LOGOUT_FAILED))
    assert (failed["status_id"], failed["severity_id"], "status_detail" in failed) == (2, 2, False)
    other = to_ocsf(UNKNOWN_STATUS, delivery(UNKNOWN_STATUS))
    assert (other["status_id"], other["status"], other["severity_id"]) == (99, "timeout", 0)


def test_sealed_and_unicode_values_are_copied_untouched() -> None:
    event = to_ocsf(UNICODE_SEALED, delivery(UNICODE_SEALED))
    assert event["activity_id"] == 99 and event["activity_name"] == "share"
    assert event["src_endpoint"] == {"name": "unknown"}  # a sealed address is not an IP address
    assert event["unmapped"]["ip_address"] == SEALED_IP
    assert event["http_request"] == {"user_agent": SEALED_AGENT}
    assert event["actor"]["user"] == {"uid": "zoë"}
    assert event["resources"] == [{"uid": "résumé-文档-🔒", "type": "document"}]
    assert event["unmapped"]["metadata"] == UNICODE_SEALED["metadata"]
    assert orjson.loads(orjson.dumps(event))["resources"][0]["uid"] == "résumé-文档-🔒"


def test_render_dispatches_to_the_formats() -> None:
    sent = delivery(LOGIN)
    assert render(Format.OCSF, LOGIN, sent) == to_ocsf(LOGIN, sent)
    assert render(Format.CEF, LOGIN, sent) == to_cef(LOGIN, sent)


# --- CEF -------------------------------------------------------------------------------------


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """The seven header fields after ``CEF:0`` and the extension, unescaped, by ``cefp``."""
    cefp = _need("cefp", "cefp")
    parsed = cefp.parse(line)
    device = parsed["device"]
    header = [device["vendor"], device["product"], device["version"], device["event_class_id"]]
    assert parsed["version"] == "0"
    return [*header, parsed["name"], parsed["severity"]], dict(parsed["extension"])


def test_a_login_as_cef() -> None:
    """The whole line, and what an independent parser reads in it."""
    line = to_cef(LOGIN, delivery(LOGIN))
    assert line == (
        f"CEF:0|auditlog|auditlog|{__version__}|user.login|User login|3|rt={NOON + 123} "
        f"externalId={AUDIT_ID} act=create outcome=success suser=alice suid=alice src=203.0.113.7 "
        "requestClientApplication=curl/8.5.0 destinationServiceName=sso "
        "cs1Label=tenantId cs1=acme cn1Label=leafIndex cn1=41 "
        f"cs2Label=leafHash cs2={delivery(LOGIN)['leaf_hash']} cs3Label=resourceType cs3=session "
        "cs6Label=sessionId cs6=sess-1"
    )
    header, extension = parse_cef(line)
    assert header == ["auditlog", "auditlog", __version__, "user.login", "User login", "3"]
    assert extension["rt"] == str(NOON + 123) and extension["cs6"] == "sess-1"
    assert len(extension) == 19


def test_a_bare_record_as_cef_still_carries_the_delivery_fields() -> None:
    sent = delivery(API_CALL_BARE, leaf_index=0)
    _, extension = parse_cef(to_cef(API_CALL_BARE, sent))
    delivered = ("externalId", "cs1Label", "cs1", "cn1Label", "cn1", "cs2Label", "cs2")
    expected = [AUDIT_ID, "tenantId", "acme", "leafIndex", "0", "leafHash", sent["leaf_hash"]]
    assert [extension.pop(key) for key in delivered] == expected
    assert extension == {"rt": str(NOON + 123), "act": "update", "outcome": "success"}


@pytest.mark.parametrize(
    ("status", "severity"), [("success", "3"), ("failure", "6"), ("denied", "8"), ("x", "5")]
)
def test_cef_severity_follows_the_status(status: str, severity: str) -> None:
    rec = record(status=status)
    header, extension = parse_cef(to_cef(rec, delivery(rec)))
    assert (header[5], extension["outcome"]) == (severity, status)


def test_a_sealed_address_goes_in_a_flex_string_not_src() -> None:
    _, extension = parse_cef(to_cef(UNICODE_SEALED, delivery(UNICODE_SEALED)))
    assert "src" not in extension
    assert (extension["flexString1Label"], extension["flexString1"]) == ("ipAddress", SEALED_IP)
    assert extension["requestClientApplication"] == SEALED_AGENT
    assert (extension["suser"], extension["cs4"]) == ("zoë", "résumé-文档-🔒")
    _, v6 = parse_cef(to_cef(USER_CREATED, delivery(USER_CREATED)))
    assert v6["src"] == "2001:db8::1" and "flexString1" not in v6


AWKWARD = [
    "a|b",
    "back\\slash",
    "trailing\\",
    "k=v",
    "x y=z w",
    "line1\nline2",
    "cr\rlf\r\n",
    " lead  and trail ",
    "ünï©ødé 文档 🔒",
    "\\=|\n\\\\n",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_extension_values_round_trip_through_an_independent_parser(value: str) -> None:
    columns = ("user_id", "user_agent", "resource_type", "resource_id", "correlation_id", "session_id")
    rec = record(**dict.fromkeys((*columns, "service_name", "action", "ip_address"), value))
    line = to_cef(rec, delivery(rec))
    assert "\n" not in line and "\r" not in line
    _, extension = parse_cef(line)
    for key in ("suser", "suid", "requestClientApplication", "destinationServiceName", "act", "flexString1"):
        assert extension[key] == value, key
    for key in ("cs3", "cs4", "cs5", "cs6"):
        assert extension[key] == value, key


@pytest.mark.parametrize("value", AWKWARD)
def test_header_fields_round_trip_with_line_breaks_as_spaces(value: str) -> None:
    rec = record(event_type=value)
    line = to_cef(rec, delivery(rec))
    assert "\n" not in line and "\r" not in line
    header, extension = parse_cef(line)
    assert header[3] == value.replace("\r", " ").replace("\n", " ")
    assert header[5] == "3" and extension["externalId"] == AUDIT_ID


@pytest.mark.parametrize(
    ("event_type", "name"),
    [
        ("user.password_change", "User password change"),
        ("invoice.update", "Invoice update"),
        ("sessions:purge", "Sessions purge"),
        ("a/b-c", "A b c"),
    ],
)
def test_the_cef_name_is_the_event_type_in_words(event_type: str, name: str) -> None:
    rec = record(event_type=event_type)
    header, _ = parse_cef(to_cef(rec, delivery(rec)))
    assert header[3:5] == [event_type, name]
