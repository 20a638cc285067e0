"""Legal holds: events retention must keep, whatever their retention says.

A hold names a tenant and optionally narrows it by user, by resource, or by any filter column;
it has a reason, who placed it, and an optional expiry. Holds live in the state store
(``legal_holds``); releasing one keeps its document (with who released it and when), so the list
is also the history. Every change is an audit event of the tenant (the API records it).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import uuid_utils
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditlog.auth import access
from auditlog.auth.access import Capability
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, InvalidInput, NotFound
from auditlog.model.event import validated
from auditlog.ports.state import StateStore
from auditlog.ports.store import FILTER_COLUMNS, HoldScope

COLLECTION = "legal_holds"


class LegalHoldIn(BaseModel):
    """What a system admin sends to place a hold."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=1000, description="Why, e.g. the case or matter.")
    user_id: str | None = Field(None, max_length=256, description="Only this user's events.")
    resource_type: str | None = Field(None, max_length=256)
    resource_id: str | None = Field(None, max_length=512)
    filters: dict[str, list[str]] = Field(
        default_factory=dict,
        description=f"Further narrowing: any of {', '.join(FILTER_COLUMNS)}, each with its values.",
    )
    expires_at: datetime | None = Field(None, description="RFC 3339; the hold ends by itself then.")

    @field_validator("filters")
    @classmethod
    def _known_columns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for column, values in value.items():
            if column not in FILTER_COLUMNS:
                raise ValueError(f"{column!r} is not a filter column ({', '.join(FILTER_COLUMNS)})")
            if not values or len(values) > 100 or any(not v or len(v) > 512 for v in values):
                raise ValueError(f"{column} needs 1 to 100 non-empty values")
        return value

    @model_validator(mode="after")
    def _aware_expiry(self) -> LegalHoldIn:
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at must carry a UTC offset")
        return self


class LegalHold(LegalHoldIn):
    hold_id: str
    created_at: datetime
    created_by: str
    released_at: datetime | None = None
    released_by: str | None = None

    def scope(self) -> HoldScope:
        filters = {c: tuple(v) for c, v in self.filters.items()}
        for column in ("user_id", "resource_type", "resource_id"):
            value = getattr(self, column)
            if value is not None:
                filters[column] = (value,)
        return HoldScope(self.tenant_id, filters)

    def active(self, now: datetime) -> bool:
        return self.released_at is None and (self.expires_at is None or self.expires_at > now)


class LegalHoldList(BaseModel):
    holds: list[LegalHold]


class HoldBook:
    def __init__(self, state: StateStore) -> None:
        self._state = state
        self._lock = threading.Lock()

    def place(self, principal: Principal, body: Any) -> LegalHold:
        access.require(principal, Capability.ADMIN)
        wanted = validated(LegalHoldIn, body, "legal hold")
        hold = LegalHold(
            **wanted.model_dump(),
            hold_id=str(uuid_utils.uuid7()),
            created_at=datetime.now(UTC),
            created_by=principal.subject,
        )
        self._state.put(COLLECTION, hold.hold_id, hold.model_dump(mode="json"))
        return hold

    def release(self, principal: Principal, hold_id: str) -> LegalHold:
        access.require(principal, Capability.ADMIN)
        with self._lock:
            hold = self._get(hold_id)
            if hold.released_at is None:
                hold = hold.model_copy(
                    update={"released_at": datetime.now(UTC), "released_by": principal.subject}
                )
                self._state.put(COLLECTION, hold_id, hold.model_dump(mode="json"))
        return hold

    def _get(self, hold_id: str) -> LegalHold:
        if not hold_id or len(hold_id) > 64 or "/" in hold_id or hold_id.startswith("."):
            raise InvalidInput("hold_id is not valid", [FieldProblem("hold_id", "is not a hold id")])
        document = self._state.get(COLLECTION, hold_id)
        if document is None:
            raise NotFound(f"no legal hold {hold_id}")
        return LegalHold.model_validate(document)

    def all(self, tenant_id: str | None = None) -> list[LegalHold]:
        holds = [LegalHold.model_validate(d) for _, d in self._state.list(COLLECTION)]
        return sorted(
            (h for h in holds if tenant_id is None or h.tenant_id == tenant_id), key=lambda h: h.hold_id
        )

    def listing(self, principal: Principal, tenant_id: str | None) -> list[LegalHold]:
        access.require(principal, Capability.ADMIN)
        return self.all(tenant_id)

    def active_scopes(self, now: datetime) -> tuple[HoldScope, ...]:
        return tuple(h.scope() for h in self.all() if h.active(now))
