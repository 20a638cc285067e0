/**
 * The audit log backend plugin (default export) and its permissions, for permission policies.
 */
export { auditLogBackendPlugin as default } from './plugin';
export * from './permissions';
export {
  AUDIT_LOG_SERVICE_ANNOTATION,
  ENTITY_HEADER,
  TENANT_HEADER,
} from './router';
export { GRANTABLE_ROLES, tenantsFor, type TenantAccess } from './access';
