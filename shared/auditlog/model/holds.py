"""Legal holds as placed, stored and listed (``admin/holds.py`` keeps them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditlog.ports.store import FILTER_COLUMNS, HoldScope


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

    def selected(self) -> dict[str, tuple[str, ...]]:
        """The columns the hold narrows the tenant by, with their values."""
        filters = {c: tuple(v) for c, v in self.filters.items()}
        for column in ("user_id", "resource_type", "resource_id"):
            value = getattr(self, column)
            if value is not None:
                filters[column] = (value,)
        return filters

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
        return HoldScope(self.tenant_id, self.selected())

    def active(self, now: datetime) -> bool:
        return self.released_at is None and (self.expires_at is None or self.expires_at > now)


class LegalHoldList(BaseModel):
    holds: list[LegalHold]
