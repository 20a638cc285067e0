"""Tokens from an OIDC issuer, verified with the keys its JWKS URL publishes; and Cloud
Scheduler's Google ID tokens, which run the scheduled jobs."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auditlog.auth.identity import MALFORMED, CachingVerifier, Principal, TokenVerifier
from auditlog.errors import ConfigurationError, Unauthenticated, Unavailable
from auditlog.settings import ASYMMETRIC_ALGORITHMS, DEFAULT_PLATFORM_TENANT

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 512 * 1024
MIN_RSA_BITS = 2048
_KEYS_UNAVAILABLE = "signing keys unavailable; retry shortly"


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
        platform_tenant: str = DEFAULT_PLATFORM_TENANT,
    ) -> None:
        super().__init__(
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            cache_size=cache_size,
            platform_tenant=platform_tenant,
        )
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
            raise Unauthenticated(MALFORMED) from None
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


GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_JWKS_URL = "https://www.googleapis.com/oauth2/v3/certs"
SCHEDULER_ROLE = "auditlog_scheduler"


class ServiceAccountVerifier(JwksVerifier):
    """Google-signed ID tokens of one service account (Cloud Scheduler's OIDC tokens), taken as
    the ``auditlog_scheduler`` role of the platform tenant, which may run the retention and
    integrity jobs and nothing else (``access.py``). Only that account's tokens for that
    audience pass."""

    def __init__(
        self,
        email: str,
        *,
        audience: str,
        jwks_url: str = GOOGLE_JWKS_URL,
        leeway: int = 30,
        platform_tenant: str = DEFAULT_PLATFORM_TENANT,
    ) -> None:
        super().__init__(
            jwks_url,
            issuer=GOOGLE_ISSUER,
            audience=audience,
            leeway=leeway,
            algorithms=("RS256",),
            platform_tenant=platform_tenant,
        )
        self._email = email

    def _principal(self, claims: dict[str, Any]) -> Principal:
        if claims.get("email") != self._email or claims.get("email_verified") is not True:
            raise Unauthenticated("this Google identity may not call the API")
        return Principal(
            self._email, self._platform_tenant, frozenset({SCHEDULER_ROLE}), None, platform=True
        )


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
