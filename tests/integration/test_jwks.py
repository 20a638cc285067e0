"""``JwksVerifier`` against a real JWKS endpoint: an HTTP server on 127.0.0.1 in a thread.

The bad-token contract of tests/unit/test_identity.py runs here with an RSA and with an EC key;
then what only a remote key set has: rotation, a flood of unknown kids, withdrawn keys, and an
issuer that is down, slow or answering nonsense.
"""

from __future__ import annotations

import functools
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auditlog.auth.jwks import JwksVerifier
from auditlog.errors import AuditLogError, Unauthenticated, Unavailable
from tests.conftest import free_port, wait_for
from tests.unit.test_identity import (
    AUDIENCE,
    ISSUER,
    LEEWAY,
    BadTokenContract,
    FakeClock,
    Harness,
    b64url,
    claims,
    hs256_by_hand,
    jwk,
    pem,
    rsa_2048,
)

pytestmark = pytest.mark.integration

RSA_KID = "rsa-1"
EC_KID = "ec-1"


@functools.cache
def another_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksServer:
    """Serves ``document`` at ``/jwks`` (or ``status`` with a body that is no JWK set) and counts
    requests. ``drip`` makes it answer one byte every 0.1 s instead."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.status = 200
        self.drip = False
        self.requests = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    server.requests += 1
                if server.drip:
                    self._drip()
                    return
                body = json.dumps(server.document).encode() if server.status == 200 else b"oops"
                self.send_response(server.status if self.path == "/jwks" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drip(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass  # the client gave up, as it should

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/jwks"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class Keys:
    """The issuer's signing keys and the JWK set that publishes them."""

    def __init__(self) -> None:
        self.rsa = rsa_2048()
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.published: dict[str, Any] = {
            RSA_KID: jwk(self.rsa.public_key(), kid=RSA_KID, use="sig", alg="RS256"),
            EC_KID: jwk(self.ec.public_key(), kid=EC_KID, use="sig"),  # alg inferred from crv
        }

    def document(self) -> dict[str, Any]:
        # Keycloak-like extras that must be ignored: an encryption key and a symmetric one.
        extras = [
            jwk(self.rsa.public_key(), kid="enc-1", use="enc", alg="RSA-OAEP"),
            {"kty": "oct", "kid": "hmac-1", "k": b64url(b"k" * 32)},
        ]
        return {"keys": [*self.published.values(), *extras]}

    def sign(self, payload: dict[str, Any], kid: str = RSA_KID, key: Any = None) -> str:
        if key is None:
            key = self.ec if kid.startswith("ec") else self.rsa
        alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
        return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def server(keys: Keys) -> Iterator[JwksServer]:
    srv = JwksServer(keys.document())
    yield srv
    srv.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def verifier_for(url: str, clock: FakeClock | None = None, **options: Any) -> JwksVerifier:
    options.setdefault("leeway", LEEWAY)
    options.setdefault("timeout_seconds", 1.0)
    if clock is not None:
        options["clock"] = clock
    return JwksVerifier(url, issuer=ISSUER, audience=AUDIENCE, **options)


def harness_for(keys: Keys, server: JwksServer, kid: str) -> Harness:
    signer = keys.ec if kid == EC_KID else keys.rsa
    stranger: Any = ec.generate_private_key(ec.SECP256R1()) if kid == EC_KID else another_rsa_key()
    other = keys.rsa if kid == EC_KID else keys.ec
    return Harness(
        build=lambda leeway: verifier_for(server.url, leeway=leeway),
        sign=lambda c: keys.sign(c, kid, signer),
        headers={"kid": kid},
        # The other algorithm the issuer uses, but under this key's kid.
        other_algorithm=lambda c: keys.sign(c, kid, other),
        other_key=lambda c: keys.sign(c, kid, stranger),
        public_pem=pem(signer.public_key()),
    )


class TestJwksWithRsaKey(BadTokenContract):
    @pytest.fixture
    def harness(self, keys: Keys, server: JwksServer) -> Harness:
        return harness_for(keys, server, RSA_KID)


class TestJwksWithEcKey(BadTokenContract):
    @pytest.fixture
    def harness(self, keys: Keys, server: JwksServer) -> Harness:
        return harness_for(keys, server, EC_KID)


