"""The phases run against our service over HTTP, and the raw append into our DuckDB store."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from bench.dataset import Dataset, read_stored
from bench.generate import EventGenerator, format_ts
from bench.mix import PAGE_SIZE, QuerySpec, time_runs
from bench.server import BenchServer
from bench.util import CpuMeter, Http, Progress, RssSampler, latency_summary

EVENTS = "/api/v1/audit/events"
BATCH = "/api/v1/audit/events/batch"
EXPORT = "/api/v1/audit/events/export"
LAG_TENANT = "bench-lag"
SENTINEL_TENANT = "bench-sentinel"
WRK_SCRIPT = Path(__file__).with_name("wrk_single.lua")
_RETRY_STATUSES = {0, 429, 500, 502, 503, 504}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- batch ingest: the whole data set ---------------------------------------------------------


def ingest_batches(
    server: BenchServer, data: Dataset, connections: int, progress: Progress
) -> dict[str, Any]:
    """POST every batch of the data set with ``connections`` concurrent keep-alive connections.
    Batches carry client audit_ids, so a retried batch (after a 5xx or a dropped connection) is
    stored once."""
    headers = {t: server.headers(t, json_body=True) for t in data.tenant_counts}
    work: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=connections * 2)
    lock = threading.Lock()
    stop = threading.Event()
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "retries": 0, "requests": 0}
    latencies: list[float] = []
    errors: list[str] = []

    def feed() -> None:
        try:
            with data.batches_path.open("rb") as f:
                for line in f:
                    if stop.is_set():
                        break
                    tenant, body = line.rstrip(b"\n").split(b"\t", 1)
                    work.put((tenant.decode(), body))
        finally:
            for _ in range(connections):
                work.put(None)

    def worker() -> None:
        http = server.http()
        try:
            while (item := work.get()) is not None:
                if stop.is_set():
                    continue
                tenant, body = item
                status, payload, retries = 0, b"", 0
                started = time.perf_counter()
                for attempt in range(6):
                    try:
                        status, payload = http.request("POST", BATCH, body, headers[tenant])
                    except OSError as exc:
                        status, payload = 0, str(exc).encode()
                    if status not in _RETRY_STATUSES:
                        break
                    retries += 1
                    time.sleep(0.2 * (attempt + 1))
                elapsed = time.perf_counter() - started
                with lock:
                    totals["requests"] += 1
                    totals["retries"] += retries
                    if status != 202:
                        errors.append(f"HTTP {status}: {payload[:300]!r}")
                        if len(errors) >= 10:
                            stop.set()
                        continue
                    answer = orjson.loads(payload)
                    totals["accepted"] += answer["accepted"]
                    totals["duplicates"] += answer["duplicates"]
                    totals["rejected"] += answer["rejected"]
                    latencies.append(elapsed)
        finally:
            http.close()

    threads = [threading.Thread(target=feed, name="feed", daemon=True)]
    threads += [threading.Thread(target=worker, name=f"ingest-{i}", daemon=True) for i in range(connections)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads[1:]):
        threads[1].join(0.25)
        done = totals["accepted"] + totals["duplicates"] + totals["rejected"]
        rate = done / max(time.perf_counter() - started, 1e-9)
        progress.update(f"{done:,}/{data.events:,} events, {rate:,.0f} events/s")
    elapsed = time.perf_counter() - started
    stop.set()
    if errors:
        raise RuntimeError(f"batch ingest failed ({len(errors)} errors); first: {errors[0]}")
    stored = totals["accepted"] + totals["duplicates"]
    if totals["rejected"] or stored != data.events:
        raise RuntimeError(f"batch ingest stored {stored:,} of {data.events:,} events: {totals}")
    return {
        "connections": connections,
        "batch_events": 1000,
        "seconds": round(elapsed, 3),
        "events_per_s": round(data.events / elapsed, 1),
        "request_latency": latency_summary(latencies),
        **totals,
    }


def wait_until_queryable(server: BenchServer, gen: EventGenerator, timeout: float) -> float:
    """Write one event after everything else and wait for it to be readable: the writer applies
    the journal in order, so then everything before it is readable too. Returns the wait."""
    http = server.http()
    try:
        event = gen.live_event(SENTINEL_TENANT)
        status, payload = http.request(
            "POST", EVENTS, orjson.dumps(event), server.headers(SENTINEL_TENANT, json_body=True)
        )
        if status != 202:
            raise RuntimeError(f"sentinel write failed: HTTP {status} {payload[:200]!r}")
        started = time.perf_counter()
        path = f"{EVENTS}/{event['audit_id']}"
        auth = server.headers(SENTINEL_TENANT)
        while time.perf_counter() - started < timeout:
            status, _ = http.request("GET", path, None, auth)
            if status == 200:
                return time.perf_counter() - started
            time.sleep(0.02)
        raise RuntimeError(f"the writer did not catch up within {timeout:.0f} s")
    finally:
        http.close()


# -- single-event ingest ----------------------------------------------------------------------


def find_wrk(allow_install: bool, progress: Progress) -> str | None:
    """``wrk`` from PATH; else Debian's package when we are root (or have password-less sudo)."""
    found = shutil.which("wrk")
    if found or not allow_install or not shutil.which("apt-get"):
        return found
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo") or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode:
            return None
        prefix = ["sudo", "-n"]
    progress.note("wrk not found: installing Debian's wrk with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for steps in ([["install", "-y", "-q", "wrk"]], [["update", "-q"], ["install", "-y", "-q", "wrk"]]):
        try:
            if all(
                subprocess.run([*prefix, "apt-get", *s], env=env, capture_output=True, timeout=600).returncode
                == 0
                for s in steps
            ):
                break
        except (OSError, subprocess.SubprocessError):
            return None
    return shutil.which("wrk")


def ingest_single(
    server: BenchServer,
    data: Dataset,
    *,
    seconds: float,
    connections: int,
    driver: str,
    progress: Progress,
) -> dict[str, Any]:
    from bench.dataset import SINGLE_TENANT

    token = server.token(SINGLE_TENANT)
    wrk = find_wrk(driver != "python", progress) if driver in ("auto", "wrk") else None
    if driver == "wrk" and wrk is None:
        raise RuntimeError("--single-driver wrk: wrk is not installed and could not be installed")
    if wrk is not None:
        return _single_wrk(server, data, wrk, token, seconds, connections, progress)
    return _single_python(server, data, token, seconds, connections, progress)


def _single_wrk(
    server: BenchServer,
    data: Dataset,
    wrk: str,
    token: str,
    seconds: float,
    connections: int,
    progress: Progress,
) -> dict[str, Any]:
    threads = 1  # one wrk thread drives 32 connections easily and leaves the cores to the server
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        server.url(EVENTS),
        "--",
        str(data.singles_path),
        token,
        str(threads),
    ]
    progress.update(f"wrk -t{threads} -c{connections} for {seconds:.0f} s", force=True)
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout[-500:]}")
    result = orjson.loads(line.removeprefix("BENCH_JSON "))
    duration = result["duration_us"] / 1e6
    errors = sum(v for k, v in result.items() if k.startswith("errors_"))
    ok = result["requests"] - result["errors_status"]
    return {
        "driver": "wrk",
        "connections": connections,
        "seconds": round(duration, 3),
        "requests": result["requests"],
        "errors": errors,
        "requests_per_s": round(ok / duration, 1),
        "latency": {
            "p50_ms": result["p50_us"] / 1000,
            "p99_ms": result["p99_us"] / 1000,
            "max_ms": result["max_us"] / 1000,
        },
        "bodies_reused": result["requests"] > data.singles,
        "raw": result,
    }


