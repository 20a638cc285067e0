"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlog.runtime import Runtime, build_runtime
from auditlog.settings import Settings


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    """The embedded runtime on a fresh data dir, sequencing every 50 ms and signing on demand."""
    rt = build_runtime(
        Settings(data_dir=tmp_path / "data", integrate_interval_seconds=0.05, checkpoint_min_seconds=0)
    )
    yield rt
    rt.close()
