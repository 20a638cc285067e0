"""One error tree. ``http_error_body`` is the only place that turns errors into HTTP."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with one input field, e.g. ``events[3].timestamp``."""

    field: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "problem": self.problem}


class AuditLogError(Exception):
    """Base of every error the service reports to a caller."""

    status = 500
    code = "internal"

    def __init__(self, message: str, details: list[FieldProblem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [d.as_dict() for d in self.details],
                "request_id": request_id,
            }
        }


class InvalidInput(AuditLogError):
    status = 400
    code = "invalid_argument"


class Unauthenticated(AuditLogError):
    status = 401
    code = "unauthenticated"

    def __init__(self, message: str, details: list[FieldProblem] | None = None) -> None:
        super().__init__(message, details or [FieldProblem("Authorization", message)])


class Forbidden(AuditLogError):
    status = 403
    code = "permission_denied"


class NotFound(AuditLogError):
    status = 404
    code = "not_found"


class Gone(AuditLogError):
    """It existed and will not come back (an entry bundle with a record retention deleted)."""

    status = 410
    code = "gone"


class Unprocessable(AuditLogError):
    """Well-formed, but the answer cannot be made (a record too large for an entry bundle)."""

    status = 422
    code = "unprocessable"


class MethodNotAllowed(AuditLogError):
    status = 405
    code = "method_not_allowed"


class NotYetSequenced(AuditLogError):
    """Accepted, but not yet in a signed checkpoint; the answer carries ``Retry-After``."""

    status = 409
    code = "not_sequenced"
    retry_after_seconds = 1


class PayloadTooLarge(AuditLogError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AuditLogError):
    status = 415
    code = "unsupported_media_type"


class RateLimited(AuditLogError):
    """Too many events or requests for now; the answer carries ``Retry-After``.

    ``retry_after_seconds`` is whole seconds, rounded up and at least 1, as the header takes them
    (RFC 9110 section 10.2.3: delta-seconds is a non-negative integer).
    """

    status = 429
    code = "resource_exhausted"

    def __init__(
        self, message: str, retry_after_seconds: float, details: list[FieldProblem] | None = None
    ) -> None:
        super().__init__(message, details)
        self.retry_after_seconds = max(1, math.ceil(retry_after_seconds))


class Unavailable(AuditLogError):
    """A backend is down; the caller may retry."""

    status = 503
    code = "unavailable"


class ConfigurationError(Exception):
    """Settings that cannot work; raised at start-up, never answered to a caller."""
