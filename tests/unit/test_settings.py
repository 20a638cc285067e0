"""Settings: one typed object that refuses placeholder secrets outside development."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from auditlog.errors import ConfigurationError
from auditlog.settings import Environment, Settings

pytestmark = pytest.mark.unit

SIGNING_KEY = "5e" * 32
NOW = datetime(2026, 11, 26, 12, 0, 0)


@pytest.mark.parametrize("secret", ["changeme", "short", "a" * 40])
def test_production_refuses_short_or_placeholder_cursor_secrets(secret: str | None) -> None:
    with pytest.raises(ConfigurationError, match="AUDITLOG_CURSOR_SECRET") as refused:
        Settings(environment=Environment.PRODUCTION, cursor_secret=secret, signing_key=SIGNING_KEY)
    if secret:
        assert secret not in str(refused.value), "the refusal must not repeat the secret"


def test_production_accepts_a_random_cursor_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLOG_JWT_JWKS_URL", "https://issuer.example/.well-known/jwks.json")
    monkeypatch.setenv("AUDITLOG_JWT_ISSUER", "https://issuer.example/")
    settings = Settings(
        environment=Environment.PRODUCTION,
        cursor_secret="kq3V9x2LmP7rT4sW8yZ1bC6dF0gH5jN2",
        signing_key=SIGNING_KEY,
    )
    assert settings.cursor_secret is not None
    assert "kq3V" not in repr(settings), "secrets never appear in a repr"
    assert SIGNING_KEY not in repr(settings)


@pytest.mark.parametrize("key", ["ab" * 31, "zz" * 32])
def test_production_refuses_a_malformed_signing_key(key: str | None) -> None:
    with pytest.raises(ConfigurationError, match="AUDITLOG_SIGNING_KEY") as refused:
        Settings(
            environment=Environment.PRODUCTION,
            cursor_secret="kq3V9x2LmP7rT4sW8yZ1bC6dF0gH5jN2",
            signing_key=key,
        )
    if key:
        assert key not in str(refused.value)


def test_development_needs_no_secret() -> None:
    assert Settings(environment=Environment.DEVELOPMENT).cursor_secret is None


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLOG_MAX_WINDOW_DAYS", "31")
    monkeypatch.setenv("PORT", "9123")
    settings = Settings()
    assert (settings.max_window_days, settings.port) == (31, 9123)


def test_a_function_without_a_secret_starts_and_refuses_only_what_needs_it(tmp_path: Any) -> None:
    """Least privilege: ingest and the writer get neither secret; what needs one names it."""
    from auditlog.model.cursor import CursorCodec, PageCursor

    settings = Settings(environment=Environment.PRODUCTION, data_dir=tmp_path)
    assert settings.cursor_secret is None and settings.signing_key is None
    with pytest.raises(ConfigurationError, match="AUDITLOG_CURSOR_SECRET"):
        CursorCodec(None).encode(PageCursor(NOW, "a", NOW, NOW, "d"))
