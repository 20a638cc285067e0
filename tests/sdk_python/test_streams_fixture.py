"""The Go SDK's log-stream fixtures (sdk/go/auditlog/testdata, checked by streamverify_test.go):
its script, run again, writes the same bytes (so they are what the service's code makes now),
and on every case the Python SDK's checker and the service's agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from auditlog_sdk import verify_stream

from auditlog.ledger.checkpoints import key_id_of
from auditlog.streams import verify as service
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

TESTDATA = ROOT / "sdk" / "go" / "auditlog" / "testdata"
FIXTURE: dict[str, Any] = json.loads((TESTDATA / "stream_fixture.json").read_text(encoding="utf-8"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_fixture_script_reproduces_the_checked_in_fixtures(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared")}
    subprocess.run(
        [sys.executable, str(TESTDATA / "make_stream_fixture.py"), str(tmp_path)],
        env=env,
        check=True,
        timeout=120,
    )
    made = _files(tmp_path)
    held = {
        name: data for name, data in _files(TESTDATA).items() if name in made or name.startswith("stream_")
    }
    assert made == held, "run sdk/go/auditlog/testdata/make_stream_fixture.py and commit what it writes"


CASES = sorted(FIXTURE["cases"])


@pytest.mark.parametrize("case", CASES)
def test_the_python_sdk_and_the_service_agree_on_each_case(case: str) -> None:
    key = bytes.fromhex(FIXTURE["public_key"])
    batches = FIXTURE["cases"][case]
    ours = verify_stream(json.loads(json.dumps(batches)), [key]).as_dict()
    theirs = service.verify_stream(batches, {key_id_of(key): key}).as_dict()
    for name in (
        "ok",
        "batches",
        "resent",
        "leaves",
        "first_leaf_index",
        "last_leaf_index",
        "root_checked_at",
    ):
        assert ours[name] == theirs[name], name
    assert [list(gap) for gap in ours["gaps"]] == theirs["gaps"]
