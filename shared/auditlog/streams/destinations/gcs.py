"""Cloud Storage: one gzip NDJSON object per batch, in the tenant's bucket (which the service's
account may create objects in), named so that names sort by leaf index:

    <prefix><stream_id>/<first leaf, 20 digits>-<last leaf, 20 digits>.ndjson.gz

Its first line is the batch header (``Batch.body()`` without ``events``: stream_id, tenant_id,
format, first and last leaf index, checkpoint), then one line per leaf as the JSON batch carries
it (``item.as_json``: delivery fields at the top, an ocsf or cef event under ``event``).
A test delivery (leaf index -1) goes to ``<prefix><stream_id>/test-<batch_id>.ndjson.gz``, which
sorts after every leaf range.

The upload is conditional (``if_generation_match=0``: only if no such object exists), so a
re-sent batch never replaces the first copy: GCS answers 412, which means the batch is already
there, and counts as delivered. A batch is acknowledged when GCS confirmed the object's creation
(it is then durable). STORAGE_EMULATOR_HOST points the client at an emulator. 4xx answers other
than 408/409/425/429 are permanent (e.g. 403, no such bucket 404); the rest are retried.
"""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from auditlog.streams.batch import Batch
from auditlog.streams.destinations import Context, DeliveryError, http_failure
from auditlog.streams.model import GcsDestination

CONTENT_TYPE = "application/gzip"  # not Content-Encoding: GCS would transcode on download


def object_name(prefix: str, batch: Batch) -> str:
    first, last = batch.first_leaf_index, batch.last_leaf_index
    if first < 0:
        return f"{prefix}{batch.stream_id}/test-{batch.batch_id}.ndjson.gz"
    return f"{prefix}{batch.stream_id}/{first:020d}-{last:020d}.ndjson.gz"


def ndjson(batch: Batch) -> bytes:
    """The batch header line, then one line per leaf; gzip without a timestamp, so that the same
    batch always gives the same bytes."""
    header = {key: value for key, value in batch.body().items() if key != "events"}
    lines = [orjson.dumps(header)]
    lines += [orjson.dumps(item.as_json(batch.tenant_id, batch.format)) for item in batch.items]
    return gzip.compress(b"\n".join(lines) + b"\n", mtime=0)


def _client(project: str) -> Any:
    from google.cloud import storage  # type: ignore[attr-defined]

    return storage.Client(project=project)


class GcsSender:
    def __init__(self, config: GcsDestination, context: Context) -> None:
        self._prefix = config.prefix
        self._timeout = context.timeout_seconds
        try:
            self._client = _client(context.gcp_project)
        except Exception as exc:  # no credentials
            raise DeliveryError(f"Cloud Storage client: {type(exc).__name__}: {exc}") from None
        self._bucket = self._client.bucket(config.bucket)

    def deliver(self, batch: Batch) -> None:
        from google.api_core import exceptions as api
        from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

        blob = self._bucket.blob(object_name(self._prefix, batch))
        try:
            blob.upload_from_string(
                ndjson(batch),
                content_type=CONTENT_TYPE,
                if_generation_match=0,
                timeout=self._timeout,
                retry=DEFAULT_RETRY.with_timeout(self._timeout),
            )
        except api.PreconditionFailed:
            return  # the object exists: this batch was delivered before
        except api.GoogleAPICallError as exc:
            status = exc.code if isinstance(exc.code, int) else 500
            raise http_failure(status, f"Cloud Storage: {exc.message}", None) from None
        except Exception as exc:  # transport errors (requests), timeouts
            raise DeliveryError(f"Cloud Storage: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._client.close()
