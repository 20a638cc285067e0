"""The PostgreSQL baseline: a private cluster in a temp dir, the same data by COPY, the indexes a
competent engineer would add, and the same query mix straight through psycopg (no HTTP)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.dataset import Dataset
from bench.generate import format_ts
from bench.mix import PAGE_SIZE, QuerySpec, time_runs
from bench.util import Progress, free_port

SCHEMA = """
CREATE TABLE events (
    audit_id uuid NOT NULL,
    "timestamp" timestamptz NOT NULL,
    event_type text NOT NULL,
    user_id text NOT NULL,
    session_id text,
    ip_address text,
    user_agent text,
    resource_type text NOT NULL,
    resource_id text,
    action text NOT NULL,
    status text NOT NULL,
    request_data jsonb,
    response_data jsonb,
    metadata jsonb,
    tenant_id text NOT NULL,
    service_name text,
    correlation_id text,
    retention_period_days integer NOT NULL,
    created_at timestamptz NOT NULL,
    partition_date date NOT NULL
)
"""
INDEXES = (
    "CREATE UNIQUE INDEX events_tenant_audit_id ON events (tenant_id, audit_id)",
    'CREATE INDEX events_tenant_time ON events (tenant_id, "timestamp" DESC, audit_id DESC)',
    'CREATE INDEX events_tenant_user_time ON events (tenant_id, user_id, "timestamp" DESC)',
    'CREATE INDEX events_tenant_type_status_time ON events (tenant_id, event_type, status, "timestamp" DESC)',
    "CREATE INDEX events_metadata ON events USING gin (metadata jsonb_path_ops)",
)
# A sensible configuration for a 2-core, 24 GiB machine; durability left on (fsync, synchronous
# commit, WAL for replicas), as a production database would run.
SETTINGS = {
    "shared_buffers": "2GB",
    "effective_cache_size": "12GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "max_parallel_maintenance_workers": "2",
    "max_parallel_workers_per_gather": "2",
    "jit": "off",
    "timezone": "UTC",
}
COLUMNS_SQL = (
    'audit_id, "timestamp", event_type, user_id, session_id, ip_address, user_agent, resource_type, '
    "resource_id, action, status, request_data, response_data, metadata, tenant_id, service_name, "
    "correlation_id, retention_period_days, created_at, partition_date"
)


def find_bin(allow_install: bool, progress: Progress) -> Path | None:
    """PostgreSQL 15's binaries (Debian's layout), else the newest installed; install Debian's
    ``postgresql`` package if none is there and we are root."""

    def installed() -> Path | None:
        base = Path("/usr/lib/postgresql")
        preferred = base / "15" / "bin"
        if (preferred / "initdb").exists():
            return preferred
        versions = sorted(
            (p for p in base.glob("*/bin") if (p / "initdb").exists()),
            key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        )
        if versions:
            return versions[-1]
        initdb = shutil.which("initdb")
        return Path(initdb).parent if initdb else None

    found = installed()
    if found or not allow_install or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    progress.note("PostgreSQL not found: installing Debian's postgresql with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for steps in (
        [["install", "-y", "-q", "postgresql"]],
        [["update", "-q"], ["install", "-y", "-q", "postgresql"]],
    ):
        if all(
            subprocess.run(["apt-get", *s], env=env, capture_output=True, timeout=900).returncode == 0
            for s in steps
        ):
            break
    return installed()


class PgCluster:
    """initdb + pg_ctl in a temp dir of its own; run as ``postgres`` when we are root."""

    def __init__(self, bin_dir: Path, parent: Path | None = None) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="auditlog-bench-pg-", dir=parent))
        self.data = self.root / "data"
        self.socket_dir = self.root
        if len(str(self.socket_dir)) > 80:  # unix socket paths are short
            self.socket_dir = Path(tempfile.mkdtemp(prefix="pgsock-", dir="/tmp"))
        self.port = free_port()
        self.log = self.root / "postgres.log"
        self.started = False
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            for path in {self.root, self.socket_dir}:
                shutil.chown(path, "postgres", "postgres")
                path.chmod(0o700)

    def _run(self, *args: str, timeout: float = 300) -> None:
        out = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {out.stderr.strip() or out.stdout.strip()}")

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = [
            f"-p {self.port}",
            "-c listen_addresses=''",
            f"-c unix_socket_directories='{self.socket_dir}'",
            *(f"-c {k}={v}" for k, v in SETTINGS.items()),
        ]
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "120",
            "-o",
            " ".join(options),
            "start",
        )
        self.started = True

    def stop(self) -> None:
        if self.started:
            try:
                self._run(
                    str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=180
                )
            except (RuntimeError, subprocess.SubprocessError):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
            self.started = False

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self.socket_dir != self.root:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def connect(self, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=autocommit,
        )


def load(cluster: PgCluster, data: Dataset, progress: Progress) -> dict[str, Any]:
    conn = cluster.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute(SCHEMA)
            conn.commit()
            size = data.stored_path.stat().st_size
            sent = 0
            started = time.perf_counter()
            with data.stored_path.open("rb") as f, cur.copy("COPY events FROM STDIN (FORMAT csv)") as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
                    sent += len(chunk)
                    rate = sent / size * data.events / max(time.perf_counter() - started, 1e-9)
                    progress.update(f"COPY {sent / size:.0%}, ~{rate:,.0f} rows/s")
            conn.commit()
            copy_seconds = time.perf_counter() - started
            index_seconds: dict[str, float] = {}
            for statement in INDEXES:
                name = statement.split(" ON ")[0].split()[-1]
                progress.update(f"index {name}", force=True)
                started = time.perf_counter()
                cur.execute(statement)
                conn.commit()
                index_seconds[name] = round(time.perf_counter() - started, 3)
            progress.update("VACUUM ANALYZE", force=True)
            conn.autocommit = True
            started = time.perf_counter()
            cur.execute("VACUUM (ANALYZE) events")
            analyze_seconds = time.perf_counter() - started
            cur.execute(
                "SELECT (SELECT count(*) FROM events), pg_total_relation_size('events'), "
                "pg_relation_size('events')"
            )
            count, total_bytes, heap_bytes = cur.fetchone()
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
    finally:
        conn.close()
    if count != data.events:
        raise RuntimeError(f"PostgreSQL holds {count:,} rows, expected {data.events:,}")
    build = sum(index_seconds.values()) + analyze_seconds
    return {
        "version": version,
        "rows": count,
        "copy_seconds": round(copy_seconds, 3),
        "copy_rows_per_s": round(count / copy_seconds, 1),
        "index_seconds": index_seconds,
        "vacuum_analyze_seconds": round(analyze_seconds, 3),
        "load_with_indexes_rows_per_s": round(count / (copy_seconds + build), 1),
        "table_bytes": heap_bytes,
        "total_bytes": total_bytes,
        "bytes_per_event": round(total_bytes / count, 1),
        "settings": SETTINGS,
        "indexes": list(INDEXES),
    }


def _search_sql(spec: QuerySpec) -> str:
    where = ["tenant_id = %s", '"timestamp" >= %s', '"timestamp" < %s']
    where += [f"{column} = %s" for column, _ in spec.filters]
    if spec.metadata:
        where.append("metadata @> %s::jsonb")  # served by the jsonb_path_ops GIN index
    return (
        f"SELECT {COLUMNS_SQL} FROM events WHERE {' AND '.join(where)} "
        f'ORDER BY "timestamp" DESC, audit_id DESC LIMIT {PAGE_SIZE}'
    )


def _search_params(spec: QuerySpec, anchor: datetime, shift: int) -> list[Any]:
    import orjson

    start, end = spec.window_at(anchor, shift)
    params: list[Any] = [spec.tenant, format_ts(start), format_ts(end), *(v for _, v in spec.filters)]
    if spec.metadata:
        params.append(orjson.dumps(_nest(spec.metadata)).decode())
    return params


def _nest(pairs: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _text_json(conn: Any) -> None:
    """jsonb as text, as our service passes stored JSON through: the client does no parsing."""
    from psycopg.types.string import TextLoader

    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("json", TextLoader)


def run_queries(
    cluster: PgCluster,
    data: Dataset,
    specs: list[QuerySpec],
    *,
    anchor: datetime,
    warmup: int,
    runs: int,
    repeat_runs: int,
    progress: Progress,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with cluster.connect() as conn:
        _text_json(conn)
        cur = conn.cursor()
        for spec in specs:
            sql = _search_sql(spec)

            def page(shift: int, spec: QuerySpec = spec, sql: str = sql) -> int:
                cur.execute(sql, _search_params(spec, anchor, shift))
                return len(cur.fetchall())

            cold, rows = time_runs(page, warmup=warmup, runs=runs, progress=progress, label=spec.key, first=1)
            repeated, _ = time_runs(
                lambda _i, page=page: page(0), warmup=1, runs=repeat_runs, progress=progress, label=spec.key
            )
            cur.execute("EXPLAIN " + sql, _search_params(spec, anchor, 0))
            plan = [r[0] for r in cur.fetchall()]
            out[spec.key] = {
                "label": spec.label,
                "rows": rows,
                "cold": cold,
                "repeated": repeated,
                "plan": plan,
            }

        ids = data.sample_ids[data.largest]
        get_sql = f"SELECT {COLUMNS_SQL} FROM events WHERE tenant_id = %s AND audit_id = %s"

        def get(i: int) -> int:
            cur.execute(get_sql, [data.largest, ids[i % len(ids)]])
            rows = cur.fetchall()
            if len(rows) != 1:
                raise RuntimeError(f"PostgreSQL get by id found {len(rows)} rows")
            return 1

        cold, _ = time_runs(get, warmup=warmup, runs=runs, progress=progress, label="get_by_id", first=1)
        repeated, _ = time_runs(
            lambda _i: get(0), warmup=1, runs=repeat_runs, progress=progress, label="get_by_id"
        )
        out["get_by_id"] = {"label": "get by id", "rows": 1, "cold": cold, "repeated": repeated}
    return out


def run_export(
    cluster: PgCluster, tenant: str, *, fmt: str, anchor: datetime, days: float, progress: Progress
) -> dict[str, Any]:
    select = (
        f'SELECT {COLUMNS_SQL} FROM events WHERE tenant_id = {{t}} AND "timestamp" >= {{s}} '
        f'AND "timestamp" < {{e}} ORDER BY "timestamp" DESC, audit_id DESC'
    )
    with cluster.connect() as conn:
        from psycopg import sql

        literal = {
            "t": sql.Literal(tenant),
            "s": sql.Literal(format_ts(anchor - timedelta(days=days))),
            "e": sql.Literal(format_ts(anchor + timedelta(minutes=1))),
        }
        inner = sql.SQL(select).format(**literal)
        if fmt == "csv":
            statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(inner)
        else:
            statement = sql.SQL("COPY (SELECT row_to_json(e) FROM ({}) e) TO STDOUT").format(inner)
        total = lines = 0
        with conn.cursor() as cur:
            started = time.perf_counter()
            with cur.copy(statement) as copy:
                for piece in copy:
                    total += len(piece)
                    lines += bytes(piece).count(b"\n")
                    progress.update(f"{fmt}: {lines:,} rows")
            elapsed = time.perf_counter() - started
    rows = lines - (1 if fmt == "csv" else 0)
    return {
        "format": fmt,
        "days": days,
        "rows": rows,
        "bytes": total,
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rows / elapsed, 1) if elapsed else None,
        "mb_per_s": round(total / 1e6 / elapsed, 1) if elapsed else None,
    }


def run(
    data: Dataset,
    specs: list[QuerySpec],
    *,
    anchor: datetime,
    warmup: int,
    runs: int,
    repeat_runs: int,
    export_days: float,
    parent: Path | None,
    allow_install: bool,
    progress: Progress,
) -> dict[str, Any]:
    """The whole baseline; the cluster is stopped and removed whatever happens."""
    bin_dir = find_bin(allow_install, progress)
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install -y postgresql)")
    cluster = PgCluster(bin_dir, parent)
    try:
        progress.phase("PostgreSQL: initdb and start")
        cluster.start()
        progress.phase("PostgreSQL: COPY and indexes")
        loaded = load(cluster, data, progress)
        progress.done(
            f"COPY {loaded['copy_rows_per_s']:,.0f} rows/s; indexes+analyze "
            f"{sum(loaded['index_seconds'].values()) + loaded['vacuum_analyze_seconds']:.1f} s"
        )
        progress.phase("PostgreSQL: query mix")
        queries = run_queries(
            cluster,
            data,
            specs,
            anchor=anchor,
            warmup=warmup,
            runs=runs,
            repeat_runs=repeat_runs,
            progress=progress,
        )
        progress.phase("PostgreSQL: export")
        exports = {
            fmt: run_export(
                cluster, data.largest, fmt=fmt, anchor=anchor, days=export_days, progress=progress
            )
            for fmt in ("json", "csv")
        }
        return {"bin": str(bin_dir), "load": loaded, "queries": queries, "export": exports}
    finally:
        try:
            cluster.stop()
        finally:
            cluster.remove()
