import { Alert, Text } from '@backstage/ui';
import { stringifyEntityRef, type Entity } from '@backstage/catalog-model';
import { AuditLogRoutes } from './AuditLogPage';
import { AuditLogScopeProvider } from './AuditLogProvider';

import { AUDIT_LOG_SERVICE_ANNOTATION } from './entityAnnotation';

export { AUDIT_LOG_SERVICE_ANNOTATION };

export function auditLogServiceName(entity: Entity): string | undefined {
  const value =
    entity.metadata.annotations?.[AUDIT_LOG_SERVICE_ANNOTATION]?.trim();
  return value ? value : undefined;
}

/** For `EntitySwitch` (legacy) and the entity content filter (new system). */
export function isAuditLogAvailable(entity: Entity): boolean {
  return auditLogServiceName(entity) !== undefined;
}

/** Explains the annotation when an entity lacks it. */
export function MissingAnnotation() {
  return (
    <Alert
      status="info"
      icon
      title={`Add the ${AUDIT_LOG_SERVICE_ANNOTATION} annotation`}
      description={
        <Text as="span">
          This entity does not say which service_name its audit events carry. In
          catalog-info.yaml:{' '}
          <code>
            metadata.annotations: {'{'} {AUDIT_LOG_SERVICE_ANNOTATION}:
            my-service {'}'}
          </code>
        </Text>
      }
    />
  );
}

/** Entity tab: the explorer locked to the entity's service (from its annotation). */
export function EntityAuditLogView({ entity }: { entity: Entity }) {
  const service = auditLogServiceName(entity);
  if (!service) return <MissingAnnotation />;
  // The backend plugin reads this entity's service only, under the entity read permission.
  const scope = { entityRef: stringifyEntityRef(entity) };
  return (
    <AuditLogScopeProvider scope={scope}>
      <AuditLogRoutes lockedFilters={{ service_name: [service] }} />
    </AuditLogScopeProvider>
  );
}
