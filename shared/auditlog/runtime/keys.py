"""The keys the runtime holds or reaches: the checkpoint signer (a seed from Secret Manager or
the data dir, or a Cloud KMS key), the cursor key, and the files development keeps them in."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from auditlog.errors import ConfigurationError
from auditlog.ledger.checkpoints import CheckpointSigner, Ed25519Signer
from auditlog.ledger.notes import NoteError
from auditlog.ledger.witnessing import Witness
from auditlog.ports.signer import KeyWrapper, Signer
from auditlog.settings import Backend, Settings

CURSOR_KEY_FILE = "cursor-key"
SIGNING_KEY_FILE = "signing-key"


def private_files(data_dir: Path) -> None:
    """Every file this process creates is its user's alone (umask 077: files 0600, folders
    0700), from the start rather than by a chmod after writing; the data dir too. The embedded
    stores hold every event, the tenants' HMAC keys and the per-subject keys."""
    os.umask(0o077)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def secret_file(path: Path) -> bytes:
    """32 random bytes kept in ``path``, made on first use."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(secrets.token_bytes(32))
        tmp.replace(path)
    return path.read_bytes()


def signing_key(settings: Settings) -> Signer | None:
    """The log's signing key: in Cloud KMS, or a configured seed; in development, a seed kept in
    the data dir; else none (a function that signs nothing, such as the writer, has none)."""
    if settings.kms_signing_key and settings.backend is Backend.GCP:
        from auditlog.backends.gcp.kms import KmsSigner, kms_client

        return KmsSigner(kms_client(), settings.kms_signing_key)
    if settings.signing_key:
        return Ed25519Signer(bytes.fromhex(settings.signing_key.get_secret_value()))
    if settings.is_development:
        return Ed25519Signer(secret_file(settings.data_dir / SIGNING_KEY_FILE))
    return None


def checkpoint_signer(settings: Settings) -> CheckpointSigner | None:
    key = signing_key(settings)
    if key is None:
        return None
    _, quorum = witness_policy(settings)
    return CheckpointSigner(
        key,
        settings.checkpoint_origin(),
        retired=retired_public_keys(settings),
        witnessed=quorum > 0,
    )



def retired_public_keys(settings: Settings) -> list[bytes]:
    """Earlier signing keys, still published so that older checkpoints keep verifying."""
    return [bytes.fromhex(k) for k in settings.retired_public_keys]


WRAPPING_KEY_FILE = "wrapping-key"


def key_wrapper(settings: Settings) -> KeyWrapper | None:
    """What wraps the tenant HMAC keys and per-subject keys: the KMS key on GCP (none if not
    configured: they are then kept as they are, as before), a key file beside the embedded
    stores locally."""
    if settings.backend is Backend.GCP:
        if not settings.kms_wrapping_key:
            return None
        from auditlog.backends.gcp.kms import KmsKeyWrapper, kms_client

        return KmsKeyWrapper(kms_client(), settings.kms_wrapping_key)
    from auditlog.backends.embedded.local_keys import AesKeyWrapper

    return AesKeyWrapper(secret_file(settings.data_dir / WRAPPING_KEY_FILE))


def witness_policy(settings: Settings) -> tuple[list[Witness], int]:
    """The witnesses checkpoints go to, and how many must cosign (default: all)."""
    try:
        witnesses = [Witness.parse(spec) for spec in settings.witnesses]
    except NoteError as exc:
        raise ConfigurationError(f"AUDITLOG_WITNESSES: {exc}") from None
    quorum = len(witnesses) if settings.witness_quorum is None else settings.witness_quorum
    if quorum > len(witnesses):
        raise ConfigurationError(
            f"AUDITLOG_WITNESS_QUORUM is {quorum}, but AUDITLOG_WITNESSES names {len(witnesses)}"
        )
    return witnesses, quorum
