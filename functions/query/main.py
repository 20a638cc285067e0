"""Cloud Function entry point: the query routes of the audit log API."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from auditlog.api import Api
from auditlog.runtime import get_runtime

_api = Api(get_runtime, functions={"query"})


@functions_framework.aio.http
async def query(request: Request) -> Response:
    return await _api.handle(request)
