"""Who is calling: bearer JWTs turned into a ``Principal``.

Locally a development issuer signs ES256 tokens with a key generated into the data dir; the server
started on the same data dir verifies them. Production issuers (JWKS) come with the access-control
issue; they plug in as another ``TokenVerifier``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from auditlog.errors import Unauthenticated

MAX_TOKEN_BYTES = 8 * 1024
DEV_KEY_FILE = "dev-issuer-key.pem"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    tenant_id: str
    roles: frozenset[str]
    permissions: frozenset[str]


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal: ...


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    sub = claims.get("sub")
    tenant = claims.get("tenant_id")
    roles = claims.get("roles")
    permissions = claims.get("permissions", [])
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("token has no `sub` claim")
    if not isinstance(tenant, str) or not tenant:
        raise Unauthenticated("token has no `tenant_id` claim")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated("token has no `roles` claim (a list of strings)")
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise Unauthenticated("token's `permissions` claim must be a list of strings")
    return Principal(sub, tenant, frozenset(roles), frozenset(permissions))


class KeyVerifier:
    """Verifies tokens signed by one known public key (the development issuer's).

    A signature check costs more than the rest of a small write, and clients reuse a token for
    many requests, so verified tokens are remembered (bounded) until they expire.
    """

    def __init__(
        self, public_key: Any, *, issuer: str, audience: str, leeway: int, cache_size: int = 4096
    ) -> None:
        self._key = public_key
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._cache_size = cache_size

    def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated("token is too large")
        known = self._verified.get(token)
        if known is not None:
            expires, principal = known
            if time.time() < expires + self._leeway:
                return principal
            self._verified.pop(token, None)
        principal, expires = self._check(token)
        if len(self._verified) >= self._cache_size:
            self._verified.pop(next(iter(self._verified)), None)  # oldest first
        self._verified[token] = (expires, principal)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["ES256"],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("token has the wrong issuer") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("token has the wrong audience") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"token has no `{exc.claim}` claim") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("token is malformed or its signature does not verify") from None
        return principal_from_claims(claims), float(claims["exp"])


class DevIssuer:
    """The local development issuer: an ES256 key kept in the data dir."""

    def __init__(self, data_dir: Path, *, issuer: str, audience: str) -> None:
        self._path = data_dir / DEV_KEY_FILE
        self._issuer = issuer
        self._audience = audience
        self._key = self._load_or_create()

    def _load_or_create(self) -> ec.EllipticCurvePrivateKey:
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            tmp = self._path.with_suffix(".tmp")
            tmp.write_bytes(pem)
            tmp.chmod(0o600)
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

    def verifier(self, leeway: int) -> KeyVerifier:
        return KeyVerifier(
            self._key.public_key(), issuer=self._issuer, audience=self._audience, leeway=leeway
        )


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing `Authorization: Bearer <token>` header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    return token.strip()
