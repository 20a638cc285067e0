"""A committed record as an OCSF 1.8.0 event (docs/STREAMS.md, "Formats").

The class follows the event type (``ocsf_class``): login and logout are Authentication (3002),
changes to accounts, roles, permissions and credentials are Account Change (3001), everything
else is API Activity (6003). Every committed field lands either in an OCSF attribute or, under
its column name, in ``unmapped``; so do the four delivery fields, which a receiver needs to check
that a stream is complete. Values are copied as they are: a field the tenant's PII policy sealed
stays the ciphertext it is, and an ``ip_address`` that is not an IP address (sealed, hashed,
masked) goes to ``unmapped`` rather than into ``src_endpoint.ip``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from auditlog import __version__
from auditlog.model.event import parse_rfc3339

OCSF_VERSION: Final = "1.8.0"
PRODUCT: Final = {"name": "auditlog", "vendor_name": "auditlog", "version": __version__}
# What fills an attribute the class requires when the record has no value for it.
UNKNOWN: Final = "unknown"
OTHER: Final = 99
DELIVERY_FIELDS: Final = ("tenant_id", "audit_id", "leaf_index", "leaf_hash")
# Committed fields no class has an attribute for: always in ``unmapped`` when not None.
ALWAYS_UNMAPPED: Final = (
    "request_data",
    "response_data",
    "metadata",
    "retention_period_days",
    "partition_date",
)

_EPOCH: Final = datetime(1970, 1, 1)
_MILLISECOND: Final = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class OcsfClass:
    """An OCSF event class and the verbs that name its activities (verb -> id, caption)."""

    uid: int
    name: str
    category_uid: int
    category_name: str
    activities: Mapping[str, tuple[int, str]]


def _by_verb(table: Mapping[tuple[int, str], tuple[str, ...]]) -> dict[str, tuple[int, str]]:
    """Invert ``(activity_id, caption) -> verbs`` into ``verb -> (activity_id, caption)``."""
    return {verb: activity for activity, verbs in table.items() for verb in verbs}


_READ_VERBS: Final = ("read", "get", "view", "viewed", "list", "search", "query", "export", "download")

API_ACTIVITY: Final = OcsfClass(
    6003,
    "API Activity",
    6,
    "Application Activity",
    _by_verb(
        {
            (1, "Create"): ("create", "created", "add", "added", "insert", "new", "post"),
            (2, "Read"): _READ_VERBS,
            (3, "Update"): ("update", "updated", "modify", "modified", "edit", "change", "changed", "patch"),
            (4, "Delete"): ("delete", "deleted", "remove", "removed", "destroy", "purge", "erase"),
        }
    ),
)
ACCOUNT_CHANGE: Final = OcsfClass(
    3001,
    "Account Change",
    3,
    "Identity & Access Management",
    _by_verb(
        {
            (1, "Create"): ("create", "created", "add", "added", "register", "invite", "provision", "signup"),
            (2, "Enable"): ("enable", "enabled", "activate", "reactivate"),
            (3, "Password Change"): ("password_change", "change_password", "password_update"),
            (4, "Password Reset"): ("password_reset", "reset_password"),
            (5, "Disable"): ("disable", "disabled", "deactivate", "suspend"),
            (6, "Delete"): ("delete", "deleted", "remove", "removed", "deprovision"),
            (7, "Attach Policy"): ("assign", "assigned", "grant", "granted", "attach"),
            (8, "Detach Policy"): ("unassign", "unassigned", "revoke", "revoked", "detach"),
            (9, "Lock"): ("lock", "locked", "lockout"),
            (10, "MFA Factor Enable"): ("mfa_enable", "mfa_enroll"),
            (11, "MFA Factor Disable"): ("mfa_disable", "mfa_unenroll"),
            (12, "Unlock"): ("unlock", "unlocked"),
        }
    ),
)
AUTHENTICATION: Final = OcsfClass(
    3002,
    "Authentication",
    3,
    "Identity & Access Management",
    _by_verb(
        {
            (1, "Logon"): ("login", "logon", "log_in", "signin", "sign_in"),
            (2, "Logoff"): ("logout", "logoff", "log_out", "signout", "sign_out"),
        }
    ),
)
# First segment of an event type that makes a change Account Change (``user.create``).
ACCOUNT_NOUNS: Final = frozenset(
    {
        *("user", "users", "account", "accounts", "role", "roles", "permission", "permissions"),
        *("credential", "credentials", "password", "mfa"),
    }
)
# Last segments that are Account Change whatever the first one is (``iam.password_reset``).
ACCOUNT_VERBS: Final = frozenset({"password_change", "change_password", "password_reset", "reset_password"})

# status -> (status_id, status caption, status_detail, severity_id, severity caption)
_OUTCOMES: Final[dict[str, tuple[int, str, str | None, int, str]]] = {
    "success": (1, "Success", None, 1, "Informational"),
    "failure": (2, "Failure", None, 2, "Low"),
    "denied": (2, "Failure", "denied", 3, "Medium"),
}


def _normal(word: str) -> str:
    """A verb as the tables spell it: lower case, ``-`` as ``_``."""
    return word.strip().lower().replace("-", "_")


def event_verb(event_type: str) -> tuple[str, str]:
    """The first and last segments of an event type split on ``.``, ``:`` and ``/``, lower case
    with ``-`` as ``_``: ``User.Password-Change`` gives ``("user", "password_change")``."""
    segments = _normal(event_type).replace(":", ".").replace("/", ".").split(".")
    return segments[0], segments[-1]


def ocsf_class(event_type: str) -> OcsfClass:
    """Authentication when the last segment is a login or logout verb; Account Change when it is
    a password change or reset, or when the first segment names an account, role, permission or
    credential and the last is not a read verb; API Activity otherwise."""
    noun, verb = event_verb(event_type)
    if verb in AUTHENTICATION.activities:
        return AUTHENTICATION
    if verb in ACCOUNT_VERBS or (noun in ACCOUNT_NOUNS and verb not in _READ_VERBS):
        return ACCOUNT_CHANGE
    return API_ACTIVITY


def activity(cls: OcsfClass, event_type: str, action: str) -> tuple[int, str]:
    """The class's activity named by the event type's first and last segments joined
    (``mfa.enable`` -> ``mfa_enable``), else by its last segment, else by the action; else 99
    Other, whose ``activity_name`` is the action as recorded (as OCSF asks for Other)."""
    noun, verb = event_verb(event_type)
    for word in (f"{noun}_{verb}", verb, _normal(action)):
        if word in cls.activities:
            return cls.activities[word]
    return OTHER, action


def epoch_millis(timestamp: str) -> int:
    """An RFC 3339 timestamp as whole milliseconds since the epoch (OCSF ``timestamp_t``, CEF
    ``rt``); the microseconds beyond are dropped, not rounded, so an event never moves later."""
    return (parse_rfc3339(timestamp) - _EPOCH) // _MILLISECOND


def is_ip(value: str) -> bool:
    """Whether the text is an IPv4 or IPv6 address; a sealed, hashed or masked one is not."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _classification(cls: OcsfClass, activity_id: int, activity_name: str) -> dict[str, Any]:
    caption = "Other" if activity_id == OTHER else activity_name
    return {
        "category_uid": cls.category_uid,
        "category_name": cls.category_name,
        "class_uid": cls.uid,
        "class_name": cls.name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": cls.uid * 100 + activity_id,
        "type_name": f"{cls.name}: {caption}",
    }


