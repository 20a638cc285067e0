import type { RootConfigService } from '@backstage/backend-plugin-api';

/** The audit log roles a Backstage user can be given (audit_writer is not: the portal only reads). */
export const GRANTABLE_ROLES = [
  'audit_reader',
  'audit_export',
  'audit_admin',
  'system_admin',
] as const;

export interface AccessRule {
  tenant: string;
  members: string[];
  roles: string[];
}

/** A tenant the user may act in, and the roles asserted there. */
export interface TenantAccess {
  tenant: string;
  roles: string[];
}

export interface AuditLogBackendConfig {
  baseUrl: string;
  serviceToken: string;
  access: AccessRule[];
  timeoutMs: number;
}

/** Reads `auditLog.*`; refuses an unknown role or an empty rule at start-up, not at a request. */
export function readAuditLogConfig(
  config: RootConfigService,
): AuditLogBackendConfig {
  const section = config.getConfig('auditLog');
  const access = (section.getOptionalConfigArray('access') ?? []).map(
    (rule, index) => {
      const roles = rule.getStringArray('roles');
      const unknown = roles.filter(
        role => !(GRANTABLE_ROLES as readonly string[]).includes(role),
      );
      if (unknown.length) {
        throw new Error(
          `auditLog.access[${index}].roles: ${unknown.join(
            ', ',
          )} is not one of ${GRANTABLE_ROLES.join(', ')}`,
        );
      }
      const members = rule.getStringArray('members');
      if (!members.length || !roles.length) {
        throw new Error(`auditLog.access[${index}] needs members and roles`);
      }
      return {
        tenant: rule.getString('tenant'),
        members: members.map(m => m.toLocaleLowerCase('en-US')),
        roles,
      };
    },
  );
  return {
    baseUrl: section.getString('baseUrl').replace(/\/+$/, ''),
    serviceToken: section.getString('serviceToken'),
    access,
    timeoutMs: section.getOptionalNumber('timeoutMs') ?? 30_000,
  };
}

/**
 * The tenants a user acts in, in rule order, each with the union of the roles its matching
 * rules grant. `ownershipEntityRefs` is what Backstage's userInfo gives: the user entity and
 * the groups it belongs to.
 */
export function tenantsFor(
  rules: AccessRule[],
  ownershipEntityRefs: string[],
): TenantAccess[] {
  const refs = new Set(
    ownershipEntityRefs.map(r => r.toLocaleLowerCase('en-US')),
  );
  const byTenant = new Map<string, Set<string>>();
  for (const rule of rules) {
    if (!rule.members.some(member => refs.has(member))) continue;
    const roles = byTenant.get(rule.tenant) ?? new Set<string>();
    rule.roles.forEach(role => roles.add(role));
    byTenant.set(rule.tenant, roles);
  }
  return [...byTenant].map(([tenant, roles]) => ({
    tenant,
    roles: GRANTABLE_ROLES.filter(role => roles.has(role)),
  }));
}
