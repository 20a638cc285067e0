"""Batch ingest with two local witnesses (quorum 2) against none, on the same slice of the data
set, each on a fresh server: issue 23's "checkpoint signing and witness rounds must not slow
ingest". Both servers sign with the same key and log origin; the witnessed one submits every new
checkpoint to two ``auditlog witness serve`` processes on this machine (so their CPU competes with
the server's, as it would not across organisations). Reported per mode: events/s, server CPU per
1,000 events, the witnesses' CPU, and how long after the last acknowledged batch every tenant's
final checkpoint (``GET /log/checkpoint``: cosigned by the quorum, or just signed without
witnesses) covers all of its events."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from auditlog.ledger.checkpoints import Ed25519Signer
from auditlog.ledger.notes import COSIGNATURE_V1, NoteKey
from bench import ours
from bench.dataset import Dataset
from bench.server import BenchServer
from bench.util import CpuMeter, Http, Progress, cpu_seconds, free_port

ORIGIN = "bench.local/auditlog"
QUORUM = 2
CHECKPOINT = "/api/v1/audit/log/checkpoint"


@dataclass
class _Witness:
    name: str
    data_dir: Path
    seed: bytes
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def vkey(self) -> str:
        return NoteKey(self.name, COSIGNATURE_V1, Ed25519Signer(self.seed).public_key).vkey

    def start(self, log_key: bytes) -> None:
        self.port = free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "AUDITLOG_ENVIRONMENT": "development",
            "AUDITLOG_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "AUDITLOG_WITNESS_NAME": self.name,
            "AUDITLOG_WITNESS_KEY": self.seed.hex(),
            "AUDITLOG_WITNESS_LOGS": json.dumps([f"{ORIGIN}/* {log_key.hex()}"]),
        }
        log = (self.data_dir / "witness.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "auditlog.cli", "witness", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        http = Http("127.0.0.1", self.port, timeout=1)
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                try:
                    if http.request("GET", "/healthz")[0] == 200:
                        return
                except OSError:
                    time.sleep(0.05)
        finally:
            http.close()
        raise RuntimeError(f"witness {self.name} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None


def slice_of(data: Dataset, events: int, directory: Path) -> Dataset:
    """The first whole batches of the data set holding at most ``events`` events."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    total = batches = 0
    with data.batches_path.open("rb") as source, (directory / "batches.jsonl").open("wb") as target:
        for line in source:
            tenant, body = line.rstrip(b"\n").split(b"\t", 1)
            size = len(orjson.loads(body)["events"])
            if batches and total + size > events:
                break
            target.write(line)
            counts[tenant.decode()] += size
            total += size
            batches += 1
    return replace(data, directory=directory, events=total, batches=batches, tenant_counts=dict(counts))


def _all_final(server: BenchServer, counts: dict[str, int], timeout: float) -> float | None:
    """Seconds until every tenant's final checkpoint covers its events; None past ``timeout``."""
    started = time.perf_counter()
    waiting = dict(counts)
    http = server.http(timeout=10)
    try:
        while waiting and time.perf_counter() - started < timeout:
            for tenant, count in list(waiting.items()):
                status, body = http.request("GET", CHECKPOINT, None, server.headers(tenant))
                if status == 200 and int(body.split(b"\n")[1]) >= count:
                    del waiting[tenant]
            if waiting:
                time.sleep(0.05)
    finally:
        http.close()
    return None if waiting else round(time.perf_counter() - started, 3)


def _one_mode(
    data: Dataset, workdir: Path, connections: int, witnesses: list[_Witness], progress: Progress
) -> dict[str, Any]:
    seed = bytes(range(32))
    env = {"AUDITLOG_LOG_ORIGIN": ORIGIN, "AUDITLOG_SIGNING_KEY": seed.hex()}
    log_key = Ed25519Signer(seed).public_key
    for witness in witnesses:
        witness.start(log_key)
    if witnesses:
        env["AUDITLOG_WITNESSES"] = json.dumps([f"http://127.0.0.1:{w.port} {w.vkey}" for w in witnesses])
        env["AUDITLOG_WITNESS_QUORUM"] = str(QUORUM)
    server = BenchServer(workdir / "server", workdir / "server.log", env=env)
    server.start()
    try:
        before = [cpu_seconds(w.process.pid) for w in witnesses if w.process]
        with CpuMeter(server.pid) as cpu:
            batch = ours.ingest_batches(server, data, connections, progress)
        final = _all_final(server, data.tenant_counts, timeout=120)
        after = [cpu_seconds(w.process.pid) for w in witnesses if w.process]
        witness_cpu = sum((a or 0.0) - (b or 0.0) for a, b in zip(after, before, strict=True))
        server_cpu = cpu.result["server_cpu_seconds"]
        return {
            "events": data.events,
            "events_per_s": batch["events_per_s"],
            "server_cpu_ms_per_1k": None if server_cpu is None else round(1e6 * server_cpu / data.events, 1),
            "witness_cpu_ms_per_1k": round(1e6 * witness_cpu / data.events, 1) if witnesses else None,
            "all_final_after_last_ack_s": final,
        }
    finally:
        server.stop()
        for witness in witnesses:
            witness.stop()


def _mean(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's mean over the runs of one mode (None if any run lacks it)."""
    out: dict[str, Any] = {"events": runs[0]["events"], "runs": len(runs)}
    keys = ("events_per_s", "server_cpu_ms_per_1k", "witness_cpu_ms_per_1k", "all_final_after_last_ack_s")
    for key in keys:
        values = [r[key] for r in runs]
        out[key] = None if any(v is None for v in values) else round(sum(values) / len(values), 3)
    out["each"] = runs
    return out


def run(data: Dataset, workdir: Path, events: int, connections: int, progress: Progress) -> dict[str, Any]:
    """Both modes on the same slice, in the order none, witnessed, witnessed, none (so that a
    machine that warms up or slows down over the runs favours neither), each mode's mean."""
    part = slice_of(data, events, workdir / "slice")
    runs: dict[str, list[dict[str, Any]]] = {"none": [], "two_witnesses": []}
    for n, mode in enumerate(("none", "two_witnesses", "two_witnesses", "none")):
        progress.phase(f"batch ingest of {part.events:,} events, {mode.replace('_', ' ')} ({n + 1}/4)")
        count = 2 if mode == "two_witnesses" else 0
        witnesses = [
            _Witness(f"w{i}.bench.local/witness", workdir / f"{n}" / f"w{i}", secrets.token_bytes(32))
            for i in range(1, count + 1)
        ]
        result = _one_mode(part, workdir / f"{n}", connections, witnesses, progress)
        runs[mode].append(result)
        progress.done(
            f"{result['events_per_s']:,.0f} events/s, "
            f"final checkpoints {result['all_final_after_last_ack_s']} s after the last answer"
        )
    part.batches_path.unlink(missing_ok=True)
    return {"connections": connections, "quorum": QUORUM, **{m: _mean(r) for m, r in runs.items()}}
