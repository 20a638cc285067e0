"""The one settings object. Nothing else in the package reads ``os.environ``."""

from __future__ import annotations

import ipaddress
import socket
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from auditlog.errors import ConfigurationError

MIN_HS256_SECRET_BYTES = 32
# What a JWKS issuer may sign with. Symmetric algorithms never: the keys are public.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
DEV_ISSUER_NAME = "auditlog-dev"  # the default of AUDITLOG_JWT_ISSUER
DEFAULT_PLATFORM_TENANT = "auditlog-platform"
TokenVerifierKind = Literal["jwks", "hs256", "development"]


class Backend(StrEnum):
    EMBEDDED = "embedded"
    GCP = "gcp"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


_PLACEHOLDERS = frozenset(
    {"changeme", "change-me", "secret", "password", "placeholder", "todo", "example", "xxx"}
)


class Settings(BaseSettings):
    """Typed configuration, read once from ``AUDITLOG_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="AUDITLOG_", extra="ignore", frozen=True)

    environment: Environment = Field(
        Environment.DEVELOPMENT, description="development enables the local token issuer"
    )
    backend: Backend = Field(Backend.EMBEDDED, description="which backend implementations to use")
    data_dir: Path = Field(Path(".auditlog"), description="embedded storage and the dev signing key")
    host: str = Field("127.0.0.1", description="local server bind address")
    allow_development_on_network: bool = Field(
        False,
        description="let the development token issuer (or an HS256 secret) serve on a non-loopback "
        "address; without it such a server refuses to start",
    )
    port: int = Field(8080, ge=1, le=65535, validation_alias="PORT", description="local server port")

    # Identity
    jwt_issuer: str = Field(DEV_ISSUER_NAME, description="expected `iss` claim")
    jwt_audience: str = Field("auditlog", description="expected `aud` claim")
    jwt_leeway_seconds: int = Field(30, ge=0, le=300, description="clock skew allowed on exp/nbf")
    jwt_jwks_url: str | None = Field(
        None, description="the OIDC issuer's JWKS URL (https outside development); required in production"
    )
    jwt_algorithms: tuple[str, ...] = Field(
        ("RS256", "ES256"), description='algorithms accepted from the JWKS issuer, a JSON list: ["RS256"]'
    )
    jwks_min_refresh_seconds: float = Field(
        30.0, ge=1, le=3600, description="least time between two JWKS fetches, whatever kids tokens name"
    )
    jwks_max_age_seconds: float = Field(
        600.0, ge=30, description="JWKS refetched in the background when older (withdrawn keys stop working)"
    )
    jwks_timeout_seconds: float = Field(3.0, gt=0, le=30, description="JWKS fetch timeout")
    jwt_hs256_secret: SecretStr | None = Field(
        None, description="development only: verify HS256 tokens with this secret (>= 32 bytes)"
    )

    @model_validator(mode="after")
    def _identity_rules(self) -> Settings:
        """Which token verifier may run where. ConfigurationError rather than ValueError:
        pydantic's ValidationError would repeat the inputs, secrets among them."""
        development = self.environment is Environment.DEVELOPMENT
        if self.jwt_hs256_secret is not None:
            if not development:
                raise ConfigurationError("AUDITLOG_JWT_HS256_SECRET is refused outside development")
            if len(self.jwt_hs256_secret.get_secret_value().encode()) < MIN_HS256_SECRET_BYTES:
                raise ConfigurationError(
                    f"AUDITLOG_JWT_HS256_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes"
                )
        if self.jwt_jwks_url:
            scheme = self.jwt_jwks_url.partition("://")[0].lower()
            if scheme != "https" and not (development and scheme == "http"):
                raise ConfigurationError(
                    "AUDITLOG_JWT_JWKS_URL must be an https URL (http only in development)"
                )
        if bool(self.scheduler_service_account) != bool(self.scheduler_audience):
            raise ConfigurationError(
                "set both AUDITLOG_SCHEDULER_SERVICE_ACCOUNT and AUDITLOG_SCHEDULER_AUDIENCE, or neither"
            )
        if not self.jwt_algorithms or not set(self.jwt_algorithms) <= ASYMMETRIC_ALGORITHMS:
            raise ConfigurationError(
                f"AUDITLOG_JWT_ALGORITHMS must be a non-empty JSON list from {sorted(ASYMMETRIC_ALGORITHMS)}"
            )
        if self.jwt_jwks_url and self.jwt_hs256_secret is not None:
            raise ConfigurationError(
                "set AUDITLOG_JWT_JWKS_URL or AUDITLOG_JWT_HS256_SECRET, not both "
                "(one of them would be silently ignored)"
            )
        return self

    @model_validator(mode="after")
    def _development_stays_local(self) -> Settings:
        """Whoever can reach a development server can mint tokens for it (``auditlog token``
        reads the key from the data dir; an HS256 secret signs as well as verifies), so it
        listens on loopback unless told otherwise."""
        local_tokens = self.environment is Environment.DEVELOPMENT and not self.jwt_jwks_url
        if local_tokens and not _is_loopback(self.host) and not self.allow_development_on_network:
            raise ConfigurationError(
                f"AUDITLOG_HOST={self.host} is not a loopback address, and development tokens "
                "are minted by anyone with the data dir: configure an OIDC issuer "
                "(AUDITLOG_JWT_JWKS_URL), or set AUDITLOG_ALLOW_DEVELOPMENT_ON_NETWORK=true"
            )
        return self

    @property
    def token_verifier(self) -> TokenVerifierKind:
        """The verifier these settings ask for: the issuer's JWKS when ``jwt_jwks_url`` is set;
        else, in development only, HS256 when ``jwt_hs256_secret`` is set, or the development
        issuer's key in the data dir. Production without a JWKS URL, or with the development
        issuer's name, is a ``ConfigurationError`` (raised when the verifier is chosen, so that a
        command that verifies no token, such as ``auditlog verify``, runs without one)."""
        if self.jwt_jwks_url:
            if not self.is_development and self.jwt_issuer == DEV_ISSUER_NAME:
                raise ConfigurationError(
                    "AUDITLOG_JWT_ISSUER must be set to the issuer's `iss` "
                    "(it is still the development default)"
                )
            return "jwks"
        if not self.is_development:
            raise ConfigurationError(
                "production needs an OIDC issuer: set AUDITLOG_JWT_JWKS_URL, AUDITLOG_JWT_ISSUER and "
                "AUDITLOG_JWT_AUDIENCE (or AUDITLOG_ENVIRONMENT=development for the local issuer)"
            )
        return "hs256" if self.jwt_hs256_secret is not None else "development"

    scheduler_service_account: str | None = Field(
        None,
        description="GCP: Cloud Scheduler's service account; its Google ID tokens (for "
        "AUDITLOG_SCHEDULER_AUDIENCE) act as system_admin, for the retention and integrity jobs",
    )
    scheduler_audience: str | None = Field(
        None, description="GCP: the audience of the scheduler's ID tokens (the retention function's URL)"
    )

    platform_tenant: str = Field(
        DEFAULT_PLATFORM_TENANT,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="the tenant_id of platform administrators' tokens: only they read and "
        "administer every tenant (your issuer must never give this tenant id to a customer)",
    )
    delegate_subjects: tuple[str, ...] = Field(
        (),
        description='token subjects (`sub`) allowed to act for someone else with X-Auditlog-Actor, a JSON '
        'list: ["backstage-backend"]',
    )

    # Secrets: from the environment; on GCP Secret Manager injects them as environment variables.
    cursor_secret: SecretStr | None = Field(
        None,
        description="HMAC key of page cursors, shared by every instance; required outside "
        "development (development generates one into the data dir)",
    )

    signing_key: SecretStr | None = Field(
        None,
        description="Ed25519 seed (64 hex characters) that signs integrity checkpoints; required "
        "outside development (development generates one into the data dir)",
    )

    # Integrity log
    log_origin: str | None = Field(
        None,
        description="the log's name in its C2SP checkpoints: each tenant's log is "
        "`<log_origin>/<tenant_id>` (a schema-less URL such as `audit.example.com/log`); required "
        "outside development, where it defaults to `<host name>/auditlog`",
    )
    retired_public_keys: tuple[Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")], ...] = Field(
        (),
        description="earlier signing keys' Ed25519 public keys (64 hex characters each, a JSON "
        "list), still published for a rotation's overlap so that older checkpoints keep verifying",
    )
    kms_signing_key: str | None = Field(
        None,
        description="GCP: the Cloud KMS key version (EC_SIGN_ED25519) that signs checkpoints, "
        "`projects/…/cryptoKeyVersions/N`; instead of AUDITLOG_SIGNING_KEY",
    )
    kms_wrapping_key: str | None = Field(
        None,
        description="GCP: the Cloud KMS key (symmetric) that wraps tenant HMAC keys and per-subject "
        "keys in Firestore (envelope encryption); locally a key file in the data dir does",
    )
    witnesses: tuple[str, ...] = Field(
        (),
        description='witnesses that cosign checkpoints (C2SP tlog-witness), a JSON list of '
        '"<submission URL> <vkey>"',
    )
    witness_quorum: int | None = Field(
        None, ge=0, description="cosignatures a checkpoint needs to be final (default: every witness)"
    )
    witness_timeout_seconds: float = Field(5.0, gt=0, description="one add-checkpoint call's limit")

    # Running a witness (`auditlog witness serve`, functions/witness): another party's service.
    witness_name: str | None = Field(
        None,
        description="the witness's key name, a schema-less URL such as witness.example.com/w1; "
        "required outside development, where it defaults to `<host name>/witness`",
    )
    witness_key: SecretStr | None = Field(
        None,
        description="the witness's Ed25519 seed (64 hex characters); development keeps one in the "
        "data dir; on GCP AUDITLOG_WITNESS_KMS_KEY instead",
    )
    witness_kms_key: str | None = Field(
        None, description="GCP: the Cloud KMS key version (EC_SIGN_ED25519) the witness cosigns with"
    )
    witness_logs: tuple[str, ...] = Field(
        (),
        description='logs the witness accepts, a JSON list of "<origin> <key>": the origin exact, or '
        '"<log origin>/*" for every tenant of an audit log; the key a vkey or the 64-hex public key',
    )
    integrate_interval_seconds: float = Field(
        0.25, gt=0, le=1.0, description="embedded: how often staged leaves are sequenced"
    )
    checkpoint_min_seconds: float = Field(
        1.0, ge=0, description="least time between two checkpoints of a growing tree"
    )
    idle_checkpoint_seconds: float = Field(
        60.0, gt=0, description="an unchanged tree is signed again after this long"
    )

    # Network and limits
    trusted_proxy_hops: int = Field(
        0,
        ge=0,
        le=8,
        description="X-Forwarded-For entries appended by our own proxies; the caller is that many "
        "from the right; 0 = the socket peer, header ignored",
    )
    rate_limit_max_keys: int = Field(100_000, ge=1, description="embedded limiter: buckets kept in memory")

    # Event rules
    default_retention_days: int = Field(90, ge=90, le=2555, description="retention when none given")
    max_future_skew_seconds: int = Field(300, ge=0, description="how far ahead a timestamp may be")

    # Retention runs (Cloud Scheduler every 15 minutes on GCP; `auditlog retention run` locally)
    retention_run_budget_seconds: float = Field(
        600.0, gt=0, description="a run starts no new step after this long (fit it to the function's timeout)"
    )
    retention_lease_seconds: float = Field(
        900.0, gt=0, description="how long a run holds the lease that keeps runs from overlapping"
    )
    retention_partitions_per_step: int = Field(
        31, ge=1, description="partitions (days) one DELETE covers"
    )

    # Reading
    default_window_days: int = Field(30, ge=1, description="query window when no start_time given")
    max_window_days: int = Field(400, ge=1, description="longest start_time..end_time window")
    export_max_window_days: int = Field(2560, ge=1, description="longest export window")

    # Write path
    writer_batch_max_events: int = Field(50_000, ge=1, description="largest append to the store")
    writer_poll_seconds: float = Field(0.05, gt=0, description="writer wake-up when the queue is idle")
    writer_min_interval_seconds: float = Field(
        0.1, ge=0, le=0.5, description="least time between two appends to the store"
    )
    duckdb_checkpoint_mib: int = Field(
        1024,
        ge=1,
        description="embedded store: write-ahead log size that triggers a DuckDB checkpoint (MiB)",
    )

    # GCP backends (AUDITLOG_BACKEND=gcp). The client libraries read the standard emulator
    # variables (PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST) themselves.
    gcp_project: str = Field("auditlog-local", description="Google Cloud project id")
    pubsub_topic: str = Field("audit-events", description="topic ingest publishes to")
    pubsub_dead_letter_topic: str = Field("audit-events-dead-letter", description="poison messages")
    bigquery_dataset: str = Field("auditlog", description="dataset of the events table")
    bigquery_table: str = Field("events", description="events table")
    bigquery_endpoint: str | None = Field(
        None, description="API endpoint override (the BigQuery emulator); None for Google's"
    )
    bigquery_storage_endpoint: str | None = Field(
        None, description="Storage Write API gRPC host:port override (the BigQuery emulator)"
    )
    redis_url: str | None = Field(None, description="Memorystore/Redis URL for cache and registry")
    redis_ca_cert: str | None = Field(
        None,
        description="PEM of the CA(s) that sign the Redis server's certificate (Memorystore's "
        "server_ca_certs); with a rediss:// URL the server is verified against it",
    )
    firestore_database: str = Field("(default)", description="Firestore database id")
    idempotency_ttl_days: int = Field(
        7,
        ge=1,
        description="GCP: how long a client-chosen audit_id stays claimed, so that a retry is "
        "answered `duplicate` with the first receipt (Firestore claims; Redis caches them as long)",
    )
    cache_ttl_seconds: float = Field(1.0, ge=0, description="TTL of cached pages whose window touches now")
    cache_closed_ttl_seconds: float = Field(
        3600.0, ge=0, description="TTL of cached pages whose window is entirely in the past"
    )
    stream_poll_seconds: float = Field(
        0.2, gt=0, description="locally: how often log stream delivery looks for new leaves"
    )
    stream_run_budget_seconds: float = Field(
        50.0, gt=0, description="GCP: how long one scheduled run of the streams function delivers"
    )
    tile_cache_ttl_seconds: float = Field(
        7 * 86400.0,
        ge=0,
        description="TTL of cached full hash tiles (8 KiB each, never changing); 0 caches none",
    )

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        """Outside development a secret, where given, must be a real one. A function that does
        not use a secret runs without it (ingest and the writer get neither: least privilege);
        one that uses a missing secret refuses with a ConfigurationError naming it
        (``missing_secret``)."""
        if self.environment is Environment.DEVELOPMENT:
            return self
        if self.cursor_secret is not None:
            secret = self.cursor_secret.get_secret_value()
            if len(secret) < 32 or secret.lower() in _PLACEHOLDERS or len(set(secret)) < 8:
                raise ConfigurationError(
                    "AUDITLOG_CURSOR_SECRET must be a random value of at least 32 characters "
                    "outside development"
                )
        if self.signing_key is not None:
            key = self.signing_key.get_secret_value()
            if len(key) != 64 or any(c not in "0123456789abcdefABCDEF" for c in key):
                raise ConfigurationError(
                    "AUDITLOG_SIGNING_KEY must be a random Ed25519 seed of 64 hex characters outside "
                    "development"
                )
        return self

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT

    def checkpoint_origin(self) -> str:
        """The log origin of checkpoints (``log_origin``; in development, from the host name)."""
        origin = self.log_origin or (
            f"{socket.gethostname().lower()}/auditlog" if self.is_development else None
        )
        if origin is None:
            raise ConfigurationError(
                "AUDITLOG_LOG_ORIGIN must be set outside development: the name of the log in its "
                "checkpoints, such as audit.example.com/log"
            )
        if not origin or origin.endswith("/") or any(c.isspace() or c == "+" for c in origin):
            raise ConfigurationError(
                "AUDITLOG_LOG_ORIGIN: a schema-less URL without spaces, '+' or a trailing slash"
            )
        return origin


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def missing_secret(name: str, used_for: str) -> ConfigurationError:
    return ConfigurationError(
        f"{name} is not set for this function, which {used_for}; set it (on GCP, from Secret Manager)"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
