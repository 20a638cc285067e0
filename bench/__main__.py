"""``python -m bench``: the reproducible benchmark of the audit log service (see bench/README.md).

Phases, each with the machine to itself as far as the harness goes:
1. generate the data set once into spool files (untimed);
2. start ``auditlog serve`` on a free port with a fresh data dir; over HTTP: batch-ingest the whole
   data set, single-event ingest (wrk, else Python), ingest-to-queryable lag, the query mix,
   exports (with the server's RSS); stop the server;
3. the store alone: ``DuckDBEventStore.append`` of the same rows into a fresh file;
4. PostgreSQL 15 on the same rows: COPY, indexes, the same query mix and exports;
5. one table on stdout, ``latest.json`` and ``latest.png`` in ``--out``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ours, postgres, streams, witnesses
from bench.dataset import prepare
from bench.generate import EventGenerator
from bench.mix import query_mix
from bench.profile import Profiler
from bench.report import build_lines, render_table, write_chart, write_json
from bench.server import BenchServer
from bench.util import ROOT, CpuMeter, Progress, machine_info

EXPORT_DAYS = 91.0  # the whole data set (89.5 days) of the largest tenant
PART_EXPORT_DAYS = 30.0  # a third of it, to see whether memory follows the export's size


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=200_000, help="events in the data set (default 200k)")
    p.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results directory")
    p.add_argument("--skip-postgres", action="store_true", help="no PostgreSQL baseline")
    p.add_argument("--connections", type=int, default=4, help="concurrent batch connections (4)")
    p.add_argument("--single-connections", type=int, default=32, help="single-event connections (32)")
    p.add_argument("--single-seconds", type=float, default=10.0, help="single-event run length (10)")
    p.add_argument(
        "--single-driver",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk (installed with apt-get if missing and root), or the Python fallback; auto tries wrk",
    )
    p.add_argument("--lag-samples", type=int, default=300, help="ingest-to-queryable samples (300)")
    p.add_argument("--lag-rate", type=float, default=25.0, help="lag probe writes per second (25)")
    p.add_argument("--lag-poll-ms", type=float, default=10.0, help="get-by-id poll interval (10)")
    p.add_argument("--query-runs", type=int, default=40, help="timed runs per query (40)")
    p.add_argument(
        "--repeat-runs",
        type=int,
        default=200,
        help="timed runs of each repeated query (200: at a few ms each, enough for a steady p95)",
    )
    p.add_argument("--query-warmup", type=int, default=5, help="untimed warm-up runs per query (5)")
    p.add_argument("--append-rows", type=int, default=50_000, help="rows per raw store append (50k)")
    p.add_argument(
        "--witness-events",
        type=int,
        default=50_000,
        help="batch ingest with two local witnesses vs none on this many events (50k; 0 skips)",
    )
    p.add_argument(
        "--stream-events",
        type=int,
        default=50_000,
        help="one log stream's delivery of a backlog this large while ingest continues (50k; 0 skips)",
    )
    p.add_argument("--workdir", type=Path, default=None, help="where temp data goes (default: TMPDIR)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the spool files and data dirs")
    p.add_argument("--profile", action="store_true", help="py-spy the server during each HTTP phase")
    p.add_argument("--no-install", action="store_true", help="never apt-get wrk or postgresql")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = p.parse_args(argv)
    if args.events < 1000:
        p.error("--events must be at least 1000")
    return args


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: server and cluster stop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    progress = Progress(quiet=args.quiet)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="auditlog-bench-", dir=args.workdir))
    started = time.monotonic()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "ours": {},
    }
    try:
        progress.phase(f"generating {args.events:,} events (seed {args.seed})")
        gen = EventGenerator(args.seed)
        singles = max(20_000, int(args.single_seconds * 6_000))
        data = prepare(gen, args.events, workdir / "spool", singles, progress)
        results["dataset"] = data.summary()
        specs = query_mix(data)
        results["query_mix"] = [
            {
                "key": s.key,
                "label": s.label,
                "tenant": s.tenant,
                "window_days": s.window.days,
                "filters": dict(s.filters),
                "metadata": dict(s.metadata),
                "target_p95_ms": s.target_p95_ms,
            }
            for s in specs
        ]
        progress.done(
            f"{data.events:,} events in {data.batches:,} batches, {data.mean_event_bytes:,.0f} B/event"
        )

        if args.witness_events:
            results["ours"]["witnesses"] = witnesses.run(
                data, workdir / "witnesses", args.witness_events, args.connections, progress
            )
        run_service(args, gen, data, specs, workdir, results, progress)
        if args.stream_events:
            results["ours"]["stream"] = streams.run(gen, workdir / "stream", args.stream_events, progress)

        progress.phase("store alone: DuckDBEventStore.append into a fresh file")
        raw_path = workdir / "raw" / "events.duckdb"
        raw = ours.raw_append(data, raw_path, chunk_rows=args.append_rows, progress=progress)
        results["ours"]["raw_append"] = raw
        if not args.keep_workdir:
            shutil.rmtree(raw_path.parent, ignore_errors=True)
        progress.done(f"{raw['rows_per_s']:,.0f} rows/s, {raw['bytes_per_event']:,.0f} B/event on disk")

        if args.skip_postgres:
            results["postgres"] = {"skipped": "--skip-postgres"}
        else:
            try:
                results["postgres"] = postgres.run(
                    data,
                    specs,
                    anchor=results["anchor"],
                    warmup=args.query_warmup,
                    runs=args.query_runs,
                    repeat_runs=args.repeat_runs,
                    export_days=EXPORT_DAYS,
                    parent=args.workdir,
                    allow_install=not args.no_install,
                    progress=progress,
                )
                results["machine"]["postgresql"] = results["postgres"]["load"]["version"]
            except Exception as exc:  # the baseline failing must not lose our own figures
                progress.note(f"PostgreSQL baseline failed: {exc}")
                results["postgres"] = {"error": f"{type(exc).__name__}: {exc}"}
                traceback.print_exc(file=sys.stderr)
    finally:
        if args.keep_workdir:
            progress.note(f"work files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    results["anchor"] = results["anchor"].isoformat() + "Z"
    results["duration_seconds"] = round(time.monotonic() - started, 1)
    lines = build_lines(results)
    table = render_table(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(results, lines, args.out / "latest.json")
    try:
        write_chart(results, args.out / "latest.png")
        chart = str(args.out / "latest.png")
    except ImportError:
        chart = "not drawn: matplotlib is not installed (.venv/bin/pip install matplotlib)"
    print(_header(results))
    print(table)
    _print_profile(results)
    print(f"\nresults: {args.out / 'latest.json'}\nchart:   {chart}")
    print(f"took {results['duration_seconds']:.0f} s; figures from a shared 2-core machine are provisional.")
    return 0


def run_service(
    args: argparse.Namespace,
    gen: EventGenerator,
    data: Any,
    specs: list[Any],
    workdir: Path,
    results: dict[str, Any],
    progress: Progress,
) -> None:
    """Every HTTP phase against one fresh server; the server is stopped whatever happens."""
    out = results["ours"]
    server = BenchServer(workdir / "server-data", workdir / "server.log")
    progress.phase(f"starting auditlog serve on port {server.port}")
    server.start()
    profiler = Profiler(server.pid, args.out, args.profile)
    try:
        progress.phase(f"batch ingest of the data set ({args.connections} connections)")
        with profiler.phase("ingest_batch"), CpuMeter(server.pid) as cpu:
            batch = ours.ingest_batches(server, data, args.connections, progress)
            drain = ours.wait_until_queryable(server, gen, timeout=max(120.0, data.events / 500))
        batch["cpu"] = cpu.result
        if not args.keep_workdir:
            data.batches_path.unlink()  # 1.1 GB per million events; not needed again
        batch["drain_seconds"] = round(drain, 3)
        batch["queryable_events_per_s"] = round(data.events / (batch["seconds"] + drain), 1)
        out["batch_ingest"] = batch
        progress.done(
            f"{batch['events_per_s']:,.0f} events/s accepted; queryable {drain:.1f} s after the last answer"
        )

        progress.phase(
            f"single-event ingest ({args.single_connections} connections, {args.single_seconds:g} s)"
        )
        try:
            with profiler.phase("ingest_single"), CpuMeter(server.pid) as cpu:
                single = ours.ingest_single(
                    server,
                    data,
                    seconds=args.single_seconds,
                    connections=args.single_connections,
                    driver=args.single_driver,
                    progress=progress,
                )
            single["cpu"] = cpu.result
            out["single_ingest"] = single
            progress.done(f"{single['requests_per_s']:,.0f} requests/s with {single['driver']}")
        except Exception as exc:
            progress.note(f"single-event ingest failed: {exc}")
            out["single_ingest_error"] = f"{type(exc).__name__}: {exc}"
        ours.wait_until_queryable(server, gen, timeout=300)

        progress.phase(f"ingest-to-queryable lag ({args.lag_samples} samples at {args.lag_rate:g}/s)")
        with profiler.phase("lag"):
            lag = ours.ingest_lag(
                server,
                gen,
                samples=args.lag_samples,
                rate=args.lag_rate,
                poll_seconds=args.lag_poll_ms / 1000,
                progress=progress,
            )
        out["lag"] = lag
        progress.done(f"p50 {lag['lag']['p50_ms']:.0f} ms, p99 {lag['lag']['p99_ms']:.0f} ms")

        anchor = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        results["anchor"] = anchor
        progress.phase(
            f"query mix ({args.query_warmup} warm-up + {args.query_runs} runs each, "
            f"{args.repeat_runs} repeated)"
        )
        with profiler.phase("queries"):
            out["queries"] = ours.run_queries(
                server,
                data,
                specs,
                anchor=anchor,
                warmup=args.query_warmup,
                runs=args.query_runs,
                repeat_runs=args.repeat_runs,
                progress=progress,
            )
        progress.done(
            ", ".join(f"{k} {v['cold']['p95_ms']:.1f}" for k, v in out["queries"].items()) + " ms p95"
        )

        progress.phase("export (largest tenant)")
        exports: dict[str, Any] = {}
        with profiler.phase("export"):
            exports["part_json"] = ours.run_export(
                server, data.largest, fmt="json", anchor=anchor, days=PART_EXPORT_DAYS, progress=progress
            )
            for fmt in ("json", "csv"):
                exports[fmt] = ours.run_export(
                    server, data.largest, fmt=fmt, anchor=anchor, days=EXPORT_DAYS, progress=progress
                )
        out["export"] = exports
        progress.done(
            f"NDJSON {exports['json']['rows_per_s']:,.0f} rows/s, "
            f"CSV {exports['csv']['rows_per_s']:,.0f} rows/s"
        )
    finally:
        progress.phase("stopping the server")
        server.stop()
        if profiler.summaries or profiler.problem:
            results["profile"] = {"summaries": profiler.summaries, "problem": profiler.problem}
    try:
        progress.phase("verification: auditlog verify over every tenant of the server's stores")
        verify = ours.run_verify(server.data_dir, progress)
        out["verify"] = verify
        progress.done(
            f"{verify['events']:,} events in {verify['seconds']:.1f} s, "
            f"{verify['events_per_s']:,.0f} events/s, "
            f"{'all tenants verify' if verify['ok'] else 'FINDINGS'}"
        )
    finally:
        if not args.keep_workdir:
            shutil.rmtree(server.data_dir, ignore_errors=True)


def _header(results: dict[str, Any]) -> str:
    m, d = results["machine"], results["dataset"]
    single = results["ours"].get("single_ingest", {})
    return (
        f"\naudit log benchmark, {m['date']}: {d['events']:,} events (seed {results['config']['seed']}, "
        f"~{d['mean_event_json_bytes']:,.0f} B each), {d['tenants']} tenants "
        f"(largest {d['largest_tenant']['events']:,}, smallest {d['smallest_tenant']['events']:,})\n"
        f"machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"load {m['load_average_at_start']}; "
        f"Python {m['python']}, DuckDB {m['duckdb']}, PostgreSQL {m.get('postgresql', '—')}\n"
        f"single-event driver: {single.get('driver', results['ours'].get('single_ingest_error', '—'))}; "
        f"ours is measured over HTTP (auth, validation, JSON), PostgreSQL directly through psycopg\n"
    )


def _print_profile(results: dict[str, Any]) -> None:
    profile = results.get("profile")
    if not profile:
        return
    if profile.get("problem"):
        print(f"\nprofile: {profile['problem']}")
    for phase, summary in profile.get("summaries", {}).items():
        print(f"\npy-spy, server, {phase} ({summary['samples']} samples): top self time")
        for name, pct in summary["self"][:8]:
            print(f"  {pct:5.1f}%  {name}")
        if summary["auditlog_inclusive"]:
            print("  inclusive, auditlog code:")
            for name, pct in summary["auditlog_inclusive"][:6]:
                print(f"  {pct:5.1f}%  {name}")


if __name__ == "__main__":
    sys.exit(main())
