# ruff: noqa: E501  (PromQL expressions read best unbroken)
"""Writes monitoring/grafana-dashboard.json: `python monitoring/build_dashboard.py`.

Kept as code so that panels stay uniform; the JSON is checked in (Grafana imports it as is) and a
test checks it is what this script writes, and that every metric it uses exists.
"""

from __future__ import annotations

import json
from pathlib import Path

PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    # (title, unit, [(PromQL, legend)])
    (
        "Requests by status",
        "reqps",
        [("sum by (status) (rate(auditlog_http_requests_total[5m]))", "{{status}}")],
    ),
    (
        "5xx error ratio",
        "percentunit",
        [
            (
                'sum(rate(auditlog_http_requests_total{status=~"5.."}[5m])) '
                "/ clamp_min(sum(rate(auditlog_http_requests_total[5m])), 1e-9)",
                "5xx / all",
            )
        ],
    ),
    (
        "Latency p50 / p99 by operation",
        "s",
        [
            (
                "histogram_quantile(0.5, sum by (le, operation) (rate(auditlog_http_request_duration_seconds_bucket[5m])))",
                "p50 {{operation}}",
            ),
            (
                "histogram_quantile(0.99, sum by (le, operation) (rate(auditlog_http_request_duration_seconds_bucket[5m])))",
                "p99 {{operation}}",
            ),
        ],
    ),
    (
        "Events by outcome",
        "eps",
        [("sum by (outcome, kind) (rate(auditlog_events_total[5m]))", "{{kind}} {{outcome}}")],
    ),
    (
        "Refusals (auth, rate limits)",
        "reqps",
        [("sum by (reason) (rate(auditlog_refusals_total[5m]))", "{{reason}}")],
    ),
    ("Queue depth (events accepted, not yet stored)", "short", [("auditlog_queue_depth_events", "depth")]),
    (
        "Ingest → store lag p50 / p99",
        "s",
        [
            (
                "histogram_quantile(0.5, sum by (le) (rate(auditlog_ingest_to_write_seconds_bucket[5m])))",
                "p50",
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(auditlog_ingest_to_write_seconds_bucket[5m])))",
                "p99",
            ),
        ],
    ),
    (
        "Writer: events per append, append time p99",
        "short",
        [
            (
                "rate(auditlog_writer_batch_events_sum[5m]) / clamp_min(rate(auditlog_writer_batch_events_count[5m]), 1e-9)",
                "mean events/append",
            ),
            (
                "histogram_quantile(0.99, sum by (le) (rate(auditlog_writer_append_seconds_bucket[5m])))",
                "append p99 (s)",
            ),
        ],
    ),
    (
        "Store reads p99 and rows read",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (le, operation) (rate(auditlog_store_read_seconds_bucket[5m])))",
                "p99 {{operation}}",
            ),
            ("sum by (operation) (rate(auditlog_store_rows_read_total[5m]))", "rows/s {{operation}}"),
        ],
    ),
    (
        "Query cache hit ratio",
        "percentunit",
        [
            (
                'sum(rate(auditlog_cache_requests_total{result="hit"}[5m])) '
                "/ clamp_min(sum(rate(auditlog_cache_requests_total[5m])), 1e-9)",
                "hits",
            )
        ],
    ),
    (
        "Integrity: leaves sequenced, sequencing delay p99",
        "short",
        [
            ("rate(auditlog_integrity_leaves_integrated_total[5m])", "leaves/s"),
            (
                "histogram_quantile(0.99, sum by (le) (rate(auditlog_integrity_sequencing_delay_seconds_bucket[5m])))",
                "delay p99 (s)",
            ),
        ],
    ),
    (
        "Integrity: checkpoint age and signatures",
        "s",
        [
            ("auditlog_integrity_checkpoint_age_seconds", "age"),
            ("rate(auditlog_integrity_checkpoints_signed_total[5m]) * 60", "signed/min"),
        ],
    ),
    (
        "Retention and dead letters",
        "short",
        [
            ("increase(auditlog_retention_deleted_events_total[1d])", "deleted (1 d)"),
            ("sum by (outcome) (increase(auditlog_retention_runs_total[1d]))", "runs {{outcome}} (1 d)"),
            ("increase(auditlog_poison_messages_total[1h])", "poison messages (1 h)"),
        ],
    ),
]


def build() -> dict[str, object]:
    panels = []
    for i, (title, unit, targets) in enumerate(PANELS):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + j), "expr": expr, "legendFormat": legend}
                    for j, (expr, legend) in enumerate(targets)
                ],
            }
        )
    return {
        "title": "Audit log",
        "uid": "auditlog-overview",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "tags": ["auditlog"],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    Path(__file__).with_name("grafana-dashboard.json").write_text(render())
