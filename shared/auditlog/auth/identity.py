"""Who is calling: bearer JWTs turned into a ``Principal``.

Three verifiers, one behaviour (``CachingVerifier``): a token's size and shape are checked before
anything is parsed, verified tokens are remembered (bounded) until they expire, and every refusal
is an ``Unauthenticated`` whose message names the rule, never the token, a key or a secret.

- ``JwksVerifier``: production; RS256/ES256 tokens from any OIDC issuer, keys from its JWKS URL.
- ``KeyVerifier``: one known public key; the local development issuer's ES256 key (``DevIssuer``).
- ``HmacVerifier``: HS256 with a shared secret; development only, and only when configured.

``build_verifier`` chooses one from the settings.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auditlog.errors import ConfigurationError, Unauthenticated, Unavailable

if TYPE_CHECKING:
    from auditlog.settings import Settings

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 8 * 1024
DEV_KEY_FILE = "dev-issuer-key.pem"
MIN_HS256_SECRET_BYTES = 32
# What a JWKS issuer may sign with. Symmetric algorithms never: the keys are public.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
MAX_JWKS_BYTES = 512 * 1024
MIN_RSA_BITS = 2048

# RFC 7515 compact serialization: three base64url parts without padding. The signature part is
# empty only for `alg: none`, which the algorithm check then refuses with its own reason.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_MALFORMED = "token is malformed or its signature does not verify"
_KEYS_UNAVAILABLE = "signing keys unavailable; retry shortly"
_DEV_ISSUER_NAME = "auditlog-dev"  # the default of AUDITLOG_JWT_ISSUER


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
        raise Unauthenticated(_MALFORMED) from None
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

    def __init__(self, *, issuer: str, audience: str, leeway: int, cache_size: int = 4096) -> None:
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._verified = VerifiedTokens(cache_size, leeway)

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
        return principal_from_claims(claims)

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
    ) -> None:
        super().__init__(issuer=issuer, audience=audience, leeway=leeway, cache_size=cache_size)
        self._key = public_key
        self._algorithms = (algorithm,)

    def _claims(self, token: str) -> dict[str, Any]:
        return self._decode(token, self._key, self._algorithms)


class HmacVerifier(KeyVerifier):
    """HS256 with a shared secret. Local development only: whoever can verify can also sign."""

    def __init__(
        self, secret: bytes, *, issuer: str, audience: str, leeway: int, cache_size: int = 4096
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
        )


class _FetchFailed(Exception):
    """The JWKS could not be fetched or held no usable key (the message is for the log)."""


def _jwk_algorithm(jwk: dict[str, Any]) -> str | None:
    alg = jwk.get("alg")
    if isinstance(alg, str):
        return alg
    if jwk.get("kty") == "RSA":
        return "RS256"
    crv = jwk.get("crv")
    return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(crv) if isinstance(crv, str) else None


def usable_keys(document: Any, algorithms: Collection[str]) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWK set, by ``kid``: RSA (>= 2048 bits) and EC keys for one of
    ``algorithms``. Encryption keys, symmetric keys, keys without a ``kid`` and keys PyJWT cannot
    load are skipped; each key is bound to one algorithm, so a token cannot choose another."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _FetchFailed("the response is not a JWK set (an object with a `keys` list)")
    keys: dict[str, jwt.PyJWK] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("RSA", "EC"):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys or jwk.get("use", "sig") != "sig":
            continue
        alg = _jwk_algorithm(jwk)
        if alg is None or alg not in algorithms:
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        if not isinstance(key.key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            continue  # a private key published by mistake
        if isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < MIN_RSA_BITS:
            continue
        keys[kid] = key
    if not keys:
        raise _FetchFailed("the JWK set holds no usable signing key")
    return keys


class JwksVerifier(CachingVerifier):
    """Tokens from an OIDC issuer, verified with the keys its JWKS URL publishes.

    Keys are picked by the token's ``kid``. The key set is fetched on first use, again when a
    token names an unknown ``kid`` (key rotation), and in the background once it is older than
    ``max_age_seconds`` (so keys the issuer removed stop verifying). No two fetch attempts,
    successful or not, are closer than ``min_refresh_seconds``: a flood of tokens with made-up
    kids, or an issuer that is down, costs at most one request per interval, and requests in
    between answer from what is known. One fetch at a time; each is bounded by
    ``timeout_seconds`` (connect, each read, and the whole body) and ``MAX_JWKS_BYTES``.

    When no key set can be had, a token is answered with ``Unavailable`` (503, retry), not
    ``Unauthenticated``: the token may well be valid and the fault is ours. A set that was
    fetched once is kept while refreshes fail.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        leeway: int,
        algorithms: Collection[str] = ("RS256", "ES256"),
        min_refresh_seconds: float = 30.0,
        max_age_seconds: float = 600.0,
        timeout_seconds: float = 3.0,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(issuer=issuer, audience=audience, leeway=leeway, cache_size=cache_size)
        refused = set(algorithms) - ASYMMETRIC_ALGORITHMS
        if refused or not algorithms:
            raise ConfigurationError(
                f"JWKS algorithms must be among {sorted(ASYMMETRIC_ALGORITHMS)}; refused: {sorted(refused)}"
            )
        if httpx.URL(jwks_url).scheme not in ("http", "https"):
            raise ConfigurationError("the JWKS URL must be an http(s) URL")
        self._url = jwks_url
        self._algorithms = frozenset(algorithms)
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None  # clock() of the last successful fetch
        self._attempted_at: float | None = None  # clock() of the last attempt
        self._failing = False  # the last attempt failed
        self._fetch_lock = threading.Lock()  # one fetch at a time
        self._state_lock = threading.Lock()  # the background refresher
        self._background: threading.Thread | None = None
        self.fetch_attempts = 0

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated(_MALFORMED) from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise Unauthenticated("token's signing algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("token has no `kid` header")
        key = self._signing_key(kid)
        if key.algorithm_name != alg:
            raise Unauthenticated("token's signing algorithm does not match its key")
        return self._decode(token, key, (alg,))

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            loaded = self._loaded_at
            if loaded is not None and self._clock() - loaded >= self._max_age:
                self._refresh_in_background()
            return key
        self.refresh()
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self._failing or self._loaded_at is None:
            raise Unavailable(_KEYS_UNAVAILABLE)
        raise Unauthenticated("token's signing key (`kid`) is not among the issuer's keys")

    def refresh(self, *, wait: bool = True) -> None:
        """Fetch the key set unless an attempt was made less than ``min_refresh_seconds`` ago.

        With ``wait``, a caller arriving during another's fetch waits for that one to end
        (bounded by the timeout) rather than starting its own.
        """
        if not self._fetch_lock.acquire(blocking=wait):
            return
        try:
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self._min_refresh:
                return
            self._attempted_at = now
            self.fetch_attempts += 1
            try:
                keys = self._fetch()
            except _FetchFailed as exc:
                self._failing = True
                log.warning("JWKS fetch from %s failed: %s", self._url, exc)
                return
            removed = self._keys.keys() - keys.keys()
            self._keys = keys
            self._loaded_at = self._clock()
            self._failing = False
            if removed:
                # Tokens verified with a key the issuer withdrew are not trusted any longer.
                self._verified.clear()
        finally:
            self._fetch_lock.release()

    def _refresh_in_background(self) -> None:
        with self._state_lock:
            if self._background is not None and self._background.is_alive():
                return
            attempted = self._attempted_at
            if attempted is not None and self._clock() - attempted < self._min_refresh:
                return
            self._background = threading.Thread(
                target=self.refresh, kwargs={"wait": False}, name="jwks-refresh", daemon=True
            )
            self._background.start()

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        deadline = time.monotonic() + self._timeout
        body = bytearray()
        try:
            with (
                httpx.Client(timeout=self._timeout, follow_redirects=False) as client,
                client.stream("GET", self._url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise _FetchFailed(f"HTTP {response.status_code}")
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise _FetchFailed(f"the response is larger than {MAX_JWKS_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise _FetchFailed(f"the response took longer than {self._timeout} s")
        except httpx.HTTPError as exc:
            raise _FetchFailed(f"{type(exc).__name__}: {exc}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise _FetchFailed("the response is not JSON") from None
        return usable_keys(document, self._algorithms)


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


GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
SCHEDULER_TENANT = "system"


class ServiceAccountVerifier(JwksVerifier):
    """Google-signed ID tokens of one service account (Cloud Scheduler's OIDC tokens), taken as
    ``system_admin`` of the ``system`` tenant. Only that account's tokens for that audience pass:
    the scheduler can run retention and the integrity job, nothing else can this way."""

    def __init__(
        self, email: str, *, audience: str, jwks_url: str = GOOGLE_JWKS_URL, leeway: int = 30
    ) -> None:
        super().__init__(
            jwks_url, issuer=GOOGLE_ISSUER, audience=audience, leeway=leeway, algorithms=("RS256",)
        )
        self._email = email

    def _principal(self, claims: dict[str, Any]) -> Principal:
        if claims.get("email") != self._email or claims.get("email_verified") is not True:
            raise Unauthenticated("this Google identity may not call the API")
        return Principal(self._email, SCHEDULER_TENANT, frozenset({"system_admin"}), frozenset())


class EitherVerifier:
    """The issuer's tokens, and the scheduler's Google tokens, told apart by their ``iss``."""

    def __init__(self, primary: TokenVerifier, google: ServiceAccountVerifier) -> None:
        self._primary = primary
        self._google = google

    def verify(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            issuer = None
        return (self._google if issuer == GOOGLE_ISSUER else self._primary).verify(token)


def build_verifier(settings: Settings, data_dir: Path) -> TokenVerifier:
    primary = _primary_verifier(settings, data_dir)
    if settings.scheduler_service_account and settings.scheduler_audience:
        google = ServiceAccountVerifier(
            settings.scheduler_service_account,
            audience=settings.scheduler_audience,
            leeway=settings.jwt_leeway_seconds,
        )
        return EitherVerifier(primary, google)
    return primary


def _primary_verifier(settings: Settings, data_dir: Path) -> TokenVerifier:
    """The verifier the settings ask for: the issuer's JWKS when ``jwt_jwks_url`` is set; else,
    in development only, HS256 when ``jwt_hs256_secret`` is set, or the development issuer's key
    in ``data_dir``. Production without a JWKS URL is a ``ConfigurationError``."""
    secret = settings.jwt_hs256_secret
    if settings.jwt_jwks_url and secret is not None:
        raise ConfigurationError(
            "set AUDITLOG_JWT_JWKS_URL or AUDITLOG_JWT_HS256_SECRET, not both "
            "(one of them would be silently ignored)"
        )
    if settings.jwt_jwks_url:
        if not settings.is_development and settings.jwt_issuer == _DEV_ISSUER_NAME:
            raise ConfigurationError(
                "AUDITLOG_JWT_ISSUER must be set to the issuer's `iss` (it is still the development default)"
            )
        return JwksVerifier(
            settings.jwt_jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            algorithms=settings.jwt_algorithms,
            min_refresh_seconds=settings.jwks_min_refresh_seconds,
            max_age_seconds=settings.jwks_max_age_seconds,
            timeout_seconds=settings.jwks_timeout_seconds,
        )
    if not settings.is_development:
        raise ConfigurationError(
            "production needs an OIDC issuer: set AUDITLOG_JWT_JWKS_URL, AUDITLOG_JWT_ISSUER and "
            "AUDITLOG_JWT_AUDIENCE (or AUDITLOG_ENVIRONMENT=development for the local issuer)"
        )
    if secret is not None:
        return HmacVerifier(
            secret.get_secret_value().encode(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
        )
    issuer = DevIssuer(data_dir, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return issuer.verifier(settings.jwt_leeway_seconds)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing `Authorization: Bearer <token>` header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be `Bearer <token>`")
    return token.strip()
