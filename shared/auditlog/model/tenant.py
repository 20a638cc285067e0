"""What a tenant id may be: the one rule for tokens, paths, query parameters and bodies.

A letter or digit, then up to 127 letters, digits, ``.``, ``_`` or ``-``. It names documents in
Firestore (which reserves ids like ``__x__`` and refuses ``/``), keys in Redis and SQLite, and
rate-limit buckets, so anything else is refused before it reaches a store.
"""

from __future__ import annotations

import re
from typing import Final

from auditlog.errors import FieldProblem, InvalidInput

TENANT_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_TENANT_ID = re.compile(TENANT_ID_PATTERN.removeprefix("^").removesuffix("$"))
TENANT_ID_RULE: Final = "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_tenant_id(value: object) -> bool:
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None


def check_tenant_id(value: str, field: str = "tenant_id") -> str:
    """``value`` if it is a valid tenant id, else ``InvalidInput`` naming ``field``."""
    if not is_tenant_id(value):
        raise InvalidInput(f"{field} is not a valid tenant id", [FieldProblem(field, TENANT_ID_RULE)])
    return value
