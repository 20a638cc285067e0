"""Builds the token verifier the settings name (``Settings.token_verifier``), plus Cloud
Scheduler's when a scheduler identity is configured."""

from __future__ import annotations

from pathlib import Path

from auditlog.auth.dev_issuer import DevIssuer
from auditlog.auth.identity import HmacVerifier, TokenVerifier
from auditlog.auth.jwks import EitherVerifier, JwksVerifier, ServiceAccountVerifier
from auditlog.settings import Settings


def build_verifier(settings: Settings, data_dir: Path) -> TokenVerifier:
    primary = _primary_verifier(settings, data_dir)
    if settings.scheduler_service_account and settings.scheduler_audience:
        google = ServiceAccountVerifier(
            settings.scheduler_service_account,
            audience=settings.scheduler_audience,
            leeway=settings.jwt_leeway_seconds,
            platform_tenant=settings.platform_tenant,
        )
        return EitherVerifier(primary, google)
    return primary


def _primary_verifier(settings: Settings, data_dir: Path) -> TokenVerifier:
    kind = settings.token_verifier
    if kind == "jwks":
        assert settings.jwt_jwks_url is not None
        return JwksVerifier(
            settings.jwt_jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            algorithms=settings.jwt_algorithms,
            min_refresh_seconds=settings.jwks_min_refresh_seconds,
            max_age_seconds=settings.jwks_max_age_seconds,
            timeout_seconds=settings.jwks_timeout_seconds,
            platform_tenant=settings.platform_tenant,
        )
    if kind == "hs256":
        assert settings.jwt_hs256_secret is not None
        return HmacVerifier(
            settings.jwt_hs256_secret.get_secret_value().encode(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            platform_tenant=settings.platform_tenant,
        )
    issuer = DevIssuer(data_dir, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return issuer.verifier(settings.jwt_leeway_seconds, platform_tenant=settings.platform_tenant)
