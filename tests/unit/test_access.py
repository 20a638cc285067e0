"""The access rules (auth/access.py): tenant versus platform administration, the permissions
claim, the scheduler's identity, and the rules that depend on the data."""

from __future__ import annotations

import pytest

from auditlog.auth.access import (
    PLATFORM_ONLY,
    Capability,
    administrable_tenant,
    capabilities,
    listed_tenant,
    may_see_self_audit,
    readable_tenants,
)
from auditlog.auth.identity import Principal
from auditlog.errors import ConfigurationError, Forbidden
from auditlog.http.recording import RefusalGate
from auditlog.settings import Settings

pytestmark = pytest.mark.unit


def customer(*roles: str, permissions: frozenset[str] | None = None) -> Principal:
    return Principal("u", "acme", frozenset(roles), permissions)


def platform(*roles: str) -> Principal:
    return Principal("p", "auditlog-platform", frozenset(roles), platform=True)


def test_a_customers_system_admin_is_a_tenant_admin_only() -> None:
    granted = capabilities(customer("system_admin"))
    assert Capability.ADMIN in granted and Capability.AUDIT_TRAIL in granted
    assert not granted & PLATFORM_ONLY, "a tenant's roles never reach the platform"
    assert capabilities(platform("system_admin")) == frozenset(Capability)


def test_an_audit_admin_reads_across_tenants_only_from_the_platform() -> None:
    assert Capability.CROSS_TENANT not in capabilities(customer("audit_admin"))
    assert Capability.CROSS_TENANT in capabilities(platform("audit_admin"))
    assert readable_tenants(platform("audit_admin"), ["b", "a", "a"]) == ["a", "b"]
    with pytest.raises(Forbidden):
        readable_tenants(customer("audit_admin"), ["globex"])


def test_a_permissions_claim_narrows_even_when_empty() -> None:
    assert capabilities(customer("system_admin", permissions=frozenset())) == frozenset()
    only_read = capabilities(customer("system_admin", permissions=frozenset({"read:audit"})))
    assert only_read == frozenset({Capability.READ})
    assert Capability.READ in capabilities(customer("audit_reader"))  # no claim: the roles decide


def test_the_scheduler_role_runs_jobs_only_in_the_platform_tenant() -> None:
    assert capabilities(platform("auditlog_scheduler")) == frozenset({Capability.JOBS})
    assert capabilities(customer("auditlog_scheduler")) == frozenset()


def test_administration_is_of_the_callers_tenant_unless_platform() -> None:
    assert administrable_tenant(customer("system_admin"), "acme") == "acme"
    with pytest.raises(Forbidden) as refused:
        administrable_tenant(customer("system_admin"), "globex")
    assert refused.value.details[0].field == "tenant_id"
    assert administrable_tenant(platform("system_admin"), "globex") == "globex"
    assert listed_tenant(customer("system_admin"), None) == "acme"
    assert listed_tenant(platform("system_admin"), None) is None


def test_who_sees_the_services_own_records() -> None:
    assert not may_see_self_audit(customer("audit_reader", "audit_export"))
    assert may_see_self_audit(customer("audit_admin"))
    assert may_see_self_audit(customer("system_admin"))


def test_refusals_are_recorded_once_per_key_and_interval_with_a_count() -> None:
    now = [0.0]
    gate = RefusalGate(interval=60, clock=lambda: now[0])
    key = ("acme", "thief", "searchEvents", "outside the allowlist")
    assert gate.admit(key) == 0
    assert [gate.admit(key) for _ in range(5)] == [None] * 5
    assert gate.admit(("acme", "other", "searchEvents", "x")) == 0, "another caller is its own key"
    now[0] = 61
    assert gate.admit(key) == 5, "the next record says how many were left out"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
def test_the_development_issuer_stays_on_loopback_unless_allowed(host: str) -> None:
    with pytest.raises(ConfigurationError, match="AUDITLOG_ALLOW_DEVELOPMENT_ON_NETWORK"):
        Settings(host=host)
    assert Settings(host=host, allow_development_on_network=True).host == host
    assert Settings(host=host, jwt_jwks_url="https://issuer.example/jwks").host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_loopback_hosts_need_nothing(host: str) -> None:
    assert Settings(host=host).host == host
