"""An event in a stream's format: ``render(format, record, delivery)`` where ``record`` is the
committed record (what the leaf hash covers, as `auditlog verify-export` reads it) and
``delivery`` the fields every delivered event carries (tenant_id, audit_id, leaf_index,
leaf_hash)."""

from __future__ import annotations

from typing import Any

from auditlog.streams.model import Format


def render(fmt: Format, record: dict[str, Any], delivery: dict[str, Any]) -> dict[str, Any] | str:
    if fmt is Format.JSON:
        return {**record, **delivery}
    if fmt is Format.OCSF:
        from auditlog.streams.formats.ocsf import to_ocsf

        return to_ocsf(record, delivery)
    from auditlog.streams.formats.cef import to_cef

    return to_cef(record, delivery)
