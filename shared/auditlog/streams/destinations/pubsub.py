"""Pub/Sub: one message per batch to the tenant's topic (``projects/<p>/topics/<t>``, which the
service's account may publish to). ``data`` is the JSON batch body (``Batch.body()``); attributes
``stream_id``, ``tenant_id``, ``batch_id``, ``format``, ``first_leaf_index``, ``last_leaf_index``.

Messages carry ordering key = stream_id, with message ordering enabled in the publisher, so a
subscription created with message ordering delivers a stream's batches in leaf order; the
deliverer also publishes one batch at a time, waiting for each. A batch is acknowledged when
Pub/Sub confirmed the publish (the message is then stored in the topic): ``future.result``
within the context's timeout. With the Pub/Sub emulator, PUBSUB_EMULATOR_HOST is honoured by
the client. NotFound (no such topic) and PermissionDenied are permanent; a message over
Pub/Sub's 10 MB limit too (a smaller ``batch_size`` is needed); anything else is retried.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from typing import Any

import orjson

from auditlog.streams.batch import Batch
from auditlog.streams.destinations import Context, DeliveryError
from auditlog.streams.model import PubSubDestination


def attributes(batch: Batch) -> dict[str, str]:
    return {
        "stream_id": batch.stream_id,
        "tenant_id": batch.tenant_id,
        "batch_id": batch.batch_id,
        "format": batch.format.value,
        "first_leaf_index": str(batch.first_leaf_index),
        "last_leaf_index": str(batch.last_leaf_index),
    }


def _publisher(timeout: float) -> Any:
    """A publisher that sends each message at once (one per batch, waited for) and keeps order."""
    from google.cloud.pubsub_v1 import PublisherClient, types  # type: ignore[import-untyped]

    return PublisherClient(
        batch_settings=types.BatchSettings(max_messages=1),
        publisher_options=types.PublisherOptions(enable_message_ordering=True, timeout=timeout),
    )


def _failure(exc: BaseException) -> DeliveryError:
    from google.api_core import exceptions as api

    if isinstance(exc, concurrent.futures.TimeoutError):
        return DeliveryError("Pub/Sub did not confirm the publish in time")
    if isinstance(exc, api.GoogleAPICallError):
        permanent = isinstance(exc, api.NotFound | api.PermissionDenied)
        code = exc.code if isinstance(exc.code, int) else None
        detail = f"Pub/Sub: {type(exc).__name__}: {exc.message}"
        return DeliveryError(detail, status_code=code, permanent=permanent)
    if isinstance(exc, ValueError):  # MessageTooLargeError and the like: this batch can never go
        return DeliveryError(f"Pub/Sub refused the message: {exc}", permanent=True)
    return DeliveryError(f"Pub/Sub: {type(exc).__name__}: {exc}")


class PubSubSender:
    def __init__(self, config: PubSubDestination, context: Context) -> None:
        self._topic = config.topic
        self._timeout = context.timeout_seconds
        try:
            self._publisher = _publisher(context.timeout_seconds)
        except Exception as exc:  # no credentials, a bad emulator address
            raise DeliveryError(f"Pub/Sub client: {type(exc).__name__}: {exc}") from None

    def deliver(self, batch: Batch) -> None:
        data = orjson.dumps(batch.body())
        try:
            future = self._publisher.publish(
                self._topic, data, ordering_key=batch.stream_id, **attributes(batch)
            )
            future.result(timeout=self._timeout)
        except Exception as exc:
            # A failed publish pauses its ordering key; the re-send must be able to go.
            self._publisher.resume_publish(self._topic, batch.stream_id)
            raise _failure(exc) from None

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self._publisher.stop()
        self._publisher.transport.close()
