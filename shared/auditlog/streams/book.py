"""The streams of each tenant, as their administrators configure them (``POST /admin/streams``
and the rest), and the state their delivery keeps.

Three collections of the state store (SQLite locally, Firestore on GCP): ``streams`` (the
configuration, written by administrators; a destination's secret wrapped by the key wrapper,
Cloud KMS on GCP), ``stream_positions`` (the next leaf to deliver and the failures, written by
the delivery that holds the stream's lease) and ``stream_leases``. A replay is a request in the
configuration that the delivery applies under its lease, so the position has one writer.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import uuid_utils
from pydantic import BaseModel, SecretStr

from auditlog.auth import access
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, InvalidInput, NotFound
from auditlog.model.event import validated
from auditlog.ports.integrity import IntegrityStore
from auditlog.ports.signer import KeyWrapper
from auditlog.ports.state import StateStore
from auditlog.read.self_audit import is_self_audit_type
from auditlog.streams.addresses import AddressRefused, check_host, check_url
from auditlog.streams.destinations import DestinationConfig
from auditlog.streams.model import (
    SECRET_FIELDS,
    LeafStart,
    ReplayIn,
    Stream,
    StreamIn,
    StreamPatch,
    StreamState,
    StreamStatus,
    SyslogDestination,
)

STREAMS = "streams"
POSITIONS = "stream_positions"
LEASES = "stream_leases"
MAX_STREAMS_PER_TENANT = 20


class StoredStream:
    """A stream's configuration document, parsed; ``secret`` is still wrapped."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    @property
    def stream_id(self) -> str:
        return str(self.document["stream_id"])

    @property
    def tenant_id(self) -> str:
        return str(self.document["tenant_id"])

    @property
    def state(self) -> StreamState:
        return StreamState(self.document["state"])

    @cached_property
    def config(self) -> StreamIn:
        """The configuration as created, the secret absent (``StreamBook.secret`` unwraps it)."""
        fields = {k: self.document[k] for k in StreamIn.model_fields if k in self.document}
        shown = self.document["destination"]
        fields["destination"] = {k: v for k, v in shown.items() if not k.endswith("_set")}
        return StreamIn.model_validate({**fields, "start": "beginning"})

    @property
    def destination(self) -> DestinationConfig:
        return self.config.destination


def _public_destination(destination: BaseModel) -> dict[str, Any]:
    """The destination as stored and shown: every field but the secret, and whether one is set."""
    shown = destination.model_dump(mode="json", exclude=set(SECRET_FIELDS))
    for name in SECRET_FIELDS:
        if name in type(destination).model_fields:
            shown[f"{name}_set"] = getattr(destination, name) is not None
    return shown


def _secret_of(destination: BaseModel) -> str | None:
    for name in SECRET_FIELDS:
        value = getattr(destination, name, None)
        if isinstance(value, SecretStr):
            return value.get_secret_value()
    return None


