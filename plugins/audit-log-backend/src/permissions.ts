import { createPermission } from '@backstage/plugin-permission-common';

/** Read the events of the user's tenant on the audit log page (search, detail, integrity). */
export const auditLogEventsReadPermission = createPermission({
  name: 'audit-log.events.read',
  attributes: { action: 'read' },
});

/**
 * Read the events of one catalog entity's service (the entity tab). A resource permission on
 * `catalog-entity`, so a policy can make it conditional, e.g. on owning the entity:
 * `createCatalogConditionalDecision(request.permission, catalogConditions.isEntityOwner({ claims: user.info.ownershipEntityRefs }))`.
 */
export const auditLogEntityEventsReadPermission = createPermission({
  name: 'audit-log.entity.events.read',
  attributes: { action: 'read' },
  resourceType: 'catalog-entity',
});

/** Export events as CSV or NDJSON. */
export const auditLogEventsExportPermission = createPermission({
  name: 'audit-log.events.export',
  attributes: { action: 'read' },
});

/** The admin tab: legal holds, erasure requests, retention dry runs, log streams. */
export const auditLogAdminPermission = createPermission({
  name: 'audit-log.admin',
  attributes: { action: 'update' },
});

export const auditLogPermissions = [
  auditLogEventsReadPermission,
  auditLogEntityEventsReadPermission,
  auditLogEventsExportPermission,
  auditLogAdminPermission,
];
