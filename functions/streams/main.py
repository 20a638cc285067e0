"""Cloud Function entry point: log stream delivery, run by Cloud Scheduler every minute."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from auditlog import logs
from auditlog.http.app import Api
from auditlog.runtime import get_runtime
from auditlog.settings import get_settings

# One JSON object per line on stderr: Cloud Logging's structured logs (and the log-based metrics).
logs.configure()
_api = Api(get_runtime, functions={"streams"}, project=get_settings().gcp_project)


@functions_framework.aio.http
async def streams(request: Request) -> Response:
    return await _api.handle(request)
