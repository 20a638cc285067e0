"""Cloud Function entry point: writes events delivered by Pub/Sub into the event store.

Uses functions-framework's Flask stack, which turns the emulator's raw push envelope into a
CloudEvent; Eventarc sends a binary CloudEvent whose body is the same envelope. Either way
``event.data`` is the push envelope with ``message.data`` base64-encoded.
"""

import functions_framework
from cloudevents.http.event import CloudEvent

from auditlog import logs
from auditlog.runtime import get_runtime
from auditlog.write.pubsub_envelope import write_envelope

# One JSON object per line on stderr: Cloud Logging's structured logs (and the log-based metrics).
logs.configure()


@functions_framework.cloud_event
def writer(event: CloudEvent) -> None:
    runtime = get_runtime()
    write_envelope(runtime.writer, event.data)