def _single_python(
    server: BenchServer, data: Dataset, token: str, seconds: float, connections: int, progress: Progress
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = data.singles_path.read_bytes().splitlines()
    lock = threading.Lock()
    counter = {"next": 0, "ok": 0, "errors": 0}
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        http = server.http(timeout=30)
        mine: list[float] = []
        try:
            while time.perf_counter() < deadline:
                with lock:
                    body = bodies[counter["next"] % len(bodies)]
                    counter["next"] += 1
                started = time.perf_counter()
                try:
                    status, _ = http.request("POST", EVENTS, body, headers)
                except OSError:
                    status = 0
                mine.append(time.perf_counter() - started)
                with lock:
                    counter["ok" if status == 202 else "errors"] += 1
        finally:
            http.close()
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        threads[0].join(0.25)
        progress.update(f"{counter['ok']:,} requests (python driver)")
    elapsed = time.perf_counter() - started
    return {
        "driver": "python (http.client threads)",
        "connections": connections,
        "seconds": round(elapsed, 3),
        "requests": counter["ok"] + counter["errors"],
        "errors": counter["errors"],
        "requests_per_s": round(counter["ok"] / elapsed, 1),
        "latency": latency_summary(latencies),
        "bodies_reused": counter["next"] > len(bodies),
    }


# -- ingest-to-queryable lag ------------------------------------------------------------------


def ingest_lag(
    server: BenchServer,
    gen: EventGenerator,
    *,
    samples: int,
    rate: float,
    poll_seconds: float,
    progress: Progress,
) -> dict[str, Any]:
    """Write ``samples`` single events at ``rate``/s, each polled by id until it is readable;
    lag is from the start of the write to the first 200 (so it includes the write itself and up
    to one poll interval)."""
    events = [gen.live_event(LAG_TENANT) for _ in range(samples)]
    write_headers = server.headers(LAG_TENANT, json_body=True)
    read_headers = server.headers(LAG_TENANT)
    local = threading.local()
    done = [0]

    def one(event: dict[str, Any]) -> tuple[float, float]:
        http: Http | None = getattr(local, "http", None)
        if http is None:
            http = local.http = server.http(timeout=30)
        event["timestamp"] = format_ts(utc_now())
        body = orjson.dumps(event)
        started = time.perf_counter()
        status, payload = http.request("POST", EVENTS, body, write_headers)
        acked = time.perf_counter()
        if status != 202:
            raise RuntimeError(f"lag write failed: HTTP {status} {payload[:200]!r}")
        path = f"{EVENTS}/{event['audit_id']}"
        while True:
            status, payload = http.request("GET", path, None, read_headers)
            if status == 200:
                visible = time.perf_counter()
                done[0] += 1
                return acked - started, visible - started
            if status != 404:
                raise RuntimeError(f"lag read failed: HTTP {status} {payload[:200]!r}")
            if time.perf_counter() - started > 30:
                raise RuntimeError("an event was not readable 30 s after it was acknowledged")
            time.sleep(poll_seconds)

    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="lag") as pool:
        futures = []
        started = time.perf_counter()
        for i, event in enumerate(events):
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            futures.append(pool.submit(one, event))
            progress.update(f"{done[0]}/{samples} samples")
        results = [f.result() for f in futures]
    return {
        "samples": samples,
        "rate_per_s": rate,
        "poll_ms": poll_seconds * 1000,
        "ack": latency_summary([r[0] for r in results]),
        "lag": latency_summary([r[1] for r in results]),
    }


