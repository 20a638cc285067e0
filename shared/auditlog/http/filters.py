"""The documented query parameters of search and export (parsed by ``read/query.py``)."""

from __future__ import annotations

from auditlog.http.rules import Param
from auditlog.ports.store import FILTER_COLUMNS
from auditlog.read.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

_WINDOW = (
    Param(
        "start_time",
        "time",
        description="Inclusive start (RFC 3339). Default: end_time minus the default window (30 days).",
    ),
    Param(
        "end_time",
        "time",
        description="Exclusive end (RFC 3339). Default: now. The window is at most 400 days "
        "(exports: 2560).",
    ),
    Param(
        "tenant_id",
        "tenant",
        repeated=True,
        description="Only for roles that read across tenants (audit_admin, system_admin).",
    ),
    *(
        Param(
            column,
            repeated=True,
            description=f"Match any of the given values of `{column}` (repeat the parameter).",
        )
        for column in FILTER_COLUMNS
    ),
    Param(
        "include_self_audit",
        "flag",
        default=False,
        description="Also the service's own records of reads and admin actions (event types "
        "`auditlog.*`); audit_admin and system_admin only.",
    ),
    Param(
        "metadata",
        "map",
        description="`metadata[<key>]=<value>` (or `metadata.<key>=<value>`): events whose metadata "
        "has that value at that (dotted) key, compared as text.",
    ),
)

SEARCH_QUERY: tuple[Param, ...] = (
    *_WINDOW,
    Param("page_size", "count", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE),
    Param("page_token", description="The previous page's `next_page_token`, with the same filters."),
)

EXPORT_QUERY: tuple[Param, ...] = (
    *_WINDOW,
    Param(
        "format", default="json", choices=("csv", "json"), description="`csv` or newline-delimited `json`."
    ),
    Param(
        "manifest",
        "flag",
        default=False,
        description="NDJSON of committed records (as the integrity log committed to them) followed by "
        "a manifest line: the checkpoint, the signing key, each line's leaf index and hash. One "
        "tenant. `auditlog verify-export` checks it offline.",
    ),
    Param(
        "proofs",
        "flag",
        default=False,
        description="With the manifest: each line's inclusion proof too (implies manifest).",
    ),
)
