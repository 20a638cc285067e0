"""Cloud Function entry point: the query routes of the audit log API."""

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from auditlog.api import Api
from auditlog.runtime import get_runtime
from auditlog.settings import get_settings

_api = Api(get_runtime, functions={"query"}, project=get_settings().gcp_project)


@functions_framework.aio.http
async def query(request: Request) -> Response:
    return await _api.handle(request)