# -- queries ----------------------------------------------------------------------------------


def _search_path(spec: QuerySpec, anchor: datetime, shift: int) -> str:
    start, end = spec.window_at(anchor, shift)
    params = [
        ("start_time", format_ts(start)),
        ("end_time", format_ts(end)),
        ("page_size", str(PAGE_SIZE)),
        *spec.filters,
        *((f"metadata.{k}", v) for k, v in spec.metadata),
    ]
    return f"{EVENTS}?{urlencode(params)}"


def run_queries(
    server: BenchServer,
    data: Dataset,
    specs: list[QuerySpec],
    *,
    anchor: datetime,
    warmup: int,
    runs: int,
    repeat_runs: int,
    progress: Progress,
) -> dict[str, Any]:
    http = server.http(timeout=60)
    out: dict[str, Any] = {}
    try:
        for spec in specs:
            headers = server.headers(spec.tenant)

            def page(shift: int, spec: QuerySpec = spec, headers: dict[str, str] = headers) -> int:
                status, body = http.request("GET", _search_path(spec, anchor, shift), None, headers)
                if status != 200:
                    raise RuntimeError(f"{spec.key}: HTTP {status} {body[:300]!r}")
                return len(orjson.loads(body)["events"])

            cold, rows = time_runs(page, warmup=warmup, runs=runs, progress=progress, label=spec.key, first=1)
            repeated, _ = time_runs(
                lambda _i, page=page: page(0), warmup=1, runs=repeat_runs, progress=progress, label=spec.key
            )
            out[spec.key] = {"label": spec.label, "rows": rows, "cold": cold, "repeated": repeated}

        ids = data.sample_ids[data.largest]
        headers = server.headers(data.largest)

        def get(i: int) -> int:
            status, body = http.request("GET", f"{EVENTS}/{ids[i % len(ids)]}", None, headers)
            if status != 200:
                raise RuntimeError(f"get by id: HTTP {status} {body[:300]!r}")
            return 1

        cold, _ = time_runs(get, warmup=warmup, runs=runs, progress=progress, label="get_by_id", first=1)
        repeated, _ = time_runs(
            lambda _i: get(0), warmup=1, runs=repeat_runs, progress=progress, label="get_by_id"
        )
        out["get_by_id"] = {"label": "get by id", "rows": 1, "cold": cold, "repeated": repeated}

        def health(_i: int) -> int:
            http.request("GET", "/healthz")
            return 0

        floor, _ = time_runs(health, warmup=warmup, runs=runs, progress=progress, label="healthz")
        out["healthz"] = {"label": "GET /healthz (HTTP floor)", "rows": 0, "cold": floor}
    finally:
        http.close()
    return out


