"""What a retention run answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetentionReportOut(BaseModel):
    """A dry run counts over every partition; a real run is one bounded step of a sweep
    (``outcome``: ``complete``, ``partial``: run again to go on, or ``skipped_locked``: another
    run holds the lease)."""

    dry_run: bool
    outcome: str | None = Field(None, description="Real runs: complete, partial or skipped_locked.")
    partitions_from: str | None = Field(None, description="The first partition this run deleted from.")
    partitions_to: str | None = Field(None, description="The last partition this run deleted from.")
    duration_ms: int | None = None
    as_of: str = Field(description="The day retention was computed for (YYYY-MM-DD, UTC).")
    deleted: int | None = Field(None, description="Events deleted (absent in a dry run).")
    would_delete: int | None = Field(None, description="Events a real run would delete (dry run only).")
    per_tenant: dict[str, int] = Field(description="Deleted (or would-be deleted) events per tenant.")
    legal_holds_applied: int | None = Field(None, description="Active legal holds that kept events.")
    held: dict[str, int] | None = Field(
        None, description="Dry run: per tenant, expired events the legal holds keep."
    )
