"""Move an events table created with the seed's clustering to the layout of issue 25.

    python -m devtools.bq_migrate --project P --dataset D [--table events] [--no-search-index]

1. the clustering becomes ``bigquery_sql.CLUSTERING_FIELDS`` (a metadata change; Terraform makes
   the same one in place): new data is clustered the new way from then on;
2. the search index is created (``bigquery_sql.search_index_ddl``; Terraform's job does the same,
   and ``IF NOT EXISTS`` makes running both harmless);
3. every partition is rewritten in runs of ``RUN_DAYS`` days, oldest first, by an ``UPDATE`` that
   changes no value (``SET tenant_id = tenant_id``): BigQuery writes the rows it updates in the
   table's current clustering. One scan of the table, billed once; reads stay correct throughout,
   only their cost waits for the rewrite. Rerunning it is harmless.

Tested against the emulator (tests/integration/test_bigquery_store.py), which keeps neither a
clustering order nor search indexes: there it checks that the rewrite keeps every row.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta

from google.cloud import bigquery

from auditlog.backends.gcp import bigquery_sql

RUN_DAYS = 31


def recluster_statements(table: str, oldest: date, newest: date) -> list[bigquery_sql.Statement]:
    """The rewrites of ``oldest..newest``, ``RUN_DAYS`` partitions each (a constant range, so each
    reads only its partitions)."""
    out = []
    first = oldest
    while first <= newest:
        last = min(newest, first + timedelta(days=RUN_DAYS - 1))
        out.append(
            bigquery_sql.Statement(
                f"UPDATE `{table}` SET tenant_id = tenant_id"
                " WHERE partition_date BETWEEN @date_lo AND @date_hi",
                [
                    bigquery.ScalarQueryParameter("date_lo", "DATE", first),
                    bigquery.ScalarQueryParameter("date_hi", "DATE", last),
                ],
            )
        )
        first = last + timedelta(days=1)
    return out


def migrate(client: bigquery.Client, dataset: str, table: str, *, search_index: bool = True) -> int:
    """Apply the three steps; returns the number of rewrite statements run."""
    table_id = f"{client.project}.{bigquery_sql.checked_name(dataset)}.{bigquery_sql.checked_name(table)}"
    events = client.get_table(table_id)
    if events.clustering_fields != list(bigquery_sql.CLUSTERING_FIELDS):
        events.clustering_fields = list(bigquery_sql.CLUSTERING_FIELDS)
        client.update_table(events, ["clustering_fields"])
    if search_index:
        client.query_and_wait(bigquery_sql.search_index_ddl(table_id))
    bounds = (
        f"SELECT MIN(partition_date) AS lo, MAX(partition_date) AS hi FROM `{table_id}`"
        f" WHERE {bigquery_sql.ALL_DAYS}"
    )
    row = next(iter(client.query_and_wait(bounds)))
    if row["lo"] is None:
        return 0
    statements = recluster_statements(table_id, row["lo"], row["hi"])
    for statement in statements:
        client.query_and_wait(statement.sql, job_config=statement.config())
    return len(statements)


def main() -> None:
    parser = argparse.ArgumentParser(description="Move the events table to the clustering of issue 25.")
    parser.add_argument("--project", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--table", default="events")
    parser.add_argument("--no-search-index", action="store_true", help="leave the index to Terraform")
    args = parser.parse_args()
    client = bigquery.Client(project=args.project)
    print(
        f"{migrate(client, args.dataset, args.table, search_index=not args.no_search_index)} runs rewritten"
    )


if __name__ == "__main__":
    main()