def _outcome(status: str) -> dict[str, Any]:
    """success -> Success, failure -> Failure, denied -> Failure with status_detail "denied";
    any other status is 99 Other with the status as recorded, severity 0 Unknown."""
    status_id, caption, detail, severity_id, severity = _OUTCOMES.get(
        status, (OTHER, status, None, 0, "Unknown")
    )
    fields: dict[str, Any] = {
        "status_id": status_id,
        "status": caption,
        "severity_id": severity_id,
        "severity": severity,
    }
    if detail is not None:
        fields["status_detail"] = detail
    return fields


def _metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": dict(PRODUCT),
        "uid": record["audit_id"],
        "event_code": record["event_type"],
        "original_time": record["timestamp"],
        "logged_time": epoch_millis(record["created_at"]),
        "tenant_uid": record["tenant_id"],
    }
    if record["correlation_id"] is not None:
        metadata["correlation_uid"] = record["correlation_id"]
    return metadata


def _user(user_id: str | None) -> dict[str, Any]:
    return {"uid": user_id} if user_id is not None else {"name": UNKNOWN}


def _actor(record: Mapping[str, Any]) -> dict[str, Any]:
    actor: dict[str, Any] = {"user": _user(record["user_id"])}
    if record["session_id"] is not None:
        actor["session"] = {"uid": record["session_id"]}
    return actor


