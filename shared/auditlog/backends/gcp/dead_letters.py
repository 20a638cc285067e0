"""Replaying dead letters: messages the writer could not write, archived by Pub/Sub's BigQuery
subscription into ``<dataset>.<table>_dead_letters`` (terraform/modules/platform), published to
the events topic again once their cause is fixed.

Each row's ``data`` is published byte for byte, with its original attributes (``tenant_id``,
``schema_version``, ``count``, and ``message`` for claimed events) less Pub/Sub's own
``CloudPubSub*`` ones. A replay is idempotent: the writer stages a message's leaves under a key
of its content, so a message written before is staged nothing new, and reads drop the copies.
Rows are read with a ``publish_time`` bound (the table is partitioned by it) and stay in the
archive: it is a record of what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from google.cloud import bigquery

PUBSUB_ATTRIBUTE_PREFIX = "CloudPubSub"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    publish_time: datetime
    data: bytes
    attributes: dict[str, str]


def dead_letters(
    client: bigquery.Client, table: str, *, since: datetime, message_ids: list[str] | None = None
) -> list[DeadLetter]:
    """The archived messages published since ``since`` (those of ``message_ids`` only, if given),
    oldest first."""
    sql = (
        f"SELECT message_id, publish_time, data, attributes FROM `{table}` "
        "WHERE publish_time >= @since"
    )
    params: list[Any] = [bigquery.ScalarQueryParameter("since", "TIMESTAMP", since)]
    if message_ids:
        sql += " AND message_id IN UNNEST(@ids)"
        params.append(bigquery.ArrayQueryParameter("ids", "STRING", message_ids))
    sql += " ORDER BY publish_time"
    config = bigquery.QueryJobConfig(query_parameters=params)
    out = []
    for row in client.query(sql, job_config=config).result():
        attributes = orjson.loads(row["attributes"]) if row["attributes"] else {}
        kept = {k: str(v) for k, v in attributes.items() if not k.startswith(PUBSUB_ATTRIBUTE_PREFIX)}
        out.append(DeadLetter(row["message_id"], row["publish_time"], bytes(row["data"] or b""), kept))
    return out


def replay(publisher: Any, topic_path: str, letters: list[DeadLetter]) -> list[tuple[str, str]]:
    """Publish each again; (the archived message id, the new one) for each, in order."""
    futures = [(d.message_id, publisher.publish(topic_path, d.data, **d.attributes)) for d in letters]
    return [(old, future.result(timeout=60)) for old, future in futures]
