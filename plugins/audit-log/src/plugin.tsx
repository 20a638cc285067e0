/** The plugin for Backstage's new frontend system (the package's default export). */
import {
  ApiBlueprint,
  PageBlueprint,
  createFrontendPlugin,
  discoveryApiRef,
  fetchApiRef,
  type ExtensionDefinition,
  type OverridableFrontendPlugin,
} from '@backstage/frontend-plugin-api';
import { EntityContentBlueprint } from '@backstage/plugin-catalog-react/alpha';
import { auditLogApiRef } from './api/AuditLogApi';
import { AuditLogClient } from './api/AuditLogClient';
import { rootRouteRef } from './routes';
import { AUDIT_LOG_SERVICE_ANNOTATION } from './components/entityAnnotation';

export const auditLogApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: auditLogApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new AuditLogClient({ discoveryApi, fetchApi }),
    }),
});

export const auditLogPage = PageBlueprint.make({
  params: {
    path: '/audit-log',
    title: 'Audit log',
    routeRef: rootRouteRef,
    loader: () =>
      import('./components/AuditLogPage').then(m => <m.AuditLogPageContent />),
  },
});

// Declared types, not inferred ones: an app's `tsc` emits declarations, and the inferred types
// name packages (@backstage/filter-predicates) that an app may hold in several versions.
export const auditLogEntityContent: ExtensionDefinition =
  EntityContentBlueprint.make({
    params: {
      path: 'audit-log',
      title: 'Audit log',
      filter: entity =>
        Boolean(
          entity.metadata.annotations?.[AUDIT_LOG_SERVICE_ANNOTATION]?.trim(),
        ),
      loader: () =>
        import('./components/EntityAuditLogContent').then(m => (
          <m.EntityAuditLogContent />
        )),
    },
  });

const auditLogPlugin: OverridableFrontendPlugin = createFrontendPlugin({
  pluginId: 'audit-log',
  title: 'Audit log',
  routes: { root: rootRouteRef },
  extensions: [auditLogApi, auditLogPage, auditLogEntityContent],
});

export default auditLogPlugin;
