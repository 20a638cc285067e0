"""Text values from a request, parsed one way everywhere: flags, counts, UUIDs, times. Each
refusal is an ``InvalidInput`` that names the parameter."""

from __future__ import annotations

from datetime import datetime

from auditlog.errors import FieldProblem, InvalidInput
from auditlog.model.event import is_uuid, parse_rfc3339

MAX_COUNT_DIGITS = 18


def invalid(name: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{name} {problem}", [FieldProblem(name, problem)])


def flag(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise invalid(name, "must be true or false")
    return value == "true"


def count(name: str, value: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_COUNT_DIGITS:
        raise invalid(name, "must be a non-negative integer")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = minimum if minimum is not None else 0
        high = f" to {maximum}" if maximum is not None else " up"
        raise invalid(name, f"must be an integer from {low}{high}")
    return number


def uuid_text(name: str, value: str) -> str:
    if not is_uuid(value):
        raise invalid(name, "must be a UUID in its 36-character form")
    return value.lower()


def moment(name: str, value: str) -> datetime:
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise invalid(name, str(exc)) from None