# -- What only a remote key set has -----------------------------------------------------------


def refused(verifier: JwksVerifier, token: str) -> AuditLogError:
    with pytest.raises(AuditLogError) as caught:
        verifier.verify(token)
    return caught.value


def is_refused(verifier: JwksVerifier, token: str) -> bool:
    try:
        verifier.verify(token)
    except AuditLogError:
        return True
    return False


def test_both_key_types_verify_from_one_fetch(keys: Keys, server: JwksServer) -> None:
    verifier = verifier_for(server.url)
    assert verifier.verify(keys.sign(claims(), RSA_KID)).tenant_id == "acme"
    assert verifier.verify(keys.sign(claims(sub="other"), EC_KID)).subject == "other"
    assert server.requests == 1


def test_a_token_without_kid_is_refused_without_fetching(keys: Keys, server: JwksServer) -> None:
    verifier = verifier_for(server.url)
    token = jwt.encode(claims(), keys.rsa, algorithm="RS256")
    assert isinstance(refused(verifier, token), Unauthenticated)
    assert "`kid`" in refused(verifier, token).message
    assert server.requests == 0


def test_published_symmetric_and_encryption_keys_are_never_used(keys: Keys, server: JwksServer) -> None:
    verifier = verifier_for(server.url)
    hs = hs256_by_hand(claims(), b"k" * 32, {"kid": "hmac-1"})
    assert "algorithm is not accepted" in refused(verifier, hs).message
    rs_enc = keys.sign(claims(), "enc-1", keys.rsa)
    assert isinstance(refused(verifier, rs_enc), Unauthenticated)


