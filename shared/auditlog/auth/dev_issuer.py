"""The local development issuer: an ES256 key kept in the data dir, which mints the tokens
``auditlog token`` prints. Never used outside development (``Settings.token_verifier``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditlog.auth.identity import KeyVerifier
from auditlog.settings import DEFAULT_PLATFORM_TENANT

DEV_KEY_FILE = "dev-issuer-key.pem"


class DevIssuer:
    """The local development issuer: an ES256 key kept in the data dir."""

    def __init__(self, data_dir: Path, *, issuer: str, audience: str) -> None:
        self._path = data_dir / DEV_KEY_FILE
        self._issuer = issuer
        self._audience = audience
        self._key = self._load_or_create()

    def _load_or_create(self) -> ec.EllipticCurvePrivateKey:
        if not self._path.exists():
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            tmp = self._path.with_suffix(".tmp")
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
                out.write(pem)
            tmp.replace(self._path)
        loaded = serialization.load_pem_private_key(self._path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{self._path} is not an EC private key")
        return loaded

    def issue(
        self,
        *,
        tenant_id: str,
        roles: list[str],
        subject: str = "dev-user",
        permissions: list[str] | None = None,
        ttl_seconds: int = 12 * 3600,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "tenant_id": tenant_id,
            "roles": roles,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_seconds,
        }
        if permissions is not None:
            claims["permissions"] = permissions
        return jwt.encode(claims, self._key, algorithm="ES256")

    def verifier(self, leeway: int, *, platform_tenant: str = DEFAULT_PLATFORM_TENANT) -> KeyVerifier:
        return KeyVerifier(
            self._key.public_key(),
            issuer=self._issuer,
            audience=self._audience,
            leeway=leeway,
            platform_tenant=platform_tenant,
        )
