/**
 * A Backstage backend (backend-defaults' createBackend) with the audit log backend plugin, for
 * the browser tests and for trying the plugin without an app. Real HTTP router, config reading,
 * error handling and the plugin itself; stand-ins only for what needs an identity provider and a
 * policy: users sign in with Backstage's mock user tokens
 * (`Authorization: Bearer mock-user-token:{"sub":"user:default/alice"}`), their groups come from
 * AUDITLOG_E2E_SETUP, and so does the permission policy (a list of denied permissions per user).
 *
 *   AUDITLOG_API_URL=http://127.0.0.1:8080 AUDITLOG_SERVICE_TOKEN=... \
 *   AUDITLOG_E2E_SETUP=setup.json PORT=7007 npm run dev:e2e
 *
 * setup.json: { "groups": { "user:default/alice": ["group:default/billing"] },
 *               "access": [{ "tenant": "acme", "members": [...], "roles": [...] }],
 *               "deny": { "user:default/bob": ["audit-log.admin"] },
 *               "entities": [ ...catalog entities... ] }
 * Prints `listening on http://127.0.0.1:PORT` once it serves.
 */
import { readFileSync } from 'node:fs';
import { createBackend } from '@backstage/backend-defaults';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import {
  permissionsFrom,
  userInfoWithGroups,
} from '../src/__testing__/services';
import auditLogBackendPlugin from '../src';

const setup = JSON.parse(
  readFileSync(process.env.AUDITLOG_E2E_SETUP ?? 'setup.json', 'utf8'),
);
const port = Number(process.env.PORT ?? 7007);
const deny: Record<string, string[]> = setup.deny ?? {};

const backend = createBackend();
backend.add(
  mockServices.rootConfig.factory({
    data: {
      backend: {
        baseUrl: `http://127.0.0.1:${port}`,
        listen: { host: '127.0.0.1', port },
      },
      auditLog: {
        baseUrl: process.env.AUDITLOG_API_URL,
        serviceToken: process.env.AUDITLOG_SERVICE_TOKEN,
        access: setup.access,
      },
    },
  }),
);
backend.add(mockServices.auth.factory());
backend.add(
  mockServices.httpAuth.factory({ defaultCredentials: mockCredentials.none() }),
);
backend.add(userInfoWithGroups(setup.groups ?? {}));
backend.add(
  permissionsFrom(
    (request, user) => !(deny[user] ?? []).includes(request.permission.name),
  ),
);
backend.add(catalogServiceMock.factory({ entities: setup.entities ?? [] }));
backend.add(auditLogBackendPlugin);
backend.start().then(
  () => console.log(`listening on http://127.0.0.1:${port}`),
  error => {
    console.error(error);
    process.exit(1);
  },
);
