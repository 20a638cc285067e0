"""A tenant's log checked with implementations that are not ours: the Go team's
golang.org/x/mod/sumdb/note and sumdb/tlog (Debian's golang-golang-x-mod-dev, built offline in
GOPATH mode) open the C2SP checkpoint with the published verifier keys, rebuild the signed root
from the C2SP tiles, prove entries and tree prefixes from them, and accept the proofs our JSON
routes answer (tests/c2sp/check.go). Then the byte-level formats, tile by tile."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditlog.ledger import notes
from tests.conftest import ROOT, LocalService, wait_for

pytestmark = pytest.mark.e2e

X_MOD = Path("/usr/share/gocode/src/golang.org/x/mod/sumdb")
AUDITOR = ["audit_admin", "audit_writer"]


def _checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not (X_MOD / "note" / "note.go").is_file():
        why = "needs go and golang.org/x/mod"
        why += " (Debian: golang-go golang-golang-x-mod-dev; make test installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(why + " under CI=true")
        pytest.skip(why)
    out = tmp_path_factory.mktemp("c2sp")
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOPATH": f"{out / 'gopath'}:/usr/share/gocode",
        "GOCACHE": str(ROOT / ".stand-ins" / "go" / "cache"),
        "CGO_ENABLED": "0",
    }
    built = subprocess.run(
        [go, "build", "-o", str(out / "check"), str(ROOT / "tests" / "c2sp" / "check.go")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out / "check"


def _events(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC) - timedelta(minutes=5)
    return [
        {
            "timestamp": (now + timedelta(milliseconds=i)).isoformat(),
            "event_type": "c2sp.check",
            "user_id": f"u{i % 7}",
            "resource_type": "doc",
            "resource_id": f"d{i}",
            "action": "read",
            "metadata": {"i": i},
        }
        for i in range(n)
    ]


def _final_size(client: httpx.Client, at_least: int) -> int:
    def size() -> int | None:
        answer = client.get("/api/v1/audit/checkpoints/latest")
        grown = answer.status_code == 200 and answer.json()["tree_size"] >= at_least
        return answer.json()["tree_size"] if grown else None

    return int(wait_for(size, timeout=15, interval=0.1))


def test_the_go_reference_implementation_checks_our_checkpoints_tiles_and_proofs(
    service: LocalService, tmp_path_factory: pytest.TempPathFactory
) -> None:
    checker = _checker(tmp_path_factory)
    tenant = f"c2sp-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, AUDITOR) as client:
        # 600 leaves: two full level-0 tiles, a partial one and a partial level-1 tile.
        first = client.post("/api/v1/audit/events/batch", json={"events": _events(300)})
        assert first.status_code == 202, first.text
        old = _final_size(client, 300)
        assert client.post("/api/v1/audit/events/batch", json={"events": _events(300)}).status_code == 202
        _final_size(client, old + 300)
        audit_id = first.json()["results"][7]["audit_id"]
        token = service.token(tenant, AUDITOR)
    run = subprocess.run(
        [str(checker), "-url", service.url, "-token", token, "-tenant", tenant, "-audit-id", audit_id,
         "-old-size", str(old)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    checks = [line for line in run.stdout.splitlines() if line.startswith("ok ")]
    assert len(checks) == 7, run.stdout


def test_tiles_and_bundles_are_the_trees_bytes(service: LocalService) -> None:
    tenant = f"tiles-{uuid.uuid4().hex[:8]}"
    with service.client(tenant, AUDITOR) as client:
        assert client.post("/api/v1/audit/events/batch", json={"events": _events(260)}).status_code == 202
        size = _final_size(client, 260)
        note = client.get("/api/v1/audit/log/checkpoint")
        assert note.headers["content-type"] == "text/plain; charset=utf-8"
        keys = httpx.get(f"{service.url}/api/v1/audit/log/verifier-keys", params={"tenant_id": tenant}).json()
        log_keys = [notes.NoteKey.parse(k) for k in keys["log"]]
        opened = notes.open_checkpoint(note.text, log_keys).checkpoint
        assert opened.origin == keys["origin"] and opened.origin.endswith("/" + tenant)

        full = client.get("/api/v1/audit/log/tile/0/000")
        assert full.status_code == 200 and len(full.content) == 256 * 32
        assert "immutable" in full.headers["cache-control"]
        bundle = client.get("/api/v1/audit/log/tile/entries/000").content
        entries, rest = [], bundle
        while rest:
            length = int.from_bytes(rest[:2], "big")
            entries.append(rest[2 : 2 + length])
            rest = rest[2 + length :]
        assert len(entries) == 256
        hashes = [full.content[i * 32 : (i + 1) * 32] for i in range(256)]
        assert [hashlib.sha256(b"\x00" + e).digest() for e in entries] == hashes

        width = size % 256
        partial = client.get(f"/api/v1/audit/log/tile/0/001.p/{width}")
        assert partial.status_code == 200 and len(partial.content) == width * 32
        level1 = client.get("/api/v1/audit/log/tile/1/000.p/1")
        assert level1.content == _root(hashes), "a level-1 hash is the root of the full tile below"
        # Beyond the newest checkpoint, malformed, or another tenant's reader: refused.
        assert client.get("/api/v1/audit/log/tile/0/005").status_code == 404
        bad = client.get("/api/v1/audit/log/tile/0/5")
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "tile"
    with service.client(tenant, ["audit_reader"]) as reader:
        assert reader.get("/api/v1/audit/log/tile/0/000").status_code == 200
        refused = reader.get("/api/v1/audit/log/tile/entries/000")
        assert refused.status_code == 403, "entries include the service's own records"
    with service.client(f"other-{uuid.uuid4().hex[:6]}", ["audit_admin"]) as other:
        assert other.get("/api/v1/audit/log/tile/0/000", params={"tenant_id": tenant}).status_code == 403


def _root(leaves: list[bytes]) -> bytes:
    level = leaves
    while len(level) > 1:
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]
