"""Cloud Function entry point: the retention routes of the audit log API."""

import functions_framework.aio
from auditlog.api import Api
from auditlog.runtime import get_runtime
from starlette.requests import Request
from starlette.responses import Response

_api = Api(get_runtime, functions={"retention"})


@functions_framework.aio.http
async def retention(request: Request) -> Response:
    return await _api.handle(request)