class StreamBook:
    def __init__(
        self,
        state: StateStore,
        log: IntegrityStore,
        wrapper: KeyWrapper | None,
        *,
        allow_private_addresses: bool,
    ) -> None:
        self._state = state
        self._log = log
        self._wrapper = wrapper
        self._allow_private = allow_private_addresses

    # -- administration -------------------------------------------------------------------------

    def create(self, principal: Principal, body: Any) -> Stream:
        wanted = validated(StreamIn, body, "stream")
        tenant = access.administrable_tenant(principal, wanted.tenant_id)
        if len(self.stored(tenant)) >= MAX_STREAMS_PER_TENANT:
            raise InvalidInput(
                f"a tenant has at most {MAX_STREAMS_PER_TENANT} streams",
                [FieldProblem("tenant_id", f"already has {MAX_STREAMS_PER_TENANT} streams")],
            )
        self._check(wanted.destination, "destination")
        self._check_filter(wanted)
        secret = _secret_of(wanted.destination)
        needed = [n for n in SECRET_FIELDS if n in type(wanted.destination).model_fields]
        if secret is None and needed:
            problem = FieldProblem(f"destination.{needed[0]}", "is required")
            raise InvalidInput("the destination needs its secret", [problem])
        stream_id = str(uuid_utils.uuid7())
        document = {
            **wanted.model_dump(mode="json", exclude={"destination", "start"}),
            "destination": _public_destination(wanted.destination),
            "stream_id": stream_id,
            "state": StreamState.ACTIVE.value,
            "paused_reason": None,
            "created_at": datetime.now(UTC).isoformat(),
            "created_by": principal.subject,
            "secret": self._wrap(stream_id, secret),
            "replay": None,
        }
        start = self._start(tenant, wanted.start)
        self._state.put(POSITIONS, stream_id, {"next_leaf_index": start, "consecutive_failures": 0})
        self._state.put(STREAMS, stream_id, document)
        return self.shown(StoredStream(document))

    def listing(self, tenant: str | None) -> list[Stream]:
        return [self.shown(s) for s in self.stored(tenant)]

    def get(self, principal: Principal, stream_id: str) -> Stream:
        return self.shown(self._owned(principal, stream_id))

    def patch(self, principal: Principal, stream_id: str, body: Any) -> Stream:
        stream = self._owned(principal, stream_id)
        change = validated(StreamPatch, body, "stream change")
        document = dict(stream.document)
        updates = change.model_dump(mode="json", exclude_unset=True, exclude={"destination"})
        document.update(updates)
        if change.destination is not None:
            self._check(change.destination, "destination")
            secret = _secret_of(change.destination)
            if secret is not None:
                document["secret"] = self._wrap(stream_id, secret)
            elif change.destination.type != stream.destination.type:
                raise InvalidInput(
                    "a new destination type needs its own secret",
                    [FieldProblem("destination", "changes the type without giving its secret")],
                )
            document["destination"] = _public_destination(change.destination)
        self._check_filter(StoredStream(document).config)
        self._state.put(STREAMS, stream_id, document)
        return self.shown(StoredStream(document))

    def delete(self, principal: Principal, stream_id: str) -> Stream:
        stream = self._owned(principal, stream_id)
        shown = self.shown(stream)
        self._state.delete(STREAMS, stream_id)
        self._state.delete(POSITIONS, stream_id)
        return shown

    def set_state(
        self, principal: Principal | None, stream_id: str, state: StreamState, reason: str | None = None
    ) -> Stream:
        """Pause or resume (an administrator), or pause with the reason / mark failing (delivery)."""
        stream = self._owned(principal, stream_id) if principal else self._stored(stream_id)
        document = {**stream.document, "state": state.value, "paused_reason": reason}
        self._state.put(STREAMS, stream_id, document)
        if state is StreamState.ACTIVE and principal is not None:
            position = self.position(stream_id)
            position.update(consecutive_failures=0, failing_since=None, next_attempt_at=None)
            self._state.put(POSITIONS, stream_id, position)
        return self.shown(StoredStream(document))

    def replay(self, principal: Principal, stream_id: str, body: Any) -> Stream:
        stream = self._owned(principal, stream_id)
        wanted = validated(ReplayIn, body, "replay")
        if (wanted.from_leaf_index is None) == (wanted.from_time is None):
            raise InvalidInput(
                "give from_leaf_index or from_time",
                [FieldProblem("from_leaf_index", "exactly one of from_leaf_index and from_time")],
            )
        if wanted.from_time is not None and wanted.from_time.tzinfo is None:
            raise InvalidInput("from_time needs a UTC offset", [FieldProblem("from_time", "has no offset")])
        size = self._log.state(stream.tenant_id).frontier.size
        if wanted.from_leaf_index is not None and wanted.from_leaf_index > size:
            raise InvalidInput(
                f"the tenant's log has {size} leaves",
                [FieldProblem("from_leaf_index", f"is beyond the log's {size} leaves")],
            )
        replay = {
            "id": uuid.uuid4().hex,
            "from_leaf_index": wanted.from_leaf_index,
            "from_time": None if wanted.from_time is None else wanted.from_time.astimezone(UTC).isoformat(),
        }
        document = {**stream.document, "replay": replay}
        self._state.put(STREAMS, stream_id, document)
        return self.shown(StoredStream(document))

    # -- what delivery reads and writes ----------------------------------------------------------

    @property
    def state(self) -> StateStore:
        return self._state

    def stored(self, tenant: str | None = None) -> list[StoredStream]:
        found = [StoredStream(doc) for _, doc in self._state.list(STREAMS)]
        return sorted(
            (s for s in found if tenant is None or s.tenant_id == tenant), key=lambda s: s.stream_id
        )

    def refreshed(self, stream: StoredStream) -> StoredStream | None:
        """The stream as stored now (None once deleted)."""
        document = self._state.get(STREAMS, stream.stream_id)
        return None if document is None else StoredStream(document)

    def secret(self, stream: StoredStream) -> str | None:
        wrapped = stream.document.get("secret")
        if wrapped is None:
            return None
        raw = base64.b64decode(wrapped["value"])
        if wrapped.get("key") is None or self._wrapper is None:
            return raw.decode()
        return self._wrapper.unwrap(raw, self._context(stream.stream_id)).decode()

    def position(self, stream_id: str) -> dict[str, Any]:
        found = self._state.get(POSITIONS, stream_id)
        return dict(found or {"next_leaf_index": 0, "consecutive_failures": 0})

    def save_position(self, stream_id: str, position: dict[str, Any]) -> None:
        self._state.put(POSITIONS, stream_id, position)

    def clear_replay(self, stream: StoredStream) -> None:
        current = self._state.get(STREAMS, stream.stream_id)
        replay = stream.document.get("replay")
        pending = None if current is None else (current.get("replay") or {}).get("id")
        if current is not None and replay is not None and pending == replay["id"]:
            self._state.put(STREAMS, stream.stream_id, {**current, "replay": None})

    def shown(self, stream: StoredStream) -> Stream:
        document = stream.document
        position = self.position(stream.stream_id)
        size = self._log.state(stream.tenant_id).frontier.size
        next_leaf = int(position.get("next_leaf_index", 0))
        status = StreamStatus(
            state=stream.state,
            delivered_leaf_index=position.get("delivered_leaf_index"),
            next_leaf_index=next_leaf,
            lag_events=max(0, size - next_leaf),
            lag_seconds=position.get("lag_seconds"),
            last_delivery_at=position.get("last_delivery_at"),
            last_error=position.get("last_error"),
            consecutive_failures=int(position.get("consecutive_failures", 0)),
            failing_since=position.get("failing_since"),
            paused_reason=document.get("paused_reason"),
        )
        fields = {k: document[k] for k in Stream.model_fields if k in document and k != "status"}
        return Stream(**fields, status=status)

    # -- checks -----------------------------------------------------------------------------------

    def _check(self, destination: DestinationConfig, field: str) -> None:
        """Refuse a destination that is not reachable in principle: a private or unparseable
        address (outside development), a malformed secret."""
        try:
            if destination.type in ("webhook", "splunk_hec"):
                check_url(destination.url, self._allow_private)
            elif isinstance(destination, SyslogDestination):
                check_host(destination.host, destination.port, self._allow_private)
        except AddressRefused as exc:
            where = f"{field}.host" if isinstance(destination, SyslogDestination) else f"{field}.url"
            raise InvalidInput(f"the {field} is refused: {exc}", [FieldProblem(where, str(exc))]) from None
        secret = _secret_of(destination)
        if destination.type == "webhook" and secret is not None:
            from auditlog.streams.destinations.webhook import secret_bytes

            try:
                secret_bytes(secret)
            except ValueError as exc:
                problem = FieldProblem(f"{field}.secret", str(exc))
                raise InvalidInput("the webhook secret is not valid", [problem]) from None

    @staticmethod
    def _check_filter(stream: StreamIn) -> None:
        wanted = stream.filter
        own_only = wanted.event_types and all(map(is_self_audit_type, wanted.event_types))
        if own_only and not wanted.include_self_audit:
            problem = "names only the service's own records, which include_self_audit excludes"
            raise InvalidInput("the filter would never match", [FieldProblem("filter.event_types", problem)])

    def _start(self, tenant: str, start: str | LeafStart) -> int:
        size = self._log.state(tenant).frontier.size
        if start == "now":
            return size
        if start == "beginning":
            return 0
        assert isinstance(start, LeafStart)
        if start.leaf_index > size:
            raise InvalidInput(
                f"the tenant's log has {size} leaves",
                [FieldProblem("start.leaf_index", f"is beyond the log's {size} leaves")],
            )
        return start.leaf_index

    # -- documents ---------------------------------------------------------------------------------

    def _stored(self, stream_id: str) -> StoredStream:
        document = self._state.get(STREAMS, stream_id) if _valid_id(stream_id) else None
        if document is None:
            raise NotFound(f"no stream {stream_id}")
        return StoredStream(document)

    def owned(self, principal: Principal, stream_id: str) -> StoredStream:
        """The stream if the caller may administer it (404 for another tenant's)."""
        return self._owned(principal, stream_id)

    def _owned(self, principal: Principal, stream_id: str) -> StoredStream:
        stream = self._stored(stream_id)
        if stream.tenant_id != principal.tenant_id and not access.is_platform_admin(principal):
            raise NotFound(f"no stream {stream_id}")  # another tenant's streams are not shown
        return stream

    def _context(self, stream_id: str) -> bytes:
        return f"auditlog stream secret {stream_id}".encode()

    def _wrap(self, stream_id: str, secret: str | None) -> dict[str, Any] | None:
        if secret is None:
            return None
        if self._wrapper is None:
            return {"value": base64.b64encode(secret.encode()).decode(), "key": None}
        wrapped = self._wrapper.wrap(secret.encode(), self._context(stream_id))
        return {"value": base64.b64encode(wrapped).decode(), "key": self._wrapper.name}


def _valid_id(stream_id: str) -> bool:
    return 0 < len(stream_id) <= 64 and all(c.isalnum() or c == "-" for c in stream_id)