def test_an_unknown_kid_is_refused_after_one_refresh(
    keys: Keys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = verifier_for(server.url, clock, min_refresh_seconds=30)
    verifier.verify(keys.sign(claims()))
    clock.advance(31)
    error = refused(verifier, keys.sign(claims(), "nobody-knows-me", keys.rsa))
    assert isinstance(error, Unauthenticated) and error.status == 401
    assert "kid" in error.message and "nobody-knows-me" not in error.message
    assert server.requests == 2, "exactly one refresh for the unknown kid"


def test_key_rotation_is_picked_up_with_one_refresh(keys: Keys, server: JwksServer, clock: FakeClock) -> None:
    verifier = verifier_for(server.url, clock, min_refresh_seconds=30)
    verifier.verify(keys.sign(claims()))
    assert server.requests == 1
    new_key = another_rsa_key()
    keys.published["rsa-2"] = jwk(new_key.public_key(), kid="rsa-2", use="sig")
    server.document = keys.document()
    rotated = keys.sign(claims(), "rsa-2", new_key)

    # A fetch moments ago: the new kid waits for the interval (no second request yet).
    assert isinstance(refused(verifier, rotated), Unauthenticated)
    assert server.requests == 1

    clock.advance(31)
    assert verifier.verify(rotated).subject == "user-1"
    assert server.requests == 2
    verifier.verify(keys.sign(claims(sub="again"), "rsa-2", new_key))
    verifier.verify(keys.sign(claims(sub="old key still published")))
    assert server.requests == 2


def test_a_flood_of_unknown_kids_costs_at_most_one_fetch(
    keys: Keys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = verifier_for(server.url, clock, min_refresh_seconds=30)
    verifier.verify(keys.sign(claims()))
    clock.advance(31)
    flood = [keys.sign(claims(), secrets.token_hex(8), keys.rsa) for _ in range(100)]
    for token in flood:
        assert isinstance(refused(verifier, token), Unauthenticated)
    assert server.requests <= 2
    assert verifier.verify(keys.sign(claims(sub="legit"))).subject == "legit"


def test_a_concurrent_flood_on_a_cold_verifier_costs_at_most_two_fetches(
    keys: Keys, server: JwksServer
) -> None:
    verifier = verifier_for(server.url)  # the real clock, default 30 s interval
    flood = [keys.sign(claims(), secrets.token_hex(8), keys.rsa) for _ in range(100)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        errors = list(pool.map(lambda t: refused(verifier, t), flood))
    assert all(isinstance(e, Unauthenticated) for e in errors), {type(e) for e in errors}
    assert 1 <= server.requests <= 2


def test_the_key_set_is_refreshed_when_old_and_withdrawn_keys_stop_working(
    keys: Keys, server: JwksServer, clock: FakeClock
) -> None:
    verifier = verifier_for(server.url, clock, max_age_seconds=600)
    cached = keys.sign(claims())
    verifier.verify(cached)
    del keys.published[RSA_KID]
    server.document = keys.document()

    clock.advance(601)
    # A known kid is answered at once; the refresh runs in the background.
    assert verifier.verify(keys.sign(claims(), EC_KID)).subject == "user-1"
    wait_for(lambda: server.requests == 2)
    wait_for(lambda: is_refused(verifier, cached))  # the refresh lands a moment after the request
    assert isinstance(refused(verifier, cached), Unauthenticated)
    assert isinstance(refused(verifier, keys.sign(claims(sub="new"))), Unauthenticated)


def test_keys_are_kept_while_the_issuer_fails(keys: Keys, server: JwksServer, clock: FakeClock) -> None:
    verifier = verifier_for(server.url, clock)
    verifier.verify(keys.sign(claims()))
    server.status = 500
    clock.advance(601)
    verifier.verify(keys.sign(claims(sub="during outage")))  # stale key, background refresh fails
    wait_for(lambda: server.requests == 2)
    time.sleep(0.05)
    assert verifier.verify(keys.sign(claims(sub="still"))).subject == "still"
    # A kid we cannot check while the issuer fails: a retryable 503, not a verdict on the token.
    assert isinstance(refused(verifier, keys.sign(claims(), "rsa-next", keys.rsa)), Unavailable)
    assert server.requests == 2


# -- The issuer down, slow, or answering nonsense ---------------------------------------------


def assert_unavailable_within(verifier: JwksVerifier, token: str, seconds: float) -> None:
    started = time.monotonic()
    error = refused(verifier, token)
    elapsed = time.monotonic() - started
    assert isinstance(error, Unavailable), error
    assert error.status == 503 and error.code == "unavailable"
    assert "signing keys unavailable" in error.message
    assert elapsed < seconds, f"took {elapsed:.2f} s"


def test_issuer_refusing_connections_is_a_quick_503_and_is_not_retried_at_once(
    keys: Keys, clock: FakeClock
) -> None:
    verifier = verifier_for(f"http://127.0.0.1:{free_port()}/jwks", clock, timeout_seconds=1.0)
    token = keys.sign(claims())
    assert_unavailable_within(verifier, token, 1.5)
    assert_unavailable_within(verifier, token, 0.1)
    assert verifier.fetch_attempts == 1
    clock.advance(31)
    assert_unavailable_within(verifier, token, 1.5)
    assert verifier.fetch_attempts == 2


def test_issuer_that_never_answers_costs_one_timeout(keys: Keys) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/jwks"
        verifier = verifier_for(url, timeout_seconds=0.5)
        started = time.monotonic()
        assert_unavailable_within(verifier, keys.sign(claims()), 1.5)
        assert time.monotonic() - started >= 0.4
        with ThreadPoolExecutor(max_workers=8) as pool:  # the others do not each wait again
            started = time.monotonic()
            list(pool.map(lambda _: refused(verifier, keys.sign(claims())), range(8)))
            assert time.monotonic() - started < 0.5


def test_issuer_dripping_its_answer_is_cut_off_at_the_timeout(keys: Keys, server: JwksServer) -> None:
    server.drip = True
    verifier = verifier_for(server.url, timeout_seconds=0.5)
    assert_unavailable_within(verifier, keys.sign(claims()), 1.5)


@pytest.mark.parametrize("status", [500, 404, 302])
def test_issuer_answering_an_error_is_a_503(keys: Keys, server: JwksServer, status: int) -> None:
    server.status = status
    assert_unavailable_within(verifier_for(server.url), keys.sign(claims()), 1.5)


@pytest.mark.parametrize("document", [{"keys": []}, {"no": "keys"}, ["not", "an", "object"]])
def test_issuer_publishing_no_usable_key_is_a_503(keys: Keys, server: JwksServer, document: Any) -> None:
    server.document = document  # type: ignore[assignment]
    assert_unavailable_within(verifier_for(server.url), keys.sign(claims()), 1.5)
