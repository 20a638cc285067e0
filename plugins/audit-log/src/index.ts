/**
 * The audit log plugin. Default export: the plugin for the new frontend system. Named
 * exports: the legacy plugin and extensions, the API and its client, and the verifier.
 */
export { default } from './plugin';
export { auditLogApi, auditLogEntityContent, auditLogPage } from './plugin';
export { AuditLogPage, EntityAuditLogContent, auditLogPlugin } from './legacy';
export { rootRouteRef, legacyRootRouteRef } from './routes';
export {
  AuditLogApiError,
  auditLogApiRef,
  type AuditLogApi,
} from './api/AuditLogApi';
export {
  AuditLogClient,
  type AuditLogClientOptions,
} from './api/AuditLogClient';
export * from './api/types';
export { AUDIT_LOG_SERVICE_ANNOTATION } from './components/entityAnnotation';
export {
  isAuditLogAvailable,
  auditLogServiceName,
} from './components/EntityAuditLogView';
export {
  verifyCheckpoint,
  verifyInclusion,
  type VerificationResult,
  type WitnessPolicyConfig,
} from './integrity/verify';
export { canonicalize } from './integrity/jcs';
