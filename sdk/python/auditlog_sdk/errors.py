"""One exception per HTTP status family, each with the service's error body."""

from __future__ import annotations

from typing import Any


class AuditLogError(Exception):
    """Base of every SDK error."""


class TransportError(AuditLogError):
    """The service could not be reached (after the retries)."""


class APIError(AuditLogError):
    """The service answered with an error: ``{"error": {code, message, details, request_id}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]],
        request_id: str | None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (request {request_id})" if request_id else ""))
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def fields(self) -> list[str]:
        """The fields the service named as wrong."""
        return [str(d.get("field")) for d in self.details if d.get("field")]


class BadRequestError(APIError):
    """400, 413, 415 and other 4xx without a class of their own."""


class AuthenticationError(APIError):
    """401: missing or invalid token."""


class PermissionDeniedError(APIError):
    """403: the token's roles or tenant do not allow it."""


class NotFoundError(APIError):
    """404."""


class ConflictError(APIError):
    """409, e.g. ``not_sequenced`` while an event is not yet in a signed checkpoint."""


class RateLimitedError(APIError):
    """429; ``retry_after`` says when to retry."""


class ServerError(APIError):
    """5xx."""


def error_for(status: int) -> type[APIError]:
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 409:
        return ConflictError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return BadRequestError
