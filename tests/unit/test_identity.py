"""Bearer-token verification: the refusals every verifier shares, its cache, and the choice of one.

``BadTokenContract`` is what every ``CachingVerifier`` refuses and accepts; a subclass provides
the ``harness`` fixture. ``KeyVerifier`` (the development issuer's ES256 key) and ``HmacVerifier``
run it here; ``JwksVerifier`` runs it in tests/integration/test_jwks.py against a real JWKS
endpoint.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auditlog.auth.dev_issuer import DevIssuer
from auditlog.auth.identity import (
    MAX_TOKEN_BYTES,
    CachingVerifier,
    HmacVerifier,
    KeyVerifier,
    Principal,
    VerifiedTokens,
)
from auditlog.auth.jwks import JwksVerifier, usable_keys
from auditlog.auth.verifiers import build_verifier
from auditlog.errors import ConfigurationError, Unauthenticated
from auditlog.settings import Environment, Settings

pytestmark = pytest.mark.unit

ISSUER = "https://issuer.example/"
AUDIENCE = "auditlog"
LEEWAY = 30
HS256_SECRET = b"0123456789abcdef0123456789abcdef-dev-only"
CURSOR_SECRET = "kq3V9x2LmP7rT4sW8yZ1bC6dF0gH5jN2"
SIGNING_KEY = "3f" * 32
DROP = object()  # a claim to leave out


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ``ISSUER``/``AUDIENCE``, with ``overrides`` (``DROP`` removes a claim)."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "tenant_id": "acme",
        "roles": ["audit_reader"],
        "permissions": ["read:audit"],
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not DROP}


def hs256_by_hand(payload: dict[str, Any], key: bytes, headers: dict[str, Any]) -> str:
    """An HS256 token signed with any bytes as the key (PyJWT refuses a PEM as an HMAC key)."""
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', **headers})}.{b64json(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(payload: dict[str, Any], headers: dict[str, Any]) -> str:
    return f"{b64json({'alg': 'none', 'typ': 'JWT', **headers})}.{b64json(payload)}."


@functools.cache
def rsa_2048() -> rsa.RSAPrivateKey:
    """One RSA key for the module (generating one per test costs more than the test)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@dataclass
class Harness:
    """One verifier under test and a way to sign tokens it should accept."""

    build: Callable[[int], CachingVerifier]  # a fresh verifier with the given leeway
    sign: Callable[[dict[str, Any]], str]  # a token over these claims, with the right key
    headers: dict[str, Any]  # extra JOSE headers a hand-made token needs (the `kid`)
    other_algorithm: Callable[[dict[str, Any]], str]  # a token signed with a refused algorithm
    other_key: Callable[[dict[str, Any]], str]  # same algorithm, another key
    public_pem: bytes | None = None  # for algorithm confusion; None for symmetric keys
    secrets: list[bytes] = field(default_factory=list)  # never in a refusal's message
    verifier: CachingVerifier = field(init=False)

    def __post_init__(self) -> None:
        self.verifier = self.build(LEEWAY)


def refuse(harness: Harness, token: str, match: str, verifier: CachingVerifier | None = None) -> None:
    with pytest.raises(Unauthenticated, match=match) as caught:
        (verifier or harness.verifier).verify(token)
    error = caught.value
    assert error.status == 401
    message = json.dumps(error.body("req-1"))
    signature = token.rpartition(".")[2]
    if len(signature) > 8:
        assert signature not in message, "the token is never repeated back"
    for secret in harness.secrets:
        assert secret.decode(errors="replace") not in message
        assert b64url(secret) not in message


def counting(monkeypatch: pytest.MonkeyPatch, verifier: CachingVerifier) -> list[str]:
    """Record each full verification (``_claims``) the verifier performs."""
    calls: list[str] = []
    original = verifier._claims

    def spy(token: str) -> dict[str, Any]:
        calls.append(token)
        return original(token)

    monkeypatch.setattr(verifier, "_claims", spy)
    return calls


