"""The topic and subscriptions of the GCP shape, created in development and emulator projects
(Terraform creates them in real ones)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta

from google.api_core import exceptions as api_exceptions
from google.pubsub_v1 import (
    DeadLetterPolicy,
    ExpirationPolicy,
    PushConfig,
    RetryPolicy,
    Subscription,
)
from google.pubsub_v1 import PublisherClient as TopicAdminClient
from google.pubsub_v1 import SubscriberClient as SubscriptionAdminClient


def ensure_topology(
    project: str,
    topic: str,
    dead_letter_topic: str,
    writer_subscription: str,
    push_endpoint: str | None,
    max_delivery_attempts: int,
    *,
    minimum_backoff_seconds: float | None = 10.0,
    maximum_backoff_seconds: float = 600.0,
    ack_deadline_seconds: int = 60,
) -> None:
    """Create the topic, the dead-letter topic with a pull subscription ``<dead_letter_topic>-sub``,
    and the writer subscription (push to ``push_endpoint`` when given, else pull) with a
    dead-letter policy and a retry policy. Idempotent: what exists is left as it is (not updated).
    Neither subscription expires when idle (the default deletes one after 31 idle days: a quiet
    dead-letter subscription, and what it holds, would vanish).

    ``minimum_backoff_seconds=None`` leaves out the retry policy (immediate redelivery), which
    tests use: the emulator honours a retry policy, and its backoff makes dead-lettering slow.
    On GCP the Pub/Sub service agent also needs ``roles/pubsub.publisher`` on the dead-letter topic
    and ``roles/pubsub.subscriber`` on the writer subscription (Terraform's job, not this one's).
    """
    topic_path = TopicAdminClient.topic_path(project, topic)
    dead_letter_path = TopicAdminClient.topic_path(project, dead_letter_topic)
    with TopicAdminClient() as topics, SubscriptionAdminClient() as subscriptions:
        _exists_ok(lambda: topics.create_topic(name=topic_path))
        _exists_ok(lambda: topics.create_topic(name=dead_letter_path))
        dead_letter_sub = Subscription(
            name=SubscriptionAdminClient.subscription_path(project, f"{dead_letter_topic}-sub"),
            topic=dead_letter_path,
            ack_deadline_seconds=ack_deadline_seconds,
            expiration_policy=ExpirationPolicy(),  # no ttl: never deleted for being idle
        )
        _exists_ok(lambda: subscriptions.create_subscription(request=dead_letter_sub))
        writer = Subscription(
            name=SubscriptionAdminClient.subscription_path(project, writer_subscription),
            topic=topic_path,
            ack_deadline_seconds=ack_deadline_seconds,
            expiration_policy=ExpirationPolicy(),
            dead_letter_policy=DeadLetterPolicy(
                dead_letter_topic=dead_letter_path, max_delivery_attempts=max_delivery_attempts
            ),
        )
        if push_endpoint is not None:
            writer.push_config = PushConfig(push_endpoint=push_endpoint)
        if minimum_backoff_seconds is not None:
            writer.retry_policy = RetryPolicy(
                minimum_backoff=timedelta(seconds=minimum_backoff_seconds),
                maximum_backoff=timedelta(seconds=maximum_backoff_seconds),
            )
        _exists_ok(lambda: subscriptions.create_subscription(request=writer))


def _exists_ok(create: Callable[[], object]) -> None:
    with contextlib.suppress(api_exceptions.AlreadyExists):
        create()
