"""schemathesis against a live server from the checked-in OpenAPI document: for every
operation, generated requests (valid and not) never get a 5xx, and every response conforms to
the document."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.conftest import ROOT, LocalService

pytestmark = pytest.mark.e2e

schema = schemathesis.openapi.from_path(ROOT / "openapi" / "openapi.json")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server of this module's own: generated admin calls change policies and holds."""
    service = LocalService(tmp_path_factory.mktemp("schemathesis") / "data")
    service.start()
    yield service
    service.stop()


@pytest.mark.parametrize(
    ("tenant", "roles"),
    [
        ("fuzz", ["audit_writer", "audit_reader", "audit_export"]),
        ("fuzz", ["system_admin"]),
        ("auditlog-platform", ["system_admin"]),
    ],
    ids=["tenant-roles", "tenant-admin", "platform-admin"],
)
@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error_and_responses_match_the_document(
    case: Any, target: LocalService, tenant: str, roles: list[str]
) -> None:
    token = target.token(tenant, roles, sub="schemathesis")
    case.call_and_validate(
        base_url=target.url,
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