class BadTokenContract:
    """What every verifier refuses (401, a reason that repeats no secret) and accepts."""

    def test_accepts_a_good_token(self, harness: Harness) -> None:
        principal = harness.verifier.verify(harness.sign(claims()))
        assert principal == Principal(
            "user-1", "acme", frozenset({"audit_reader"}), frozenset({"read:audit"})
        )

    def test_permissions_are_optional(self, harness: Harness) -> None:
        assert harness.verifier.verify(harness.sign(claims(permissions=DROP))).permissions is None

    def test_an_empty_permissions_claim_is_kept_as_a_claim(self, harness: Harness) -> None:
        principal = harness.verifier.verify(harness.sign(claims(permissions=[])))
        assert principal.permissions == frozenset(), "present and empty: it narrows roles to nothing"

    def test_a_tenant_id_outside_the_allowed_form_is_refused(self, harness: Harness) -> None:
        for tenant in ("__t__", "a/b", "", "x" * 129, ".hidden"):
            refuse(harness, harness.sign(claims(tenant_id=tenant)), "tenant_id")

    def test_only_the_platform_tenant_makes_a_platform_principal(self, harness: Harness) -> None:
        assert not harness.verifier.verify(harness.sign(claims())).platform
        platform = harness.verifier.verify(harness.sign(claims(tenant_id="auditlog-platform")))
        assert platform.platform and platform.tenant_id == "auditlog-platform"

    def test_refuses_alg_none(self, harness: Harness) -> None:
        refuse(harness, unsigned(claims(), harness.headers), "algorithm is not accepted")

    def test_refuses_another_algorithm(self, harness: Harness) -> None:
        refuse(harness, harness.other_algorithm(claims()), "algorithm")

    def test_refuses_hs256_signed_with_the_public_key_pem(self, harness: Harness) -> None:
        assert harness.public_pem is not None
        token = hs256_by_hand(claims(), harness.public_pem, harness.headers)
        refuse(harness, token, "algorithm is not accepted")

    def test_refuses_a_token_signed_by_another_key(self, harness: Harness) -> None:
        refuse(harness, harness.other_key(claims()), "signature does not verify")

    def test_refuses_a_tampered_signature(self, harness: Harness) -> None:
        head, payload, signature = harness.sign(claims()).split(".")
        # A middle character: every one of its 6 bits is signature (the last may be padding).
        middle = len(signature) // 2
        flipped = "A" if signature[middle] != "A" else "B"
        tampered = signature[:middle] + flipped + signature[middle + 1 :]
        refuse(harness, f"{head}.{payload}.{tampered}", "signature does not verify")

    def test_refuses_a_tampered_payload(self, harness: Harness) -> None:
        head, _, signature = harness.sign(claims()).split(".")
        forged = b64json(claims(tenant_id="someone-else"))
        refuse(harness, f"{head}.{forged}.{signature}", "signature does not verify")

    def test_refuses_an_expired_token(self, harness: Harness) -> None:
        now = int(time.time())
        refuse(harness, harness.sign(claims(exp=now - LEEWAY - 5, iat=now - 900)), "expired")

    def test_accepts_a_token_expired_within_the_leeway(self, harness: Harness) -> None:
        now = int(time.time())
        harness.verifier.verify(harness.sign(claims(exp=now - LEEWAY + 10, iat=now - 900)))

    def test_leeway_zero_refuses_a_just_expired_token(self, harness: Harness) -> None:
        now = int(time.time())
        strict = harness.build(0)
        refuse(harness, harness.sign(claims(exp=now - 2, iat=now - 900)), "expired", strict)

    def test_refuses_a_token_not_valid_yet(self, harness: Harness) -> None:
        now = int(time.time())
        refuse(harness, harness.sign(claims(nbf=now + LEEWAY + 60)), "not valid yet")

    def test_accepts_nbf_within_the_leeway(self, harness: Harness) -> None:
        now = int(time.time())
        harness.verifier.verify(harness.sign(claims(nbf=now + LEEWAY - 10)))

    def test_refuses_the_wrong_issuer(self, harness: Harness) -> None:
        refuse(harness, harness.sign(claims(iss="https://evil.example/")), "wrong issuer")

    def test_refuses_the_wrong_audience(self, harness: Harness) -> None:
        refuse(harness, harness.sign(claims(aud="someone-else")), "wrong audience")

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"tenant_id": DROP}, "no `tenant_id` claim"),
            ({"tenant_id": ""}, "no `tenant_id` claim"),
            ({"roles": DROP}, "no `roles` claim"),
            ({"roles": "audit_reader"}, "no `roles` claim"),
            ({"roles": ["audit_reader", 7]}, "no `roles` claim"),
            ({"permissions": "read:audit"}, "`permissions` claim must be a list"),
            ({"sub": DROP}, "no `sub` claim"),
            ({"exp": DROP}, "no `exp` claim"),
            ({"iss": DROP}, "no `iss` claim"),
            ({"aud": DROP}, "no `aud` claim"),
        ],
    )
    def test_refuses_missing_or_mistyped_claims(
        self, harness: Harness, overrides: dict[str, Any], reason: str
    ) -> None:
        refuse(harness, harness.sign(claims(**overrides)), reason)

    def test_refuses_an_oversized_token_before_parsing_it(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        token = harness.sign(claims(padding="x" * MAX_TOKEN_BYTES))
        assert len(token) > MAX_TOKEN_BYTES
        calls = counting(monkeypatch, harness.verifier)
        refuse(harness, token, "too large")
        assert calls == []

    @pytest.mark.parametrize(
        "token",
        [
            "abc",
            "abc.def",
            "a.b.c.d",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig+nature",
            "eyJhbGciOiJIUzI1NiJ9.e30=.signature",
            "eyJhbGciOiJIUzI1NiJ9..signature",
            "..",
            "é.b.c",
            "a.b.c ",
        ],
    )
    def test_refuses_what_is_not_three_base64url_parts(
        self, harness: Harness, token: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = counting(monkeypatch, harness.verifier)
        refuse(harness, token, "not a JWT")
        assert calls == []

    def test_refuses_base64url_garbage_of_the_right_shape(self, harness: Harness) -> None:
        refuse(harness, "aaaa.bbbb.cccc", "malformed")

    def test_a_verified_token_is_not_verified_again(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = counting(monkeypatch, harness.verifier)
        token = harness.sign(claims())
        first = harness.verifier.verify(token)
        assert harness.verifier.verify(token) is first
        assert harness.verifier.verify(token) is first
        assert len(calls) == 1

    def test_a_refused_token_is_not_remembered(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = counting(monkeypatch, harness.verifier)
        token = harness.sign(claims(roles=DROP))
        for _ in range(2):
            refuse(harness, token, "no `roles` claim")
        assert len(calls) == 2

    def test_a_cached_token_is_refused_once_it_expires(self, harness: Harness) -> None:
        strict = harness.build(0)
        expires = int(time.time() + 1.5)  # between 0.5 and 1.5 s from now
        token = harness.sign(claims(exp=expires))
        strict.verify(token)
        strict.verify(token)  # from the cache
        time.sleep(max(0.0, expires - time.time()) + 0.05)
        refuse(harness, token, "expired", strict)


# -- KeyVerifier: the development issuer's ES256 key ----------------------------------------


class TestKeyVerifier(BadTokenContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Harness:
        issuer = DevIssuer(tmp_path, issuer=ISSUER, audience=AUDIENCE)
        private = serialization.load_pem_private_key((tmp_path / "dev-issuer-key.pem").read_bytes(), None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        stranger = ec.generate_private_key(ec.SECP256R1())
        rsa_key = rsa_2048()
        return Harness(
            build=issuer.verifier,
            sign=lambda c: jwt.encode(c, private, algorithm="ES256"),
            headers={},
            other_algorithm=lambda c: jwt.encode(c, rsa_key, algorithm="RS256"),
            other_key=lambda c: jwt.encode(c, stranger, algorithm="ES256"),
            public_pem=pem(private.public_key()),
        )

    def test_accepts_what_the_development_issuer_issues(self, tmp_path: Path) -> None:
        issuer = DevIssuer(tmp_path, issuer="auditlog-dev", audience="auditlog")
        token = issuer.issue(tenant_id="acme", roles=["audit_writer"], permissions=["write:audit"])
        principal = issuer.verifier(30).verify(token)
        assert (principal.tenant_id, principal.roles) == ("acme", frozenset({"audit_writer"}))


# -- HmacVerifier: HS256, development only ---------------------------------------------------


class TestHmacVerifier(BadTokenContract):
    # A symmetric key has no public half to confuse it with: that case does not exist here.
    test_refuses_hs256_signed_with_the_public_key_pem = None  # type: ignore[assignment]

    @pytest.fixture
    def harness(self) -> Harness:
        es_key = ec.generate_private_key(ec.SECP256R1())
        return Harness(
            build=lambda leeway: HmacVerifier(HS256_SECRET, issuer=ISSUER, audience=AUDIENCE, leeway=leeway),
            sign=lambda c: jwt.encode(c, HS256_SECRET, algorithm="HS256"),
            headers={},
            other_algorithm=lambda c: jwt.encode(c, es_key, algorithm="ES256"),
            other_key=lambda c: jwt.encode(c, secrets.token_bytes(32), algorithm="HS256"),
            secrets=[HS256_SECRET],
        )

    @pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
    def test_refuses_hs512_with_the_same_secret(self, harness: Harness) -> None:
        refuse(harness, jwt.encode(claims(), HS256_SECRET, algorithm="HS512"), "algorithm")

    def test_refuses_a_secret_shorter_than_32_bytes(self) -> None:
        with pytest.raises(ConfigurationError, match="at least 32 bytes"):
            HmacVerifier(b"x" * 31, issuer=ISSUER, audience=AUDIENCE, leeway=0)


# -- The verified-token cache on its own clock -----------------------------------------------


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def someone(name: str) -> Principal:
    return Principal(name, "acme", frozenset(), frozenset())


def test_cache_entries_live_until_exp_plus_leeway() -> None:
    clock = FakeClock()
    cache = VerifiedTokens(size=10, leeway=30, clock=clock)
    cache.put("t", int(clock.now) + 60, someone("a"))
    clock.advance(89)
    assert cache.get("t") == someone("a")
    clock.advance(1)  # exp + leeway: PyJWT refuses it now, so must the cache
    assert cache.get("t") is None
    assert len(cache) == 0


def test_cache_is_bounded_and_drops_the_oldest_first() -> None:
    clock = FakeClock()
    cache = VerifiedTokens(size=3, leeway=0, clock=clock)
    for name in "abcd":
        cache.put(name, int(clock.now) + 60, someone(name))
    assert len(cache) == 3
    assert cache.get("a") is None
    assert [cache.get(n) for n in "bcd"] == [someone(n) for n in "bcd"]
    cache.put("d", int(clock.now) + 60, someone("d"))  # a refresh does not evict
    assert len(cache) == 3 and cache.get("b") is not None


def test_key_verifier_cache_is_bounded(tmp_path: Path) -> None:
    issuer = DevIssuer(tmp_path, issuer=ISSUER, audience=AUDIENCE)
    verifier = KeyVerifier(issuer.verifier(0)._key, issuer=ISSUER, audience=AUDIENCE, leeway=0, cache_size=5)
    for n in range(20):
        verifier.verify(issuer.issue(tenant_id="acme", roles=[], subject=f"u{n}"))
    assert len(verifier._verified) == 5


# -- JWK sets: which keys are used ------------------------------------------------------------


def jwk(public_key: Any, **extra: Any) -> dict[str, Any]:
    if isinstance(public_key, rsa.RSAPublicKey):
        data = jwt.algorithms.RSAAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        data = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {**data, **extra}


def test_usable_keys_keeps_signing_keys_for_accepted_algorithms_only() -> None:
    rsa_key = rsa_2048()
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    document = {
        "keys": [
            jwk(rsa_key.public_key(), kid="rsa", use="sig"),
            jwk(ec_key.public_key(), kid="ec"),
            jwk(rsa_key.public_key(), kid="enc", use="enc"),  # Keycloak publishes one of these
            jwk(rsa_key.public_key()),  # no kid
            jwk(weak.public_key(), kid="weak"),
            jwk(p384.public_key(), kid="p384"),  # ES384: not in the accepted list
            jwk(rsa_key.public_key(), kid="ps", alg="PS256"),  # not accepted either
            {"kty": "oct", "kid": "hmac", "k": b64url(HS256_SECRET)},
            {"kty": "RSA", "kid": "broken", "n": "AQAB"},
            jwk(ec_key.public_key(), kid="private", d=b64url(b"x" * 32)),
            "not a key",
        ]
    }
    keys = usable_keys(document, {"RS256", "ES256"})
    assert sorted(keys) == ["ec", "rsa"]
    assert (keys["rsa"].algorithm_name, keys["ec"].algorithm_name) == ("RS256", "ES256")


@pytest.mark.parametrize("document", [[], {"keys": "x"}, {"keys": []}, {"nokeys": 1}])
def test_usable_keys_refuses_what_is_not_a_jwk_set(document: Any) -> None:
    with pytest.raises(Exception, match="JWK set"):
        usable_keys(document, {"RS256"})


# -- build_verifier and the identity settings -------------------------------------------------


def settings(**values: Any) -> Settings:
    if values.get("environment") is Environment.PRODUCTION:
        values.setdefault("cursor_secret", CURSOR_SECRET)
        values.setdefault("signing_key", SIGNING_KEY)
    return Settings(**values)


def test_development_defaults_to_the_local_issuer(tmp_path: Path) -> None:
    verifier = build_verifier(settings(), tmp_path)
    assert type(verifier) is KeyVerifier
    token = DevIssuer(tmp_path, issuer="auditlog-dev", audience="auditlog").issue(
        tenant_id="acme", roles=["audit_reader"]
    )
    assert verifier.verify(token).tenant_id == "acme"


def test_development_uses_hs256_when_a_secret_is_configured(tmp_path: Path) -> None:
    verifier = build_verifier(settings(jwt_hs256_secret=HS256_SECRET.decode()), tmp_path)
    assert isinstance(verifier, HmacVerifier)
    token = jwt.encode(claims(iss="auditlog-dev", aud="auditlog"), HS256_SECRET, algorithm="HS256")
    assert verifier.verify(token).subject == "user-1"
    assert not (tmp_path / "dev-issuer-key.pem").exists(), "no dev key is made when unused"


def test_a_jwks_url_selects_the_jwks_verifier_without_fetching(tmp_path: Path) -> None:
    verifier = build_verifier(settings(jwt_jwks_url="http://127.0.0.1:9/jwks"), tmp_path)
    assert isinstance(verifier, JwksVerifier)
    assert verifier.fetch_attempts == 0
    production = settings(
        environment=Environment.PRODUCTION,
        jwt_jwks_url="https://issuer.example/.well-known/jwks.json",
        jwt_issuer=ISSUER,
        jwt_algorithms=("RS256",),
    )
    assert isinstance(build_verifier(production, tmp_path), JwksVerifier)


def test_production_without_a_jwks_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="AUDITLOG_JWT_JWKS_URL"):
        build_verifier(settings(environment=Environment.PRODUCTION), tmp_path)
    assert not (tmp_path / "dev-issuer-key.pem").exists()


def test_production_jwks_with_the_development_issuer_name_is_refused(tmp_path: Path) -> None:
    prod = settings(environment=Environment.PRODUCTION, jwt_jwks_url="https://issuer.example/jwks")
    with pytest.raises(ConfigurationError, match="AUDITLOG_JWT_ISSUER"):
        build_verifier(prod, tmp_path)


def test_jwks_url_and_hs256_secret_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        settings(jwt_jwks_url="http://127.0.0.1:9/jwks", jwt_hs256_secret=HS256_SECRET.decode())


def test_hs256_secret_is_refused_outside_development_without_repeating_it() -> None:
    with pytest.raises(ConfigurationError, match="outside development") as caught:
        settings(environment=Environment.PRODUCTION, jwt_hs256_secret=HS256_SECRET.decode())
    assert HS256_SECRET.decode()[:8] not in str(caught.value)


def test_hs256_secret_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes") as caught:
        settings(jwt_hs256_secret="too-short-a-secret")
    assert "too-short" not in str(caught.value)


def test_hs256_secret_never_appears_in_a_repr() -> None:
    assert HS256_SECRET.decode() not in repr(settings(jwt_hs256_secret=HS256_SECRET.decode()))


def test_plain_http_jwks_is_refused_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        settings(environment=Environment.PRODUCTION, jwt_jwks_url="http://issuer.example/jwks")
    assert settings(jwt_jwks_url="http://127.0.0.1:8081/jwks").jwt_jwks_url


@pytest.mark.parametrize("algorithms", [(), ("HS256",), ("RS256", "none"), ("RS256", "HS512")])
def test_symmetric_or_unknown_jwks_algorithms_are_refused(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="AUDITLOG_JWT_ALGORITHMS"):
        settings(jwt_algorithms=algorithms)
    with pytest.raises(ConfigurationError):
        JwksVerifier(
            "https://x.example/jwks", issuer=ISSUER, audience=AUDIENCE, leeway=0, algorithms=algorithms
        )


def test_identity_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLOG_JWT_JWKS_URL", "https://issuer.example/jwks")
    monkeypatch.setenv("AUDITLOG_JWT_ALGORITHMS", '["RS256"]')
    monkeypatch.setenv("AUDITLOG_JWKS_MIN_REFRESH_SECONDS", "60")
    s = Settings()
    assert (s.jwt_jwks_url, s.jwt_algorithms, s.jwks_min_refresh_seconds) == (
        "https://issuer.example/jwks",
        ("RS256",),
        60.0,
    )
    assert s.jwt_hs256_secret is None