# -- export -----------------------------------------------------------------------------------


def run_export(
    server: BenchServer,
    tenant: str,
    *,
    fmt: str,
    anchor: datetime,
    days: float,
    progress: Progress,
) -> dict[str, Any]:
    params = urlencode(
        {
            "format": fmt,
            "start_time": format_ts(anchor - timedelta(days=days)),
            "end_time": format_ts(anchor + timedelta(minutes=1)),
        }
    )
    http = server.http(timeout=600)
    total = lines = 0
    first_byte = None
    try:
        with RssSampler(server.pid) as rss, CpuMeter(server.pid) as cpu:
            started = time.perf_counter()
            status, pieces = http.stream(f"{EXPORT}?{params}", server.headers(tenant))
            for piece in pieces:
                if first_byte is None:
                    first_byte = time.perf_counter() - started
                total += len(piece)
                lines += piece.count(b"\n")
                progress.update(f"{fmt}: {lines:,} rows, {total / 1e6:,.0f} MB")
            elapsed = time.perf_counter() - started
    finally:
        http.close()
    if status != 200:
        raise RuntimeError(f"export {fmt}: HTTP {status}")
    rows = lines - (1 if fmt == "csv" else 0)
    return {
        "format": fmt,
        "days": days,
        "rows": rows,
        "bytes": total,
        "seconds": round(elapsed, 3),
        "first_byte_ms": round((first_byte or 0) * 1000, 1),
        "rows_per_s": round(rows / elapsed, 1) if elapsed else None,
        "mb_per_s": round(total / 1e6 / elapsed, 1) if elapsed else None,
        "rss_before_mib": round(rss.before_kib / 1024, 1),
        "rss_peak_mib": round(rss.peak_kib / 1024, 1),
        "rss_growth_mib": round((rss.peak_kib - rss.before_kib) / 1024, 1),
        "hwm_reset": rss.hwm_reset,
        "cpu": cpu.result,
    }


# -- the store alone --------------------------------------------------------------------------


def raw_append(data: Dataset, path: Path, *, chunk_rows: int, progress: Progress) -> dict[str, Any]:
    """``DuckDBEventStore.append`` of the data set into a fresh file, ``chunk_rows`` per append
    (the writer's default batch), checkpointing as the server's does; only the appends and the
    final close are timed."""
    from auditlog.backends.embedded.duckdb_store import DuckDBEventStore
    from auditlog.ports.store import WriteBatch
    from auditlog.settings import Settings

    store = DuckDBEventStore(path, checkpoint_mib=Settings().duckdb_checkpoint_mib)
    append_seconds = 0.0
    rows = position = 0
    try:
        for chunk in read_stored(data.stored_path, chunk_rows):
            position += 1
            started = time.perf_counter()
            rows += store.append(WriteBatch(chunk, position))  # type: ignore[arg-type]
            append_seconds += time.perf_counter() - started
            progress.update(f"{rows:,}/{data.events:,} rows, {rows / append_seconds:,.0f} rows/s")
    finally:
        started = time.perf_counter()
        store.close()
        close_seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    total = append_seconds + close_seconds
    return {
        "rows": rows,
        "chunk_rows": chunk_rows,
        "append_seconds": round(append_seconds, 3),
        "close_seconds": round(close_seconds, 3),
        "rows_per_s": round(rows / total, 1) if total else None,
        "file_bytes": size,
        "bytes_per_event": round(size / rows, 1) if rows else None,
    }


def run_verify(data_dir: Path, progress: Progress) -> dict[str, Any]:
    """``auditlog verify`` of every tenant, in process, on the stopped server's stores."""
    from auditlog.ledger.verify import verify_tenants
    from auditlog.runtime.tools import open_for_verification
    from auditlog.settings import Settings

    sources = open_for_verification(Settings(data_dir=data_dir))
    events = findings = 0
    ok = True
    started = time.perf_counter()
    try:
        tenants = sorted(sources.integrity.tenants())
        reports = verify_tenants(
            sources.store, sources.integrity, sources.public_keys, tenants, progress=None
        )
        for i, report in enumerate(reports, 1):
            events += report.events
            findings += len(report.findings)
            ok &= report.ok
            elapsed = time.perf_counter() - started
            progress.update(
                f"{i}/{len(tenants)} tenants, {events:,} events, {events / elapsed:,.0f} events/s"
            )
    finally:
        sources.close()
    seconds = time.perf_counter() - started
    return {
        "tenants": len(tenants),
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1) if seconds else None,
        "ok": ok,
        "findings": findings,
    }
