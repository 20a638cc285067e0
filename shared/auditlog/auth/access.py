"""What each role may do, and tenant scoping: one declaration, one place that enforces it.

The rule, documented in the README: a caller holds a capability when one of its roles grants it.
If the token also carries a ``permissions`` claim, the capability must be listed there too
(permissions narrow roles, never widen them): ``write:audit``, ``read:audit``,
``export:audit``, ``read:all_tenants``, ``admin:audit``.
"""

from __future__ import annotations

from enum import StrEnum

from auditlog.auth.identity import Principal
from auditlog.errors import FieldProblem, Forbidden


class Capability(StrEnum):
    WRITE = "write"
    READ = "read"
    EXPORT = "export"
    CROSS_TENANT = "cross_tenant"
    ADMIN = "admin"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "audit_writer": frozenset({Capability.WRITE}),
    "audit_reader": frozenset({Capability.READ}),
    "audit_export": frozenset({Capability.READ, Capability.EXPORT}),
    "audit_admin": frozenset({Capability.READ, Capability.CROSS_TENANT}),
    "system_admin": frozenset(Capability),
}

PERMISSIONS: dict[str, Capability] = {
    "write:audit": Capability.WRITE,
    "read:audit": Capability.READ,
    "export:audit": Capability.EXPORT,
    "read:all_tenants": Capability.CROSS_TENANT,
    "admin:audit": Capability.ADMIN,
}


def capabilities(principal: Principal) -> frozenset[Capability]:
    granted: set[Capability] = set()
    for role in principal.roles:
        granted |= ROLE_CAPABILITIES.get(role, frozenset())
    if principal.permissions:
        granted &= {PERMISSIONS[p] for p in principal.permissions if p in PERMISSIONS}
    return frozenset(granted)


def roles_granting(capability: Capability) -> list[str]:
    return sorted(r for r, caps in ROLE_CAPABILITIES.items() if capability in caps)


def require(principal: Principal, capability: Capability) -> None:
    if capability not in capabilities(principal):
        roles = roles_granting(capability)
        permission = next(p for p, c in PERMISSIONS.items() if c is capability)
        raise Forbidden(
            f"this needs one of the roles {', '.join(roles)}"
            + (f" and the permission {permission}" if principal.permissions else ""),
            [FieldProblem("Authorization", f"lacks the {capability.value} capability")],
        )


def readable_tenants(principal: Principal, requested: list[str]) -> list[str]:
    """The tenants a read may touch: the caller's own, or those named by a cross-tenant role."""
    if not requested:
        return [principal.tenant_id]
    if Capability.CROSS_TENANT in capabilities(principal):
        return sorted(set(requested))
    foreign = [t for t in requested if t != principal.tenant_id]
    if foreign:
        raise Forbidden(
            "your roles may only read your own tenant",
            [FieldProblem("tenant_id", "names a tenant your roles may not read")],
        )
    return [principal.tenant_id]


def may_see_self_audit(principal: Principal) -> bool:
    """The service's records of reads and admin actions: tenant admins and system admins."""
    granted = capabilities(principal)
    return Capability.ADMIN in granted or Capability.CROSS_TENANT in granted
