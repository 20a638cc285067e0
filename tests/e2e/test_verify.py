"""`auditlog verify` against stores tampered with directly, one class at a time: each class is
named, and an untouched store passes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from tests.conftest import LocalService, wait_for

pytestmark = pytest.mark.e2e

TENANT = "verify-me"


def _event(i: int) -> dict[str, Any]:
    return {
        "audit_id": str(uuid.uuid4()),
        "timestamp": (datetime.now(UTC) - timedelta(hours=2, seconds=i)).isoformat(),
        "event_type": "invoice.approve",
        "user_id": f"user-{i % 7}",
        "resource_type": "invoice",
        "resource_id": f"inv-{i}",
        "action": "approve",
        "status": "success",
        "request_data": {"amount": i * 10, "currency": "EUR"},
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str], dict[str, Any]]]:
    """A data dir with 60 events in a signed log, the server stopped; and an early checkpoint."""
    svc = LocalService(tmp_path_factory.mktemp("verify") / "data")
    svc.start()
    try:
        with svc.client(TENANT, ["audit_writer", "audit_reader"]) as client:
            first = [_event(i) for i in range(20)]
            assert client.post("/api/v1/audit/events/batch", json={"events": first}).status_code == 202
            early = wait_for(
                lambda: (
                    (r := client.get("/api/v1/audit/checkpoints/latest")).status_code == 200
                    and r.json()["tree_size"] >= 20
                    and r.json()
                ),
                timeout=10,
            )
            rest = [_event(i) for i in range(20, 60)]
            assert client.post("/api/v1/audit/events/batch", json={"events": rest}).status_code == 202
            wait_for(
                lambda: client.get("/api/v1/audit/checkpoints/latest").json()["tree_size"] >= 60, timeout=10
            )
    finally:
        svc.stop()
    yield svc.data_dir, [e["audit_id"] for e in first + rest], early


def _copy(pristine: tuple[Path, list[str], dict[str, Any]], tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(pristine[0], data)
    return data


def _verify(data: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "AUDITLOG_DATA_DIR": str(data), "AUDITLOG_ENVIRONMENT": "development"}
    done = subprocess.run(
        [sys.executable, "-m", "auditlog.cli", "verify", "--tenant", TENANT, *extra],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    assert b"events checked" in done.stderr, "progress is reported"
    return done.returncode, orjson.loads(done.stdout)


def _findings(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted((f["kind"], f.get("audit_id")) for t in report["tenants"] for f in t["findings"])


def test_an_untouched_store_passes(pristine: Any, tmp_path: Path) -> None:
    data = _copy(pristine, tmp_path)
    early = tmp_path / "early.json"
    early.write_bytes(orjson.dumps(pristine[2]))
    code, report = _verify(data, "--since-checkpoint", str(early))
    assert code == 0, report
    assert report["ok"] and report["tenants"][0]["events_checked"] >= 60
    assert report["tenants"][0]["tree_size"] >= 60


def test_an_edited_event_is_named(pristine: Any, tmp_path: Path) -> None:
    data = _copy(pristine, tmp_path)
    victim = pristine[1][5]
    with duckdb.connect(str(data / "events.duckdb")) as db:
        db.execute("UPDATE events SET status = 'failure' WHERE audit_id = ?", [victim])
    code, report = _verify(data)
    assert code == 1
    assert _findings(report) == [("edited", victim)]


def test_a_deleted_event_is_named(pristine: Any, tmp_path: Path) -> None:
    data = _copy(pristine, tmp_path)
    victim = pristine[1][30]
    with duckdb.connect(str(data / "events.duckdb")) as db:
        db.execute("DELETE FROM events WHERE audit_id = ?", [victim])
    code, report = _verify(data)
    assert code == 1
    assert _findings(report) == [("deleted", victim)]


def test_an_inserted_event_is_named(pristine: Any, tmp_path: Path) -> None:
    data = _copy(pristine, tmp_path)
    forged = str(uuid.uuid4())
    with duckdb.connect(str(data / "events.duckdb")) as db:
        db.execute(
            "INSERT INTO events SELECT * REPLACE (? AS audit_id, created_at - INTERVAL 1 HOUR AS created_at) "
            "FROM events WHERE audit_id = ?",
            [forged, pristine[1][0]],
        )
    code, report = _verify(data)
    assert code == 1
    assert _findings(report) == [("inserted", forged)]


def test_reordered_leaves_are_named(pristine: Any, tmp_path: Path) -> None:
    """Two leaves' places swapped in the log: each event now sits at the other's position."""
    data = _copy(pristine, tmp_path)
    a, b = pristine[1][3], pristine[1][40]
    with sqlite3.connect(data / "integrity.sqlite3") as db:
        (ia,) = db.execute("SELECT idx FROM leaves WHERE audit_id = ?", (a,)).fetchone()
        (ib,) = db.execute("SELECT idx FROM leaves WHERE audit_id = ?", (b,)).fetchone()
        db.execute("UPDATE leaves SET audit_id = 'x' WHERE idx = ?", (ia,))
        db.execute("UPDATE leaves SET audit_id = ? WHERE idx = ?", (a, ib))
        db.execute("UPDATE leaves SET audit_id = ? WHERE idx = ?", (b, ia))
    code, report = _verify(data)
    assert code == 1
    assert _findings(report) == sorted([("reordered", a), ("reordered", b)])


def test_a_deleted_tail_is_reported(pristine: Any, tmp_path: Path) -> None:
    data = _copy(pristine, tmp_path)
    with sqlite3.connect(data / "integrity.sqlite3") as db:
        # The signed size, not the tree's: the reads' self-audit records may have grown the tree
        # past the last checkpoint before the server stopped, and those leaves are still in flight.
        (size,) = db.execute(
            "SELECT MAX(tree_size) FROM checkpoints WHERE tenant_id = ?", (TENANT,)
        ).fetchone()
        db.execute("DELETE FROM leaves WHERE tenant_id = ? AND idx >= ?", (TENANT, size - 5))
    code, report = _verify(data)
    assert code == 1
    assert ("truncated", None) in _findings(report)


def test_rewritten_leaf_hashes_are_caught_by_the_signed_root(pristine: Any, tmp_path: Path) -> None:
    """Someone edits an event *and* its leaf hash: the spine no longer rebuilds the signed root."""
    data = _copy(pristine, tmp_path)
    victim = pristine[1][10]
    with duckdb.connect(str(data / "events.duckdb")) as db:
        db.execute("UPDATE events SET resource_id = 'inv-forged' WHERE audit_id = ?", [victim])
        row = db.execute("SELECT * FROM events WHERE audit_id = ?", [victim]).fetchone()
    from auditlog.ledger.leaves import event_leaf_hash, record_from_row

    forged_hash = event_leaf_hash(record_from_row(row))
    with sqlite3.connect(data / "integrity.sqlite3") as db:
        (idx,) = db.execute("SELECT idx FROM leaves WHERE audit_id = ?", (victim,)).fetchone()
        db.execute(
            "UPDATE nodes SET hash = ? WHERE level = 0 AND idx = ? AND tenant_id = ?",
            (forged_hash, idx, TENANT),
        )
    code, report = _verify(data)
    assert code == 1
    kinds = {k for k, _ in _findings(report)}
    assert kinds == {"spine_altered"}, report


def test_a_rewritten_history_is_inconsistent_with_an_earlier_checkpoint(
    pristine: Any, tmp_path: Path
) -> None:
    data = _copy(pristine, tmp_path)
    early = dict(pristine[2])
    early_file = tmp_path / "early.json"
    early_file.write_bytes(orjson.dumps(early))
    with sqlite3.connect(data / "integrity.sqlite3") as db:
        db.execute(
            "UPDATE nodes SET hash = zeroblob(32) WHERE level = 0 AND idx = 0 AND tenant_id = ?", (TENANT,)
        )
    code, report = _verify(data, "--since-checkpoint", str(early_file))
    assert code == 1
    assert {k for k, _ in _findings(report)} >= {"inconsistent", "spine_altered"}
