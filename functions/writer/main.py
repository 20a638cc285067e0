"""Cloud Function entry point: writes events delivered by Pub/Sub into the event store.

Accepts both the emulator's push (turned into a CloudEvent by functions-framework) and Eventarc's
binary CloudEvent: in both the body is the push envelope with ``message.data`` base64-encoded.
"""

import functions_framework.aio
from auditlog.pubsub_envelope import write_envelope
from auditlog.runtime import get_runtime
from cloudevents.http.event import CloudEvent


@functions_framework.aio.cloud_event
def writer(event: CloudEvent) -> None:
    write_envelope(get_runtime().store, event.data)
