"""Cloud Function entry point: a C2SP witness (tlog-witness) cosigning other logs' checkpoints.

Deployed on its own by terraform/witness, meant for another project or another organisation than
the log's; configured by ``AUDITLOG_WITNESS_*`` (its name, the logs it accepts, its Cloud KMS key)
with its state in Firestore."""

from functools import cache

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from auditlog import logs
from auditlog.runtime.witness import build_witness
from auditlog.settings import get_settings
from auditlog.witness.app import respond

# One JSON object per line on stderr: Cloud Logging's structured logs (and the log-based metrics).
logs.configure()
# Built once per instance, on its first request (as the log's functions build their runtime).
_witness = cache(lambda: build_witness(get_settings()))


@functions_framework.aio.http
async def witness(request: Request) -> Response:
    return await respond(_witness(), request)
