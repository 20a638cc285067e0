/** The annotation naming the `service_name` a catalog entity writes its audit events with. */
export const AUDIT_LOG_SERVICE_ANNOTATION = 'audit-log/service-name';
