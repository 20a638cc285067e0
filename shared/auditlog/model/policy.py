"""Tenant policy: per-tenant settings kept in the small-state store.

Default retention, rate limits, the IP allowlist and PII rules live in one document per tenant,
managed by system admins (``admin/policies.py`` keeps them).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auditlog.model.event import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS

_PII_FIELD = re.compile(
    r"(user_id|session_id|ip_address|user_agent|resource_id|correlation_id"
    r"|(request_data|response_data|metadata)(\.[A-Za-z0-9_-]{1,64}){1,8})"
)


class RateLimit(BaseModel):
    """Token buckets: writes count events, reads count requests."""

    model_config = ConfigDict(extra="forbid")

    # Defaults are a safety net sized above what one instance can take; tighten per tenant.
    tenant_events_per_second: float = Field(100_000, gt=0, description="sustained writes, whole tenant")
    tenant_event_burst: int = Field(200_000, ge=1, description="bucket size, whole tenant")
    caller_events_per_second: float = Field(50_000, gt=0, description="sustained writes, one caller")
    caller_event_burst: int = Field(100_000, ge=1, description="bucket size, one caller")
    caller_reads_per_second: float = Field(1000, gt=0, description="sustained reads, one caller")
    caller_read_burst: int = Field(2000, ge=1, description="bucket size of reads, one caller")


class PiiRule(BaseModel):
    """What to do with one personal field before anything is stored or published.

    ``field`` is a top-level field (``user_id``, ``ip_address``, ...) or a dotted path inside
    ``request_data``, ``response_data`` or ``metadata`` (``request_data.customer.email``).
    ``mask`` keeps a fixed placeholder, ``hash`` keeps HMAC-SHA256 under the tenant's secret (equal
    values stay equal, so they can still be searched and joined), ``drop`` removes it,
    ``encrypt`` seals it under the data subject's key so that erasing the subject destroys it
    (``subjects.py``).
    """

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="top-level field or dotted path inside a JSON column")
    action: Literal["mask", "hash", "drop", "encrypt"] = Field(
        description="`encrypt`: AES-256-GCM under the data subject's (user_id's) key; readers see "
        "the value until the subject is erased, then `[erased]`; proofs stay valid"
    )

    @model_validator(mode="after")
    def _subject_stays_clear(self) -> PiiRule:
        if self.action == "encrypt" and self.field == "user_id":
            raise ValueError("user_id names the data subject whose key encrypts; it cannot be encrypted")
        return self

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if not _PII_FIELD.fullmatch(value):
            raise ValueError(
                "must be an optional top-level field (user_id, session_id, ip_address, user_agent, "
                "resource_id, correlation_id) or a dotted path inside request_data, response_data "
                "or metadata"
            )
        return value


class TenantPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_retention_days: int = Field(
        90, ge=MIN_RETENTION_DAYS, le=MAX_RETENTION_DAYS, description="retention when an event gives none"
    )
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    ip_allowlist: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="IPv4/IPv6 CIDRs callers must come from; empty allows any address",
    )
    pii_rules: list[PiiRule] = Field(default_factory=list, max_length=100)

    @field_validator("ip_allowlist")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        out = []
        for value in values:
            try:
                out.append(str(ipaddress.ip_network(value, strict=False)))
            except ValueError:
                raise ValueError(f"{value!r} is not an IPv4 or IPv6 CIDR") from None
        return out
