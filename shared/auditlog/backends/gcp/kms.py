"""Cloud KMS behind the signer and key-wrapper ports: the log's Ed25519 key (``EC_SIGN_ED25519``,
not exportable) signs checkpoints through ``asymmetricSign``; a symmetric key wraps the tenant
HMAC keys and per-subject keys (``encrypt``/``decrypt`` with the secret's purpose as additional
authenticated data), so a copy of Firestore alone reveals none of them.

Every call carries and checks CRC32C checksums, as Google's documentation asks, so a corrupted
request or answer is refused rather than used. No KMS emulator exists: ``tests/unit/
test_signer_contract.py`` runs this code against an in-process stand-in of the two RPCs and names
what only a real project exercises (IAM, non-exportability, latency and quotas).
"""

from __future__ import annotations

from typing import Any

import google_crc32c
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key


class KmsError(RuntimeError):
    """Cloud KMS answered something that cannot be trusted (a checksum or name mismatch)."""


def kms_client() -> Any:
    from google.cloud import kms_v1

    return kms_v1.KeyManagementServiceClient()


def _crc(data: bytes) -> int:
    return int(google_crc32c.value(data))


class KmsSigner:
    """``Signer`` over a KMS key version: ``projects/P/locations/L/keyRings/R/cryptoKeys/K/
    cryptoKeyVersions/N``. A rotation adds a version; the old one's public key stays listed
    (``AUDITLOG_RETIRED_PUBLIC_KEYS``) for the overlap."""

    def __init__(self, client: Any, key_version: str) -> None:
        self._client = client
        self._name = key_version
        answer = client.get_public_key(request={"name": key_version})
        pem = answer.pem.encode()
        if answer.name != key_version or _crc(pem) != int(answer.pem_crc32c):
            raise KmsError(f"the public key of {key_version} came back altered")
        key = load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey):
            raise KmsError(f"{key_version} is not an Ed25519 key (EC_SIGN_ED25519)")
        self._public = key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        answer = self._client.asymmetric_sign(
            request={"name": self._name, "data": message, "data_crc32c": _crc(message)}
        )
        signature = bytes(answer.signature)
        if (
            not answer.verified_data_crc32c
            or answer.name != self._name
            or _crc(signature) != int(answer.signature_crc32c)
        ):
            raise KmsError(f"the signature by {self._name} came back altered")
        return signature


class KmsKeyWrapper:
    """``KeyWrapper`` over a symmetric KMS key (``ENCRYPT_DECRYPT``)."""

    def __init__(self, client: Any, key: str) -> None:
        self._client = client
        self._key = key

    @property
    def name(self) -> str:
        return f"kms:{self._key}"

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        answer = self._client.encrypt(
            request={
                "name": self._key,
                "plaintext": secret,
                "plaintext_crc32c": _crc(secret),
                "additional_authenticated_data": context,
                "additional_authenticated_data_crc32c": _crc(context),
            }
        )
        wrapped = bytes(answer.ciphertext)
        if (
            not answer.verified_plaintext_crc32c
            or not answer.verified_additional_authenticated_data_crc32c
            or _crc(wrapped) != int(answer.ciphertext_crc32c)
        ):
            raise KmsError(f"wrapping by {self._key} came back altered")
        return wrapped

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        answer = self._client.decrypt(
            request={
                "name": self._key,
                "ciphertext": wrapped,
                "ciphertext_crc32c": _crc(wrapped),
                "additional_authenticated_data": context,
                "additional_authenticated_data_crc32c": _crc(context),
            }
        )
        secret = bytes(answer.plaintext)
        if _crc(secret) != int(answer.plaintext_crc32c):
            raise KmsError(f"unwrapping by {self._key} came back altered")
        return secret
