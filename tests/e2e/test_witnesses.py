"""Witnessed checkpoints end to end: a local server and two `auditlog witness serve` processes,
quorum 2. Checkpoints become final within the stated 5 s; with one witness stopped they stay
unfinal until it returns; a witness killed with SIGKILL keeps what it cosigned (it refuses a
fork of the size it held); and a log that rewrites an event and re-signs is refused by the
witnesses at its next checkpoint, which never becomes final, and the log raises the alert's
signal (``witness_refused``, ``auditlog_integrity_witness_refusals_total{reason="fork"}``)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import auditlog_sdk as sdk
import httpx
import pytest

from auditlog.backends.embedded.sqlite_integrity import SqliteIntegrityStore
from auditlog.ledger import merkle, notes
from auditlog.ledger.checkpoints import CheckpointSigner
from auditlog.ledger.leaves import SpineLeaf
from auditlog.ledger.witnessing import request_body
from auditlog.ports.witness import origin_hash
from tests.conftest import LocalService, free_port, wait_for

pytestmark = pytest.mark.e2e

ORIGIN = "e2e.example/log"
SEED = bytes(range(100, 132))
LOG = CheckpointSigner.from_seed(SEED, ORIGIN)
ROLES = ["audit_writer", "audit_admin"]


@dataclass
class WitnessProcess:
    data_dir: Path
    name: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "AUDITLOG_ENVIRONMENT": "development",
            "AUDITLOG_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "AUDITLOG_WITNESS_NAME": self.name,
            "AUDITLOG_WITNESS_LOGS": json.dumps([f"{ORIGIN}/* {LOG.public_key.hex()}"]),
        }
        log = (self.data_dir.parent / f"{self.name.replace('/', '_')}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "auditlog.cli", "witness", "serve"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for(self._up, timeout=20, interval=0.05)

    def _up(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def vkey(self) -> str:
        return httpx.get(f"{self.url}/healthz").text.strip()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)
        self.process = None


@dataclass
class Stack:
    log: LocalService
    witnesses: list[WitnessProcess]
    vkeys: list[str]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("witnessed")
    witnesses = [WitnessProcess(root / f"w{i}", f"w{i}.e2e.example/witness") for i in (1, 2)]
    for w in witnesses:
        w.data_dir.mkdir(mode=0o700)
        w.start()
    vkeys = [w.vkey for w in witnesses]
    data = root / "log"
    data.mkdir(mode=0o700)
    (data / "signing-key").write_bytes(SEED)  # the key the witnesses were told
    log = LocalService(
        data,
        env={
            "AUDITLOG_LOG_ORIGIN": ORIGIN,
            "AUDITLOG_WITNESSES": json.dumps([f"{w.url} {k}" for w, k in zip(witnesses, vkeys, strict=True)]),
            "AUDITLOG_WITNESS_QUORUM": "2",
        },
    )
    log.start()
    yield Stack(log, witnesses, vkeys)
    log.stop()
    for w in witnesses:
        w.stop()


def _events(n: int) -> list[dict[str, Any]]:
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return [
        {"timestamp": at, "event_type": "witness.check", "user_id": "u", "resource_type": "r", "action": "a"}
        for _ in range(n)
    ]


def _final_size(stack: Stack, client: httpx.Client) -> int:
    answer = client.get("/api/v1/audit/log/checkpoint")
    if answer.status_code != 200:
        return -1
    policy = notes.WitnessPolicy.parse(stack.vkeys, 2)
    opened = notes.open_checkpoint(answer.text, LOG.note_keys(client.headers["x-tenant"]), policy.witnesses)
    assert policy.satisfied_by(opened), "a checkpoint served as final carries the quorum"
    return opened.checkpoint.tree_size


def _client(stack: Stack, tenant: str) -> httpx.Client:
    client = stack.log.client(tenant, ROLES)
    client.headers["x-tenant"] = tenant
    return client


def test_checkpoints_are_final_within_five_seconds_with_two_witnesses(stack: Stack) -> None:
    tenant = f"wit-{uuid.uuid4().hex[:8]}"
    with _client(stack, tenant) as client:
        delays = []
        for _ in range(3):
            accepted = client.post("/api/v1/audit/events/batch", json={"events": _events(50)})
            assert accepted.status_code == 202
            started = time.monotonic()
            target = max(0, _final_size(stack, client)) + 50
            wait_for(lambda t=target: _final_size(stack, client) >= t, timeout=10, interval=0.05)
            delays.append(time.monotonic() - started)
        assert max(delays) <= 5.0, f"acceptance to a quorum-cosigned checkpoint: {delays}"
        print(f"acceptance to quorum-cosigned checkpoint (s): {[round(d, 2) for d in delays]}")
        event = accepted.json()["results"][0]["audit_id"]
        proof = client.get(f"/api/v1/audit/events/{event}/proof").json()
        assert proof["checkpoint"]["final"] is True and proof["checkpoint"]["note"].count("\u2014") == 3
    # The Python SDK under a witness policy: quorum 2 of these two passes; a policy naming a
    # witness that never cosigned refuses the same proof.
    with sdk.Client(stack.log.url, token=stack.log.token(tenant, ROLES)) as client_sdk:
        quorum = sdk.WitnessPolicy.of(stack.vkeys, 2)
        assert client_sdk.verify_event(event, witnesses=quorum)["leaf_index"] >= 0
        stranger = notes.NoteKey("elsewhere.example/w", notes.COSIGNATURE_V1, bytes(32)).vkey
        with pytest.raises(ValueError, match="does not verify"):
            client_sdk.verify_event(event, witnesses=sdk.WitnessPolicy.of([stack.vkeys[0], stranger], 2))


def test_a_stopped_witness_keeps_checkpoints_unfinal_until_it_returns(stack: Stack) -> None:
    tenant = f"wit-{uuid.uuid4().hex[:8]}"
    second = stack.witnesses[1]
    with _client(stack, tenant) as client:
        assert client.post("/api/v1/audit/events/batch", json={"events": _events(5)}).status_code == 202
        before = wait_for(lambda: _final_size(stack, client) >= 5 and _final_size(stack, client), timeout=10)
        second.stop()
        accepted = client.post("/api/v1/audit/events/batch", json={"events": _events(5)})
        event = accepted.json()["results"][0]["audit_id"]
        time.sleep(4)  # several sequencer and cosigning rounds
        assert _final_size(stack, client) == before, "no checkpoint is final without the quorum"
        pending = client.get(f"/api/v1/audit/events/{event}/proof")
        assert pending.status_code == 409 and "final" in pending.json()["error"]["message"]
        unfinal = client.get("/api/v1/audit/checkpoints/latest").json()
        assert unfinal["tree_size"] == before, "the JSON latest is the final one too"
        second.start()
        wait_for(lambda: _final_size(stack, client) >= before + 5, timeout=20, interval=0.1)
        assert client.get(f"/api/v1/audit/events/{event}/proof").status_code == 200


def test_a_witness_killed_with_sigkill_keeps_what_it_cosigned(stack: Stack) -> None:
    tenant = f"wit-{uuid.uuid4().hex[:8]}"
    first = stack.witnesses[0]
    with _client(stack, tenant) as client:
        assert client.post("/api/v1/audit/events/batch", json={"events": _events(3)}).status_code == 202
        size = wait_for(lambda: _final_size(stack, client) >= 3 and _final_size(stack, client), timeout=10)
    monitored = f"{first.url}/{origin_hash(f'{ORIGIN}/{tenant}')}/checkpoint"

    def settled() -> int | None:
        # Reads are recorded in the tenant's log, so it grows a little after the last one.
        before = int(httpx.get(monitored).text.split("\n")[1])
        time.sleep(1.5)
        return before if int(httpx.get(monitored).text.split("\n")[1]) == before else None

    held = wait_for(settled, timeout=20)
    assert held >= size
    first.stop(signal.SIGKILL)
    first.start()
    assert int(httpx.get(monitored).text.split("\n")[1]) == held
    # A fork of the size it holds, validly signed by the log's key: refused.
    fork = LOG.sign(tenant, held, merkle.leaf_hash(b"another history"), datetime.now(UTC))
    refused = httpx.post(f"{first.url}/add-checkpoint", content=request_body(held, [], fork.note or ""))
    assert refused.status_code == 422
    stale = httpx.post(f"{first.url}/add-checkpoint", content=request_body(0, [], fork.note or ""))
    assert (stale.status_code, stale.text) == (409, f"{held}\n")


def _cli(stack: Stack, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    done = subprocess.run(
        [sys.executable, "-m", "auditlog.cli", *args],
        env={
            **os.environ,
            "AUDITLOG_ENVIRONMENT": "development",
            "AUDITLOG_DATA_DIR": str(stack.log.data_dir),
            **stack.log.env,
        },
        capture_output=True,
        timeout=120,
    )
    out = json.loads(done.stdout) if done.returncode in (0, 1) else None
    return done.returncode, out, done.stderr.decode()


def test_an_auditor_requires_the_quorum_offline(stack: Stack, tmp_path: Path) -> None:
    """`auditlog verify-export` and `auditlog verify` with --witness/--quorum: the witnesses'
    cosignatures pass; a policy naming a witness that never cosigned fails, and says why."""
    tenant = f"wit-{uuid.uuid4().hex[:8]}"
    stranger = notes.NoteKey("elsewhere.example/w", notes.COSIGNATURE_V1, bytes(range(32))).vkey
    both = [a for v in stack.vkeys for a in ("--witness", v)]
    mixed = ["--witness", stack.vkeys[0], "--witness", stranger, "--quorum", "2"]
    with _client(stack, tenant) as client:
        assert client.post("/api/v1/audit/events/batch", json={"events": _events(12)}).status_code == 202
        wait_for(lambda: _final_size(stack, client) >= 12, timeout=10)
        client.headers["authorization"] = f"Bearer {stack.log.token(tenant, ['audit_export'])}"
        exported = client.get("/api/v1/audit/events/export", params={"manifest": "true", "proofs": "true"})
        assert exported.status_code == 200, exported.text
    path = tmp_path / "export.ndjson"
    path.write_bytes(exported.content)
    key = ["--public-key", LOG.public_key.hex()]

    code, report, _ = _cli(stack, "verify-export", str(path), *key, *both)
    assert code == 0 and report is not None and report["problems"] == [], report
    assert report["covered_by_checkpoint"] >= 12
    code, report, _ = _cli(stack, "verify-export", str(path), *key, *mixed)
    assert code == 1 and report is not None
    assert any("cosigned by 1 of the witnesses given; the quorum is 2" in p for p in report["problems"])
    code, _, err = _cli(stack, "verify-export", str(path), *key, "--witness", "not a key")
    assert code == 2 and "--witness" in err
    code, _, err = _cli(stack, "verify-export", str(path), *key, *both, "--quorum", "3")
    assert code == 2 and "quorum of 3" in err

    stack.log.stop()  # the embedded store is read while no server writes to it
    try:
        code, summary, err = _cli(stack, "verify", "--tenant", tenant, *key, *both)
        assert code == 0 and summary is not None, err
        (checked,) = summary["tenants"]
        assert checked["findings"] == [] and checked["tree_size"] >= 12
        code, summary, err = _cli(stack, "verify", "--tenant", tenant, *key, *mixed)
        assert code == 1 and summary is not None, err
        kinds = {f["kind"] for f in summary["tenants"][0]["findings"]}
        assert kinds == {"unwitnessed"}
    finally:
        stack.log.start()


def test_a_log_that_rewrites_an_event_and_re_signs_is_caught(stack: Stack) -> None:
    tenant = f"wit-{uuid.uuid4().hex[:8]}"
    with _client(stack, tenant) as client:
        assert client.post("/api/v1/audit/events/batch", json={"events": _events(8)}).status_code == 202
        wait_for(lambda: _final_size(stack, client) >= 8, timeout=10)
    stack.log.stop()
    _rewrite_first_leaf(stack.log.data_dir / "integrity.sqlite3", tenant)
    stack.log.start()
    with _client(stack, tenant) as client:
        def refused() -> bool:
            metrics = client.get("/metrics").text
            found = re.search(r'witness_refusals_total\{reason="fork"\} ([0-9.]+)', metrics)
            return found is not None and float(found[1]) > 0

        wait_for(refused, timeout=20, interval=0.2)
        assert client.get("/api/v1/audit/log/checkpoint").status_code == 404, "nothing rewritten is final"
    log_text = (stack.log.log_path or Path()).read_text()
    assert '"event": "witness_refused"' in log_text or "witness refused a checkpoint" in log_text


def _rewrite_first_leaf(path: Path, tenant: str) -> None:
    """What an operator with write access to the log's storage could do: replace the tenant's
    tree with one whose first leaf differs, and drop the checkpoints that signed the old one."""
    store = SqliteIntegrityStore(path)
    size = store.state(tenant).frontier.size
    leaves = store.leaves(tenant, 0, size)
    store.close()
    with sqlite3.connect(path) as db:
        for table in ("trees", "nodes", "leaves", "checkpoints"):
            db.execute(f"DELETE FROM {table} WHERE tenant_id = ?", (tenant,))
    store = SqliteIntegrityStore(path)
    edited = [SpineLeaf(0, leaves[0].audit_id, merkle.leaf_hash(b"edited"), leaves[0].expires), *leaves[1:]]
    state = store.state(tenant)
    frontier, nodes = state.frontier.append(leaf.leaf_hash for leaf in edited)
    assert store.commit(tenant, state, frontier, nodes, edited, [])
    store.close()
