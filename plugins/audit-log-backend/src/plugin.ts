import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { readAuditLogConfig } from './access';
import { auditLogPermissions } from './permissions';
import { createRouter } from './router';

/**
 * The audit log backend plugin: the frontend's reads and admin actions go through it, and it
 * calls the audit log API as the signed-in user (its service token plus the user's identity,
 * tenant and roles), so that the log's own audit trail names the person, not the portal.
 */
export const auditLogBackendPlugin = createBackendPlugin({
  pluginId: 'audit-log',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        userInfo: coreServices.userInfo,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        catalog: catalogServiceRef,
      },
      async init({
        config,
        logger,
        httpRouter,
        httpAuth,
        userInfo,
        permissions,
        permissionsRegistry,
        catalog,
      }) {
        const settings = readAuditLogConfig(config);
        permissionsRegistry.addPermissions(auditLogPermissions);
        httpRouter.use(
          await createRouter({
            config: settings,
            httpAuth,
            userInfo,
            permissions,
            catalog,
            logger,
          }),
        );
        logger.info(
          `audit log API at ${settings.baseUrl}; ${settings.access.length} access rule(s)`,
        );
      },
    });
  },
});
