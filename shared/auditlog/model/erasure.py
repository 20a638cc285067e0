"""Erasure requests as sent, tracked and listed (``admin/erasures.py`` carries them out)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ErasureRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=256, description="The data subject, as events name it.")


class Erasure(BaseModel):
    """A tracked erasure. The raw user_id is not kept: only its subject id (a hash)."""

    erasure_id: str
    tenant_id: str
    subject_id: str
    status: Literal["received", "done"]
    received_at: datetime
    completed_at: datetime | None = None
    requested_by: str
    key_destroyed: bool = Field(
        False, description="False when the subject had no key (no encrypted field was ever stored)."
    )
    caches_clear_within_seconds: float = Field(
        description="Other instances may still show decrypted values for at most this long."
    )


class ErasureList(BaseModel):
    erasures: list[Erasure]
