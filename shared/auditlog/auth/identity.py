"""Who is calling: bearer JWTs turned into a ``Principal``.

Three verifiers, one behaviour (``CachingVerifier``): a token's size and shape are checked before
anything is parsed, verified tokens are remembered (bounded) until they expire, and every refusal
is an ``Unauthenticated`` whose message names the rule, never the token, a key or a secret.

- ``JwksVerifier`` (``jwks.py``): production; RS256/ES256 tokens from any OIDC issuer, keys from its
  JWKS URL.
- ``KeyVerifier``: one known public key; the local development issuer's ES256 key
  (``dev_issuer.py``).
- ``HmacVerifier``: HS256 with a shared secret; development only, and only when configured.

``verifiers.build_verifier`` builds the one ``Settings.token_verifier`` names.
"""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from auditlog.errors import ConfigurationError, Unauthenticated
from auditlog.model.tenant import TENANT_ID_RULE, is_tenant_id
from auditlog.settings import DEFAULT_PLATFORM_TENANT, MIN_HS256_SECRET_BYTES

MAX_TOKEN_BYTES = 8 * 1024

# RFC 7515 compact serialization: three base64url parts without padding. The signature part is
# empty only for `alg: none`, which the algorithm check then refuses with its own reason.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
MALFORMED = "token is malformed or its signature does not verify"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``permissions``: the token's permissions claim, None when it has none (an
    empty claim narrows the roles to nothing); ``platform``: the token's tenant is the platform
    tenant (``access.py``); ``via``: the service identity acting for ``subject``, if any."""

    subject: str
    tenant_id: str
    roles: frozenset[str]
    permissions: frozenset[str] | None = None
    platform: bool = False
    via: str | None = None


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal: ...


MAX_SUBJECT_LENGTH = 256  # as an event's user_id


def principal_from_claims(
    claims: dict[str, Any], platform_tenant: str = DEFAULT_PLATFORM_TENANT
) -> Principal:
    sub = claims.get("sub")
    tenant = claims.get("tenant_id")
    roles = claims.get("roles")
    permissions = claims.get("permissions")
    if not isinstance(sub, str) or not sub:
        raise Unauthenticated("token has no `sub` claim")
    if len(sub) > MAX_SUBJECT_LENGTH:
        raise Unauthenticated(f"token's `sub` claim is longer than {MAX_SUBJECT_LENGTH} characters")
    if not isinstance(tenant, str) or not tenant:
        raise Unauthenticated("token has no `tenant_id` claim")
    if not is_tenant_id(tenant):
        raise Unauthenticated(f"token's `tenant_id` {TENANT_ID_RULE}")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated("token has no `roles` claim (a list of strings)")
    if permissions is not None and (
        not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions)
    ):
        raise Unauthenticated("token's `permissions` claim must be a list of strings")
    return Principal(
        sub,
        tenant,
        frozenset(roles),
        None if permissions is None else frozenset(permissions),
        platform=tenant == platform_tenant,
    )


def decode_claims(
    token: str,
    key: Any,
    *,
    algorithms: Sequence[str],
    issuer: str,
    audience: str,
    leeway: int,
) -> dict[str, Any]:
    """``jwt.decode`` with the claims every verifier requires, its errors as ``Unauthenticated``."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            issuer=issuer,
            audience=audience,
            leeway=leeway,
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
    except jwt.InvalidAlgorithmError:
        raise Unauthenticated("token's signing algorithm is not accepted") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated(MALFORMED) from None
    return claims


class VerifiedTokens:
    """Tokens that passed verification, each until its ``exp`` (plus leeway); at most ``size``,
    the oldest dropped first. Thread-safe."""

    def __init__(self, size: int, leeway: int, clock: Callable[[], float] = time.time) -> None:
        self._entries: dict[str, tuple[int, Principal]] = {}
        self._size = size
        self._leeway = leeway
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        with self._lock:
            known = self._entries.get(token)
            if known is None:
                return None
            expires, principal = known
            # The rule PyJWT applies: refused once exp <= now - leeway.
            if self._clock() < expires + self._leeway:
                return principal
            del self._entries[token]
            return None

    def put(self, token: str, expires: int, principal: Principal) -> None:
        with self._lock:
            if token not in self._entries and len(self._entries) >= self._size:
                del self._entries[next(iter(self._entries))]
            self._entries[token] = (expires, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class CachingVerifier(ABC):
    """The shared half of every verifier: size and shape first, then the cache, then ``_claims``.

    A signature check costs more than the rest of a small write, and clients reuse a token for
    many requests, so verified tokens are remembered (bounded) until they expire.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        leeway: int,
        cache_size: int = 4096,
        platform_tenant: str = DEFAULT_PLATFORM_TENANT,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified = VerifiedTokens(cache_size, leeway)
        self._platform_tenant = platform_tenant

    def verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated("token is too large")
        if not _COMPACT_JWS.fullmatch(token):
            raise Unauthenticated("token is not a JWT (three base64url parts)")
        known = self._verified.get(token)
        if known is not None:
            return known
        claims = self._claims(token)
        principal = self._principal(claims)
        self._verified.put(token, int(claims["exp"]), principal)
        return principal

    def _principal(self, claims: dict[str, Any]) -> Principal:
        return principal_from_claims(claims, self._platform_tenant)

    @abstractmethod
    def _claims(self, token: str) -> dict[str, Any]:
        """The token's verified claims (signature, exp/nbf, iss, aud), or ``Unauthenticated``."""

    def _decode(self, token: str, key: Any, algorithms: Sequence[str]) -> dict[str, Any]:
        return decode_claims(
            token,
            key,
            algorithms=algorithms,
            issuer=self._issuer,
            audience=self._audience,
            leeway=self._leeway,
        )


class KeyVerifier(CachingVerifier):
    """Verifies tokens signed by one known key (the development issuer's ES256 key)."""

    def __init__(
        self,
        public_key: Any,
        *,
        issuer: str,
        audience: str,
        leeway: int,
        cache_size: int = 4096,
        algorithm: str = "ES256",
        platform_tenant: str = DEFAULT_PLATFORM_TENANT,
    ) -> None:
        super().__init__(
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            cache_size=cache_size,
            platform_tenant=platform_tenant,
        )
        self._key = public_key
        self._algorithms = (algorithm,)

    def _claims(self, token: str) -> dict[str, Any]:
        return self._decode(token, self._key, self._algorithms)


class HmacVerifier(KeyVerifier):
    """HS256 with a shared secret. Local development only: whoever can verify can also sign."""

    def __init__(
        self,
        secret: bytes,
        *,
        issuer: str,
        audience: str,
        leeway: int,
        cache_size: int = 4096,
        platform_tenant: str = DEFAULT_PLATFORM_TENANT,
    ) -> None:
        if len(secret) < MIN_HS256_SECRET_BYTES:
            raise ConfigurationError(f"the HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes")
        super().__init__(
            secret,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            cache_size=cache_size,
            algorithm="HS256",
            platform_tenant=platform_tenant,
        )


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing `Authorization: Bearer <token>` header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    return token.strip()
