"""What a retention run answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RetentionReportOut(BaseModel):
    dry_run: bool
    as_of: str = Field(description="The day retention was computed for (YYYY-MM-DD, UTC).")
    deleted: int | None = Field(None, description="Events deleted (absent in a dry run).")
    would_delete: int | None = Field(None, description="Events a real run would delete (dry run only).")
    per_tenant: dict[str, int] = Field(description="Deleted (or would-be deleted) events per tenant.")
    legal_holds_applied: int = Field(description="Active legal holds that kept events.")
    held: dict[str, int] | None = Field(
        None, description="Dry run: per tenant, expired events the legal holds keep."
    )
