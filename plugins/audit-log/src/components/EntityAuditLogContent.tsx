import { useEntity } from '@backstage/plugin-catalog-react';
import { EntityAuditLogView } from './EntityAuditLogView';

/** The entity tab: the explorer locked to the `service_name` in the entity's annotation. */
export function EntityAuditLogContent() {
  const { entity } = useEntity();
  return <EntityAuditLogView entity={entity} />;
}
