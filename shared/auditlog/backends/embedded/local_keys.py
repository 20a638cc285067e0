"""The embedded key encryption key: AES-256-GCM under 32 random bytes kept in the data dir
(``wrapping-key``, mode 0600), the local counterpart of ``backends/gcp/kms.py``'s KMS key."""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class AesKeyWrapper:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a key encryption key is 32 bytes")
        self._aead = AESGCM(key)
        self._name = "local:" + hashlib.sha256(b"auditlog-kek\x00" + key).hexdigest()[:16]

    @property
    def name(self) -> str:
        return self._name

    def wrap(self, secret: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, secret, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:12], wrapped[12:], context)
        except InvalidTag:
            raise ValueError("the wrapped secret or its context was altered") from None
