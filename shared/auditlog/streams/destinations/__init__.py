"""Where a stream delivers. Each destination type is a class with ``deliver(batch)``, which
returns once the receiver acknowledged the whole batch and raises ``DeliveryError`` otherwise;
``open_destination`` builds one from a stream's configuration and its (unwrapped) secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from auditlog.streams.batch import Batch
from auditlog.streams.model import (
    GcsDestination,
    PubSubDestination,
    SplunkHecDestination,
    SyslogDestination,
    WebhookDestination,
)

DestinationConfig = (
    WebhookDestination | SyslogDestination | PubSubDestination | GcsDestination | SplunkHecDestination
)


class DeliveryError(Exception):
    """The receiver did not take the batch. ``permanent``: retrying cannot help (a revoked token,
    a 4xx other than 408/409/425/429): the stream pauses with the reason. ``retry_after``: the
    receiver's own wish (seconds), honoured by the back-off."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    def deliver(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What senders may need beyond their configuration."""

    gcp_project: str = "auditlog-local"
    allow_private_addresses: bool = False  # development only: loopback and private receivers
    timeout_seconds: float = 30.0


def open_destination(config: DestinationConfig, secret: str | None, context: Context) -> Sender:
    if isinstance(config, WebhookDestination):
        from auditlog.streams.destinations.webhook import WebhookSender

        return WebhookSender(config, secret, context)
    if isinstance(config, SyslogDestination):
        from auditlog.streams.destinations.syslog import SyslogSender

        return SyslogSender(config, context)
    if isinstance(config, PubSubDestination):
        from auditlog.streams.destinations.pubsub import PubSubSender

        return PubSubSender(config, context)
    if isinstance(config, GcsDestination):
        from auditlog.streams.destinations.gcs import GcsSender

        return GcsSender(config, context)
    from auditlog.streams.destinations.splunk import SplunkHecSender

    return SplunkHecSender(config, secret, context)


RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


def http_failure(status: int, text: str, retry_after: str | None) -> DeliveryError:
    """An HTTP receiver's refusal: 5xx and 408/409/425/429 are retried, other 4xx are permanent."""
    wait = None
    if retry_after is not None:
        try:
            wait = max(0.0, float(retry_after))
        except ValueError:
            wait = None  # an HTTP date: the back-off decides
    permanent = 400 <= status < 500 and status not in RETRYABLE_STATUSES
    return DeliveryError(
        f"HTTP {status}: {text[:300]}", status_code=status, retry_after=wait, permanent=permanent
    )