def _context(record: Mapping[str, Any]) -> dict[str, Any]:
    """Where the request came from, for every class: the source IP when it is one, and the
    user agent."""
    fields: dict[str, Any] = {}
    ip = record["ip_address"]
    if ip is not None and is_ip(ip):
        fields["src_endpoint"] = {"ip": ip}
    if record["user_agent"] is not None:
        fields["http_request"] = {"user_agent": record["user_agent"]}
    return fields


Placed = tuple[dict[str, Any], tuple[str, ...]]  # class attributes, columns left for ``unmapped``


def _api_activity(record: Mapping[str, Any]) -> Placed:
    """``actor`` and ``src_endpoint`` are required: an absent source is named ``unknown``."""
    api: dict[str, Any] = {"operation": record["action"]}
    if record["service_name"] is not None:
        api["service"] = {"name": record["service_name"]}
    fields = {"src_endpoint": {"name": UNKNOWN}, **_context(record), "actor": _actor(record), "api": api}
    if record["resource_id"] is None:
        return fields, ("resource_type",)
    resource = {"uid": record["resource_id"]}
    if record["resource_type"] is not None:
        resource["type"] = record["resource_type"]
    fields["resources"] = [resource]
    return fields, ()


def _account_change(record: Mapping[str, Any]) -> Placed:
    """``user`` is the target: the resource changed (a user, role or credential)."""
    fields = {**_context(record), "actor": _actor(record), "user": _user(record["resource_id"])}
    return fields, ("action", "service_name", "resource_type", "resource_id")


def _authentication(record: Mapping[str, Any]) -> Placed:
    """``user`` is who signs in or out; ``service`` (required, absent is ``unknown``) the service."""
    fields = {
        **_context(record),
        "user": _user(record["user_id"]),
        "service": {"name": record["service_name"] if record["service_name"] is not None else UNKNOWN},
    }
    if record["session_id"] is not None:
        fields["session"] = {"uid": record["session_id"]}
    return fields, ("action", "resource_type", "resource_id")


_PLACERS: Final[dict[int, Callable[[Mapping[str, Any]], Placed]]] = {
    API_ACTIVITY.uid: _api_activity,
    ACCOUNT_CHANGE.uid: _account_change,
    AUTHENTICATION.uid: _authentication,
}


def _unmapped(
    record: Mapping[str, Any], delivery: Mapping[str, Any], columns: tuple[str, ...]
) -> dict[str, Any]:
    """The named columns that are not None, as recorded (JSON columns stay text), then the
    delivery fields, always."""
    ip = record["ip_address"]
    if ip is not None and not is_ip(ip):
        columns = (*columns, "ip_address")
    unmapped = {name: record[name] for name in (*columns, *ALWAYS_UNMAPPED) if record[name] is not None}
    unmapped.update((name, delivery[name]) for name in DELIVERY_FIELDS)
    return unmapped


def to_ocsf(record: dict[str, Any], delivery: dict[str, Any]) -> dict[str, Any]:
    """The record as one OCSF event of the class ``ocsf_class`` picks."""
    cls = ocsf_class(record["event_type"])
    fields, unplaced = _PLACERS[cls.uid](record)
    return {
        **_classification(cls, *activity(cls, record["event_type"], record["action"])),
        **_outcome(record["status"]),
        "time": epoch_millis(record["timestamp"]),
        "metadata": _metadata(record),
        **fields,
        "unmapped": _unmapped(record, delivery, unplaced),
    }
