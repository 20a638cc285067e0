"""Cloud Scheduler's Google ID tokens: its service account, for its audience, acts as
system_admin; any other Google identity or audience is refused; the issuer's tokens still work.
Google's JWKS is stood in for by a local HTTP server serving a key made here."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_httpserver import HTTPServer

from auditlog.auth import access
from auditlog.auth.dev_issuer import DevIssuer
from auditlog.auth.jwks import GOOGLE_ISSUER, EitherVerifier, ServiceAccountVerifier
from auditlog.errors import ConfigurationError, Unauthenticated
from auditlog.settings import Settings

pytestmark = pytest.mark.unit

SA = "al-prod-scheduler@proj.iam.gserviceaccount.com"
AUD = "https://europe-west1-proj.cloudfunctions.net/auditlog-prod-retention"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _google_token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": GOOGLE_ISSUER,
        "aud": AUD,
        "sub": "1234",
        "email": SA,
        "email_verified": True,
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def verifier(httpserver: HTTPServer, tmp_path: Path) -> EitherVerifier:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    httpserver.expect_request("/certs").respond_with_json(
        {"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}
    )
    google = ServiceAccountVerifier(SA, audience=AUD, jwks_url=httpserver.url_for("/certs"))
    dev = DevIssuer(tmp_path, issuer="auditlog-dev", audience="auditlog")
    return EitherVerifier(dev.verifier(30), google)


def test_the_scheduler_may_run_the_jobs_and_nothing_else(verifier: EitherVerifier) -> None:
    principal = verifier.verify(_google_token())
    assert principal.tenant_id == "auditlog-platform" and principal.platform
    assert principal.roles == frozenset({"auditlog_scheduler"})
    assert principal.subject == SA
    assert access.capabilities(principal) == frozenset({access.Capability.JOBS})


@pytest.mark.parametrize(
    "overrides",
    [
        {"email": "someone-else@proj.iam.gserviceaccount.com"},
        {"aud": "https://elsewhere"},
        {"email_verified": False},
        {"exp": int(time.time()) - 3600},
    ],
)
def test_other_google_identities_and_audiences_are_refused(
    verifier: EitherVerifier, overrides: dict[str, Any]
) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify(_google_token(**overrides))


def test_the_issuers_tokens_still_work(verifier: EitherVerifier, tmp_path: Path) -> None:
    token = DevIssuer(tmp_path, issuer="auditlog-dev", audience="auditlog").issue(
        tenant_id="acme", roles=["audit_reader"]
    )
    assert verifier.verify(token).tenant_id == "acme"


def test_settings_need_both_scheduler_values() -> None:
    with pytest.raises(ConfigurationError, match="SCHEDULER"):
        Settings(scheduler_service_account=SA)
