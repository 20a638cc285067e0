"""Builds a witness (``auditlog.witness``) from settings: its key (a seed, a development file,
or Cloud KMS), the logs it accepts, and its state (SQLite in the data dir, Firestore on GCP)."""

from __future__ import annotations

import socket

from auditlog.errors import ConfigurationError
from auditlog.ledger.checkpoints import Ed25519Signer
from auditlog.ledger.notes import NoteError
from auditlog.ports.signer import Signer
from auditlog.ports.witness import WitnessState
from auditlog.runtime.keys import private_files, secret_file
from auditlog.settings import Backend, Settings
from auditlog.witness.service import LogRule, Witness

WITNESS_KEY_FILE = "witness-key"


def witness_key(settings: Settings) -> Signer:
    if settings.witness_kms_key and settings.backend is Backend.GCP:
        from auditlog.backends.gcp.kms import KmsSigner, kms_client

        return KmsSigner(kms_client(), settings.witness_kms_key)
    if settings.witness_key:
        return Ed25519Signer(bytes.fromhex(settings.witness_key.get_secret_value()))
    if settings.is_development:
        return Ed25519Signer(secret_file(settings.data_dir / WITNESS_KEY_FILE))
    raise ConfigurationError(
        "AUDITLOG_WITNESS_KEY or AUDITLOG_WITNESS_KMS_KEY is required outside development"
    )


def witness_state(settings: Settings) -> WitnessState:
    if settings.backend is Backend.GCP:
        from auditlog.backends.gcp.clients import firestore_client
        from auditlog.backends.gcp.firestore_witness import FirestoreWitnessState

        return FirestoreWitnessState(firestore_client(settings))
    from auditlog.backends.embedded.sqlite_witness import SqliteWitnessState

    return SqliteWitnessState(settings.data_dir / "witness.sqlite3")


def build_witness(settings: Settings) -> Witness:
    private_files(settings.data_dir)
    name = settings.witness_name or (
        f"{socket.gethostname().lower()}/witness" if settings.is_development else None
    )
    if name is None:
        raise ConfigurationError("AUDITLOG_WITNESS_NAME is required outside development")
    try:
        logs = [LogRule.parse(spec) for spec in settings.witness_logs]
    except NoteError as exc:
        raise ConfigurationError(f"AUDITLOG_WITNESS_LOGS: {exc}") from None
    if not logs:
        raise ConfigurationError("AUDITLOG_WITNESS_LOGS names no log: a witness accepts none")
    return Witness(name, witness_key(settings), logs, witness_state(settings))
