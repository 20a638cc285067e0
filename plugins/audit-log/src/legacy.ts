/** Exports for apps on the legacy frontend system (App.tsx routes, EntityLayout). */
import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { auditLogApiRef } from './api/AuditLogApi';
import { AuditLogClient } from './api/AuditLogClient';
import { legacyRootRouteRef } from './routes';

export const auditLogPlugin = createPlugin({
  id: 'audit-log',
  apis: [
    createApiFactory({
      api: auditLogApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new AuditLogClient({ discoveryApi, fetchApi }),
    }),
  ],
  routes: { root: legacyRootRouteRef },
});

/** `<Route path="/audit-log" element={<AuditLogPage />} />` in App.tsx. */
export const AuditLogPage = auditLogPlugin.provide(
  createRoutableExtension({
    name: 'AuditLogPage',
    component: () =>
      import('./components/AuditLogPage').then(m => m.AuditLogPage),
    mountPoint: legacyRootRouteRef,
  }),
);

/** `<EntityLayout.Route path="/audit-log" title="Audit log">` content on an entity page. */
export const EntityAuditLogContent = auditLogPlugin.provide(
  createComponentExtension({
    name: 'EntityAuditLogContent',
    component: {
      lazy: () =>
        import('./components/EntityAuditLogContent').then(
          m => m.EntityAuditLogContent,
        ),
    },
  }),
);
