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

from auditlog.admin.policies import PolicyBook
from auditlog.auth import access
from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, InvalidInput, NotFound
from auditlog.ingest.pii import actions_on
from auditlog.model.event import validated
from auditlog.model.holds import LegalHold, LegalHoldIn
from auditlog.ports.state import StateStore
from auditlog.ports.store import HoldScope

COLLECTION = "legal_holds"


class HoldBook:
    def __init__(self, state: StateStore, policies: PolicyBook) -> None:
        self._state = state
        self._policies = policies
        self._lock = threading.Lock()

    def place(self, principal: Principal, body: Any) -> LegalHold:
        wanted = validated(LegalHoldIn, body, "legal hold")
        # Which tenant the caller may administer depends on the tenant named: checked here.
        access.administrable_tenant(principal, wanted.tenant_id)
        self._selectable(wanted)
        hold = LegalHold(
            **wanted.model_dump(),
            hold_id=str(uuid_utils.uuid7()),
            created_at=datetime.now(UTC),
            created_by=principal.subject,
        )
        self._state.put(COLLECTION, hold.hold_id, hold.model_dump(mode="json"))
        return hold

    def release(self, principal: Principal, hold_id: str) -> LegalHold:
        with self._lock:
            hold = self._get(hold_id)
            if hold.tenant_id != principal.tenant_id and not access.is_platform_admin(principal):
                raise NotFound(f"no legal hold {hold_id}")  # another tenant's holds are not shown
            if hold.released_at is None:
                hold = hold.model_copy(
                    update={"released_at": datetime.now(UTC), "released_by": principal.subject}
                )
                self._state.put(COLLECTION, hold_id, hold.model_dump(mode="json"))
        return hold

    def _selectable(self, wanted: LegalHoldIn) -> None:
        """A hold selects on fields as they are stored: a hashed field matches its hashes
        (``RetentionService.scopes``), but a masked, dropped or encrypted one cannot be told
        apart, so a hold may not select on it."""
        rules = self._policies.get(wanted.tenant_id).pii_rules
        problems = [
            FieldProblem(
                field,
                f"the tenant's PII rules {'/'.join(sorted(set(actions) - {'hash'}))} this field, so a "
                "hold cannot select on it; hold by another field or the whole tenant",
            )
            for field in sorted(wanted.selected())
            if (actions := actions_on(rules, field)) and set(actions) - {"hash"}
        ]
        if problems:
            raise InvalidInput("the hold selects on a field the tenant's PII rules protect", problems)

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

    def active_scopes(self, now: datetime) -> tuple[HoldScope, ...]:
        return tuple(h.scope() for h in self.all() if h.active(now))
