"""Python SDK of the audit log API. See sdk/python/README.md."""

from auditlog_sdk._ops import filters
from auditlog_sdk.client import AsyncClient, Client, RetryPolicy
from auditlog_sdk.errors import (
    APIError,
    AuditLogError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from auditlog_sdk.logger import AuditLogger, BufferFullError
from auditlog_sdk.notes import NoteError, NoteKey, WitnessPolicy, open_checkpoint
from auditlog_sdk.streams import StreamVerification, read_stream_batches, verify_stream
from auditlog_sdk.verify import (
    keys_from,
    leaf_hash,
    merkle_root,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_proof,
)

__all__ = [
    "APIError",
    "AsyncClient",
    "AuditLogError",
    "AuditLogger",
    "AuthenticationError",
    "BadRequestError",
    "BufferFullError",
    "Client",
    "ConflictError",
    "NotFoundError",
    "NoteError",
    "NoteKey",
    "PermissionDeniedError",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "StreamVerification",
    "TransportError",
    "WitnessPolicy",
    "filters",
    "keys_from",
    "leaf_hash",
    "merkle_root",
    "open_checkpoint",
    "read_stream_batches",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
    "verify_proof",
    "verify_stream",
]
