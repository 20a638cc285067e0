"""The one results table (with targets), ``latest.json`` and the ``latest.png`` chart."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.mix import GET_TARGET_MS, REPEATED_TARGET_MS

BATCH_TARGET = 30_000.0
BATCH_VS_COPY = 0.5
SINGLE_TARGET = 3_000.0
LAG_P99_TARGET_MS = 1_000.0
MIX_SPEEDUP_TARGET = 3.0
EXPORT_TARGET = 150_000.0
# The full export has ~3x the rows of the part export: memory that follows the rows grows ~3x.
EXPORT_RSS_FACTOR = 1.5
EXPORT_RSS_SLACK_MIB = 32.0


@dataclass
class Line:
    metric: str
    ours: str
    postgres: str = "—"
    ratio: str = "—"
    target: str = ""
    passed: bool | None = None  # None: no target, or not measurable


def _num(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:,.{digits}f}"


def _ms(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "—"
    return " / ".join(_num(summary[k], 1) for k in ("p50_ms", "p95_ms", "p99_ms"))


def _ratio(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:,.2f}x"


def _div(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def mix_median(queries: dict[str, Any], keys: list[str]) -> float | None:
    values = [queries[k]["cold"]["p50_ms"] for k in keys if k in queries]
    return statistics.median(values) if values else None


VERIFY_TARGET = 200_000
# Issue 23: witness rounds must not slow ingest (within the run-to-run noise, about 10 %), and a
# checkpoint is quorum-cosigned within 5 s locally.
WITNESS_SLOWDOWN = 0.9
WITNESS_FINAL_S = 5.0


STREAM_TARGET = 20_000.0


def _stream_lines(stream: dict[str, Any] | None) -> list[Line]:
    if not stream:
        return []
    return [
        Line(
            f"log stream to a webhook, {stream['backlog_events']:,}-event backlog, ingesting (events/s)",
            _num(stream["events_per_s"]),
            target=f"≥ {STREAM_TARGET:,.0f}, no gap",
            passed=stream["events_per_s"] >= STREAM_TARGET and not stream["gaps"],
        ),
        Line(
            "  caught up after ingest stopped (s); server CPU per 1,000 delivered, ingest included (ms)",
            f"{_num(stream['lag_after_ingest_stopped_s'], 2)}; {_num(stream['server_cpu_ms_per_1k'], 1)}",
        ),
    ]


def _witness_lines(ab: dict[str, Any] | None) -> list[Line]:
    if not ab:
        return []
    none, two = ab["none"], ab["two_witnesses"]
    ratio = _div(two["events_per_s"], none["events_per_s"])
    final = two["all_final_after_last_ack_s"]
    return [
        Line(
            f"batch ingest, two local witnesses (quorum {ab['quorum']}) vs none, "
            f"{two['events']:,} events (events/s)",
            f"{_num(two['events_per_s'])} vs {_num(none['events_per_s'])}",
            ratio=_ratio(ratio),
            target=f"≥ {WITNESS_SLOWDOWN}x",
            passed=ratio is not None and ratio >= WITNESS_SLOWDOWN,
        ),
        Line(
            "  server CPU per 1,000 events, with vs without; the witnesses' own (ms)",
            f"{_num(two['server_cpu_ms_per_1k'], 1)} vs {_num(none['server_cpu_ms_per_1k'], 1)}; "
            f"{_num(two['witness_cpu_ms_per_1k'], 1)}",
        ),
        Line(
            "  every tenant's final checkpoint, after the last answer (s; with vs without)",
            f"{_num(final, 2)} vs {_num(none['all_final_after_last_ack_s'], 2)}",
            target=f"≤ {WITNESS_FINAL_S:g}",
            passed=final is not None and final <= WITNESS_FINAL_S,
        ),
    ]


def build_lines(results: dict[str, Any]) -> list[Line]:
    ours = results["ours"]
    pg = results.get("postgres") or {}
    pg_ok = "load" in pg
    lines: list[Line] = []

    batch = ours["batch_ingest"]
    copy_rate = pg["load"]["copy_rows_per_s"] if pg_ok else None
    ratio = _div(batch["events_per_s"], copy_rate)
    passed = batch["events_per_s"] >= BATCH_TARGET and (ratio is None or ratio >= BATCH_VS_COPY)
    lines.append(
        Line(
            f"batch ingest, 1000/request, {batch['connections']} conns (events/s; PG: COPY)",
            _num(batch["events_per_s"]),
            _num(copy_rate),
            _ratio(ratio),
            f"≥ {BATCH_TARGET:,.0f} and ≥ {BATCH_VS_COPY}x COPY",
            passed,
        )
    )
    queryable = batch.get("queryable_events_per_s")
    pg_indexed = pg["load"]["load_with_indexes_rows_per_s"] if pg_ok else None
    lines.append(
        Line(
            "  … until all queryable (events/s; PG: COPY + indexes + analyze)",
            _num(queryable),
            _num(pg_indexed),
            _ratio(_div(queryable, pg_indexed)),
        )
    )
    cpu = batch.get("cpu") or {}
    if cpu.get("server_cpu_seconds") is not None:
        lines.append(
            Line(
                "  server CPU per 1,000 events, batch ingest incl. drain (ms; cores used)",
                f"{_num(1e6 * cpu['server_cpu_seconds'] / batch['accepted'], 1)} ({cpu['server_cores']:.2f})"
                if batch["accepted"]
                else "—",
            )
        )
    lines += _witness_lines(ours.get("witnesses"))
    lines += _stream_lines(ours.get("stream"))
    raw = ours.get("raw_append")
    if raw:
        lines.append(
            Line(
                f"store alone: DuckDBEventStore.append, {raw['chunk_rows']:,}/append (rows/s; PG: COPY)",
                _num(raw["rows_per_s"]),
                _num(copy_rate),
                _ratio(_div(raw["rows_per_s"], copy_rate)),
            )
        )
    verify = ours.get("verify")
    if verify:
        lines.append(
            Line(
                f"verify: every leaf recomputed, {verify['tenants']} tenants (events/s)",
                _num(verify["events_per_s"]),
                target=f"≥ {VERIFY_TARGET:,.0f}, no findings",
                passed=verify["events_per_s"] >= VERIFY_TARGET and verify["ok"],
            )
        )
    single = ours.get("single_ingest")
    if single:
        lines.append(
            Line(
                f"single-event ingest, {single['connections']} conns, {single['driver'].split()[0]} (req/s)",
                _num(single["requests_per_s"]),
                target=f"≥ {SINGLE_TARGET:,.0f}",
                passed=single["requests_per_s"] >= SINGLE_TARGET and not single["errors"],
            )
        )
    scpu = (single or {}).get("cpu") or {}
    if single and scpu.get("server_cpu_seconds") is not None and single["requests"]:
        per_request = 1e3 * scpu["server_cpu_seconds"] / single["requests"]
        lines.append(
            Line(
                "  server CPU per single-event request (ms; cores used)",
                f"{_num(per_request, 2)} ({scpu['server_cores']:.2f})",
            )
        )
    lag = ours.get("lag")
    if lag:
        lines.append(Line("ingest→queryable lag p50 (ms)", _num(lag["lag"]["p50_ms"], 1)))
        lines.append(
            Line(
                "ingest→queryable lag p99 (ms)",
                _num(lag["lag"]["p99_ms"], 1),
                target=f"≤ {LAG_P99_TARGET_MS:,.0f}",
                passed=lag["lag"]["p99_ms"] <= LAG_P99_TARGET_MS,
            )
        )

    specs = results["query_mix"]
    oq = ours.get("queries", {})
    pq = pg.get("queries", {}) if pg_ok else {}
    keys = [s["key"] for s in specs]
    for spec in [*specs, {"key": "get_by_id", "label": "get by id", "target_p95_ms": GET_TARGET_MS}]:
        key = spec["key"]
        if key not in oq:
            continue
        cold = oq[key]["cold"]
        pcold = pq.get(key, {}).get("cold")
        lines.append(
            Line(
                f"{spec['label']}, p50/p95/p99 (ms)",
                _ms(cold),
                _ms(pcold),
                _ratio(_div(pcold["p50_ms"], cold["p50_ms"]) if pcold else None),
                f"p95 ≤ {spec['target_p95_ms']:g}",
                cold["p95_ms"] <= spec["target_p95_ms"],
            )
        )
    for key in [*keys, "get_by_id"]:
        if key not in oq or "repeated" not in oq[key]:
            continue
        rep = oq[key]["repeated"]
        prep = pq.get(key, {}).get("repeated")
        lines.append(
            Line(
                f"repeated: {key}, p50/p95/p99 (ms)",
                _ms(rep),
                _ms(prep),
                _ratio(_div(prep["p50_ms"], rep["p50_ms"]) if prep else None),
                f"p95 ≤ {REPEATED_TARGET_MS:g}",
                rep["p95_ms"] <= REPEATED_TARGET_MS,
            )
        )
    ours_median = mix_median(oq, [*keys, "get_by_id"])
    pg_median = mix_median(pq, [*keys, "get_by_id"]) if pq else None
    speedup = _div(pg_median, ours_median)
    lines.append(
        Line(
            "query mix: median of the p50s (ms)",
            _num(ours_median, 1),
            _num(pg_median, 1),
            _ratio(speedup),
            f"≥ {MIX_SPEEDUP_TARGET:g}x faster than PG",
            None if speedup is None else speedup >= MIX_SPEEDUP_TARGET,
        )
    )
    if "healthz" in oq:
        lines.append(Line("HTTP floor: GET /healthz p50 (ms)", _num(oq["healthz"]["cold"]["p50_ms"], 2)))

    exports = ours.get("export", {})
    pe = pg.get("export", {}) if pg_ok else {}
    for fmt, name in (("json", "NDJSON"), ("csv", "CSV")):
        if fmt not in exports:
            continue
        e = exports[fmt]
        pe_rate = pe.get(fmt, {}).get("rows_per_s")
        lines.append(
            Line(
                f"export {name}, {e['rows']:,} rows (rows/s; PG: COPY TO)",
                _num(e["rows_per_s"]),
                _num(pe_rate),
                _ratio(_div(e["rows_per_s"], pe_rate)),
                f"≥ {EXPORT_TARGET:,.0f}",
                e["rows_per_s"] >= EXPORT_TARGET,
            )
        )
    if "json" in exports and "part_json" in exports:
        full, part = exports["json"], exports["part_json"]
        allowed = EXPORT_RSS_FACTOR * part["rss_growth_mib"] + EXPORT_RSS_SLACK_MIB
        lines.append(
            Line(
                f"server RSS growth in export, {part['rows']:,} / {full['rows']:,} rows (MiB; before → peak)",
                f"+{_num(part['rss_growth_mib'])} / +{_num(full['rss_growth_mib'])} "
                f"({_num(full['rss_before_mib'])} → {_num(full['rss_peak_mib'])})",
                target=f"full ≤ {EXPORT_RSS_FACTOR:g}x part + {EXPORT_RSS_SLACK_MIB:g}",
                passed=full["rss_growth_mib"] <= allowed,
            )
        )
    if raw:
        pg_bytes = pg["load"]["bytes_per_event"] if pg_ok else None
        lines.append(
            Line(
                "on disk per event (bytes; ours: DuckDB file; PG: table + indexes)",
                _num(raw["bytes_per_event"]),
                _num(pg_bytes),
                _ratio(_div(pg_bytes, raw["bytes_per_event"])),
            )
        )
    return lines


def render_table(lines: list[Line]) -> str:
    header = ["metric", "ours", "PostgreSQL", "ratio*", "target", "ok"]
    rows = [
        [
            ln.metric,
            ln.ours,
            ln.postgres,
            ln.ratio,
            ln.target,
            {True: "PASS", False: "FAIL", None: ""}[ln.passed] if ln.target else "",
        ]
        for ln in lines
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    aligns = ["<", ">", ">", ">", "<", "<"]

    def fmt(row: list[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, aligns, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [fmt(header), rule, *(fmt(r) for r in rows), rule]
    out.append("* ratio > 1 means ours is better: ours/PG for rates, PG/ours for latencies and sizes.")
    return "\n".join(out)


def write_json(results: dict[str, Any], lines: list[Line], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {**results, "table": [asdict(ln) for ln in lines]}
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def write_chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours = results["ours"]
    pg = results.get("postgres") or {}
    pq = pg.get("queries", {})
    keys = [s["key"] for s in results["query_mix"]] + ["get_by_id"]
    keys = [k for k in keys if k in ours.get("queries", {})]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    width = 0.2

    def query_panel(ax: Any, kind: str, title: str) -> None:
        xs = range(len(keys))
        series = [
            ("ours p50", [ours["queries"][k][kind]["p50_ms"] for k in keys], "#1f77b4"),
            ("ours p95", [ours["queries"][k][kind]["p95_ms"] for k in keys], "#aec7e8"),
        ]
        if pq:
            series += [
                ("PostgreSQL p50", [pq[k][kind]["p50_ms"] if k in pq else 0 for k in keys], "#d62728"),
                ("PostgreSQL p95", [pq[k][kind]["p95_ms"] if k in pq else 0 for k in keys], "#ff9896"),
            ]
        for i, (label, values, color) in enumerate(series):
            ax.bar(
                [x + (i - (len(series) - 1) / 2) * width for x in xs], values, width, label=label, color=color
            )
        ax.axhline(50, color="grey", linestyle="--", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(keys, rotation=30, ha="right")
        ax.set_ylabel("latency (ms, log)")
        ax.set_title(title)
        ax.legend(fontsize=8)

    if keys:
        query_panel(axes[0], "cold", "query latency (distinct windows)")
        query_panel(axes[1], "repeated", "the same queries repeated")

    bars: list[tuple[str, float, float | None]] = []
    load = pg.get("load", {})
    bars.append(("batch ingest\nvs COPY", ours["batch_ingest"]["events_per_s"], load.get("copy_rows_per_s")))
    if "raw_append" in ours:
        bars.append(("store append\nvs COPY", ours["raw_append"]["rows_per_s"], load.get("copy_rows_per_s")))
    if "single_ingest" in ours:
        bars.append(("single-event\n(req/s)", ours["single_ingest"]["requests_per_s"], None))
    for fmt in ("json", "csv"):
        if fmt in ours.get("export", {}):
            other = pg.get("export", {}).get(fmt, {}).get("rows_per_s")
            bars.append((f"export {fmt}\nvs COPY TO", ours["export"][fmt]["rows_per_s"], other))
    ax = axes[2]
    xs = range(len(bars))
    ax.bar([x - 0.2 for x in xs], [b[1] for b in bars], 0.4, label="ours", color="#1f77b4")
    ax.bar([x + 0.2 for x in xs], [b[2] or 0 for b in bars], 0.4, label="PostgreSQL", color="#d62728")
    ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([b[0] for b in bars], fontsize=8)
    ax.set_ylabel("rows or requests per second (log)")
    ax.set_title("throughput")
    ax.legend(fontsize=8)

    machine = results["machine"]
    fig.suptitle(
        f"audit log benchmark — {results['dataset']['events']:,} events, seed {results['config']['seed']} — "
        f"{machine['cpu_model']}, {machine['cores']} cores — {machine['date']} (provisional: shared machine)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
