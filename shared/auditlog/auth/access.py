"""What each role may do, and on which tenants: one declaration, enforced by the HTTP app for
each route's capability (``http/rules.py``) and by the few rules that depend on the data
(``readable_tenants``, ``administrable_tenant``, ``may_see_self_audit``).

Two kinds of administration (the README's "Security model"):
- **Tenant administration** (``ADMIN``): legal holds, erasures, the tenant's policy (but not its
  rate limits) and streams, for the caller's own tenant only. Any tenant's ``system_admin``.
- **Platform administration** (``CROSS_TENANT``, ``PLATFORM``, ``JOBS``): reading and
  administering any tenant, rate limits, the retention and integrity jobs. Only for tokens whose
  ``tenant_id`` is the platform tenant (``AUDITLOG_PLATFORM_TENANT``), which the operator's
  issuer alone may put in a token: a customer whose identity provider lets it assign roles can
  make itself ``system_admin`` of its own tenant, never of the platform.

A ``permissions`` claim, when the token carries one (even an empty list), narrows the roles:
each capability then also needs one of its permissions.
"""

from __future__ import annotations

from enum import StrEnum

from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, Forbidden, InvalidInput


class Capability(StrEnum):
    WRITE = "write"  # write events into the caller's tenant
    READ = "read"  # search, get, proofs, checkpoints of the tenants the caller may read
    EXPORT = "export"
    AUDIT_TRAIL = "audit_trail"  # see the service's own records of the tenants it may read
    ADMIN = "admin"  # administer the caller's own tenant
    CROSS_TENANT = "cross_tenant"  # platform: read any tenant
    PLATFORM = "platform"  # platform: administer any tenant, rate limits included
    JOBS = "jobs"  # platform: run retention and the integrity job


PLATFORM_ONLY: frozenset[Capability] = frozenset(
    {Capability.CROSS_TENANT, Capability.PLATFORM, Capability.JOBS}
)

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "audit_writer": frozenset({Capability.WRITE}),
    "audit_reader": frozenset({Capability.READ}),
    "audit_export": frozenset({Capability.READ, Capability.EXPORT}),
    "audit_admin": frozenset({Capability.READ, Capability.AUDIT_TRAIL, Capability.CROSS_TENANT}),
    "system_admin": frozenset(Capability),
    # Cloud Scheduler's identity (auth/jwks.py): the scheduled jobs and nothing else.
    "auditlog_scheduler": frozenset({Capability.JOBS}),
}

# Under a permissions claim, a capability needs one of these.
PERMISSIONS: dict[Capability, frozenset[str]] = {
    Capability.WRITE: frozenset({"write:audit"}),
    Capability.READ: frozenset({"read:audit"}),
    Capability.EXPORT: frozenset({"export:audit"}),
    Capability.AUDIT_TRAIL: frozenset({"admin:audit", "read:all_tenants"}),
    Capability.ADMIN: frozenset({"admin:audit"}),
    Capability.CROSS_TENANT: frozenset({"read:all_tenants"}),
    Capability.PLATFORM: frozenset({"admin:audit"}),
    Capability.JOBS: frozenset({"admin:audit"}),
}


def capabilities(principal: Principal) -> frozenset[Capability]:
    granted: set[Capability] = set()
    for role in principal.roles:
        granted |= ROLE_CAPABILITIES.get(role, frozenset())
    if not principal.platform:
        granted -= PLATFORM_ONLY
    if principal.permissions is not None:
        granted = {c for c in granted if PERMISSIONS[c] & principal.permissions}
    return frozenset(granted)


def roles_granting(capability: Capability) -> list[str]:
    roles = sorted(r for r, caps in ROLE_CAPABILITIES.items() if capability in caps)
    if capability in PLATFORM_ONLY:
        return [f"{r} (platform tenant)" for r in roles]
    return roles


def require(principal: Principal, capability: Capability) -> None:
    if capability not in capabilities(principal):
        roles = roles_granting(capability)
        needs = f"this needs one of the roles {', '.join(roles)}"
        if principal.permissions is not None:
            needs += f" and one of the permissions {', '.join(sorted(PERMISSIONS[capability]))}"
        raise Forbidden(needs, [FieldProblem("Authorization", f"lacks the {capability.value} capability")])


MAX_TENANTS_PER_READ = 20


def readable_tenants(principal: Principal, requested: list[str]) -> list[str]:
    """The tenants a read may touch: the caller's own, or those named by a cross-tenant role."""
    if not requested:
        return [principal.tenant_id]
    named = sorted(set(requested))
    if len(named) > MAX_TENANTS_PER_READ:
        raise InvalidInput(
            f"one read names at most {MAX_TENANTS_PER_READ} tenants",
            [FieldProblem("tenant_id", f"names more than {MAX_TENANTS_PER_READ} tenants")],
        )
    if Capability.CROSS_TENANT in capabilities(principal):
        return named
    if named != [principal.tenant_id]:
        raise Forbidden(
            "your roles may only read your own tenant",
            [FieldProblem("tenant_id", "names a tenant your roles may not read")],
        )
    return named


def administrable_tenant(principal: Principal, tenant_id: str, field: str = "tenant_id") -> str:
    """``tenant_id`` if the caller may administer it: its own tenant, or any for the platform."""
    if tenant_id != principal.tenant_id and Capability.PLATFORM not in capabilities(principal):
        raise Forbidden(
            "tenant administrators act on their own tenant only",
            [FieldProblem(field, "names a tenant other than your token's")],
        )
    return tenant_id


def is_platform_admin(principal: Principal) -> bool:
    return Capability.PLATFORM in capabilities(principal)


def listed_tenant(principal: Principal, tenant_id: str | None) -> str | None:
    """The tenant an administrative listing covers: the one named (if the caller may administer
    it), else the caller's own; None (every tenant) for the platform."""
    if tenant_id is not None:
        return administrable_tenant(principal, tenant_id)
    return None if is_platform_admin(principal) else principal.tenant_id


def may_see_self_audit(principal: Principal) -> bool:
    """The service's records of reads and admin actions: audit and system admins."""
    return Capability.AUDIT_TRAIL in capabilities(principal)
