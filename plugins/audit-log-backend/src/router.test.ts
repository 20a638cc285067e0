import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { permissionsFrom, userInfoWithGroups } from './__testing__/services';
import auditLogBackendPlugin, {
  auditLogAdminPermission,
  auditLogEntityEventsReadPermission,
  auditLogEventsExportPermission,
} from './index';

/** A stand-in for the audit log API that records what it was sent and answers in its shape. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}
const seen: Seen[] = [];
let upstream: Server;
let upstreamUrl: string;

const EVENTS: Record<string, { audit_id: string; service_name: string }> = {
  'e-billing': { audit_id: 'e-billing', service_name: 'billing' },
  'e-identity': { audit_id: 'e-identity', service_name: 'identity' },
};

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', chunk => (body += chunk));
    req.on('end', () => {
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
      });
      const path = new URL(req.url!, 'http://x').pathname;
      const id = path.match(
        /^\/api\/v1\/audit\/events\/([^/]+)(\/proof)?$/,
      )?.[1];
      if (path.endsWith('/export')) {
        res.writeHead(200, {
          'content-type': 'text/csv',
          'content-disposition': 'attachment; filename="audit.csv"',
        });
        res.end('audit_id\ne-billing\n');
      } else if (id && id !== 'export') {
        const event = EVENTS[id];
        res.writeHead(event ? 200 : 404, {
          'content-type': 'application/json',
        });
        res.end(
          JSON.stringify(
            event ?? {
              error: {
                code: 'not_found',
                message: 'no',
                details: [],
                request_id: 'r',
              },
            },
          ),
        );
      } else {
        res.writeHead(
          path.includes('legal-holds') && req.method === 'POST' ? 201 : 200,
          {
            'content-type': 'application/json',
            'x-request-id': 'req-1',
          },
        );
        res.end(
          JSON.stringify(
            path.endsWith('/retention/preview')
              ? {
                  dry_run: true,
                  would_delete: 2,
                  per_tenant: { acme: 2 },
                }
              : { events: [], next_page_token: null },
          ),
        );
      }
    });
  });
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>(resolve => upstream.close(() => resolve())));
beforeEach(() => {
  seen.length = 0;
});

const ALICE = 'user:default/alice';
const BOB = 'user:default/bob';
const MALLORY = 'user:default/mallory';

async function backend(options: { baseUrl?: string } = {}) {
  const { server } = await startTestBackend({
    features: [
      auditLogBackendPlugin,
      // As in a real backend, a request without a token is nobody (the mock's default is a user).
      mockServices.httpAuth.factory({
        defaultCredentials: mockCredentials.none(),
      }),
      mockServices.rootConfig.factory({
        data: {
          auditLog: {
            baseUrl: options.baseUrl ?? upstreamUrl,
            serviceToken: 'service-token',
            access: [
              {
                tenant: 'acme',
                members: ['group:default/billing'],
                roles: ['audit_reader'],
              },
              {
                tenant: 'acme',
                members: ['group:default/auditors'],
                roles: ['audit_export', 'system_admin'],
              },
              {
                tenant: 'globex',
                members: ['group:default/identity'],
                roles: ['audit_reader'],
              },
            ],
          },
        },
      }),
      userInfoWithGroups({
        [ALICE]: ['group:default/billing', 'group:default/auditors'],
        [BOB]: ['group:default/identity'],
      }),
      // Bob may read, not export nor administer; nobody may read the identity component's tab.
      permissionsFrom((req, user) => {
        if (user === BOB) {
          return ![
            auditLogEventsExportPermission.name,
            auditLogAdminPermission.name,
          ].includes(req.permission.name);
        }
        if (req.permission.name === auditLogEntityEventsReadPermission.name) {
          return (
            (req as { resourceRef?: string }).resourceRef !==
            'component:default/identity'
          );
        }
        return true;
      }),
      catalogServiceMock.factory({
        entities: [
          {
            apiVersion: 'backstage.io/v1alpha1',
            kind: 'Component',
            metadata: {
              name: 'billing',
              annotations: { 'audit-log/service-name': 'billing' },
            },
          },
          {
            apiVersion: 'backstage.io/v1alpha1',
            kind: 'Component',
            metadata: {
              name: 'identity',
              annotations: { 'audit-log/service-name': 'identity' },
            },
          },
          {
            apiVersion: 'backstage.io/v1alpha1',
            kind: 'Component',
            metadata: { name: 'plain' },
          },
        ],
      }),
    ],
  });
  return server;
}

const as = (user: string) => ({
  Authorization: mockCredentials.user.header(user),
});

describe('the audit log backend plugin', () => {
  it('says who the user is, their tenants and roles, and what they may do', async () => {
    const server = await backend();
    const me = await request(server).get('/api/audit-log/me').set(as(ALICE));
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      userEntityRef: ALICE,
      tenants: [
        {
          tenant: 'acme',
          roles: ['audit_reader', 'audit_export', 'system_admin'],
        },
      ],
      allowed: { read: true, export: true, admin: true },
    });
    const bob = await request(server).get('/api/audit-log/me').set(as(BOB));
    expect(bob.body.allowed).toEqual({
      read: true,
      export: false,
      admin: false,
    });
    expect(bob.body.tenants).toEqual([
      { tenant: 'globex', roles: ['audit_reader'] },
    ]);
  });

  it('calls the API with its service token and the user as the actor, in the mapped tenant', async () => {
    const server = await backend();
    const answer = await request(server)
      .get(
        '/api/audit-log/api/v1/audit/events?user_id=a&user_id=b&tenant_id=other&page_size=5',
      )
      .set(as(BOB));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ events: [], next_page_token: null });
    expect(answer.headers['x-request-id']).toBe('req-1');
    expect(seen).toHaveLength(1);
    expect(seen[0].url).toBe(
      '/api/v1/audit/events?user_id=a&user_id=b&page_size=5',
    );
    expect(seen[0].headers.authorization).toBe('Bearer service-token');
    expect(seen[0].headers['x-auditlog-actor']).toBe(BOB);
    expect(seen[0].headers['x-auditlog-actor-tenant']).toBe('globex');
    expect(seen[0].headers['x-auditlog-actor-roles']).toBe('audit_reader');
  });

  it('refuses a user in no mapped group, and a tenant the user is not given', async () => {
    const server = await backend();
    const none = await request(server)
      .get('/api/audit-log/api/v1/audit/events')
      .set(as(MALLORY));
    expect(none.status).toBe(403);
    expect(none.body.error.code).toBe('forbidden');
    const other = await request(server)
      .get('/api/audit-log/api/v1/audit/events')
      .set({ ...as(BOB), 'x-audit-log-tenant': 'acme' });
    expect(other.status).toBe(403);
    expect(other.body.error.message).toContain('tenant acme');
    expect(seen).toHaveLength(0);
  });

  it('needs a signed-in user', async () => {
    const server = await backend();
    const anonymous = await request(server).get(
      '/api/audit-log/api/v1/audit/events',
    );
    expect(anonymous.status).toBe(401);
    const service = await request(server)
      .get('/api/audit-log/api/v1/audit/events')
      .set('Authorization', mockCredentials.service.header());
    expect(service.status).toBe(403);
    expect(seen).toHaveLength(0);
  });

  it('streams an export for a user allowed to export, refuses one who is not', async () => {
    const server = await backend();
    const csv = await request(server)
      .get('/api/audit-log/api/v1/audit/events/export?format=csv')
      .set(as(ALICE));
    expect(csv.status).toBe(200);
    expect(csv.headers['content-disposition']).toContain('audit.csv');
    expect(csv.text).toBe('audit_id\ne-billing\n');
    expect(seen[0].headers['x-auditlog-actor-roles']).toBe(
      'audit_reader,audit_export,system_admin',
    );
    const refused = await request(server)
      .get('/api/audit-log/api/v1/audit/events/export?format=csv')
      .set(as(BOB));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('audit-log.events.export');
    expect(seen).toHaveLength(1);
  });

  it("scopes an entity tab's reads to the entity's service, after the entity permission", async () => {
    const server = await backend();
    const tab = {
      ...as(ALICE),
      'x-audit-log-entity': 'component:default/billing',
    };
    const page = await request(server)
      .get(
        '/api/audit-log/api/v1/audit/events?service_name=identity&status=failure',
      )
      .set(tab);
    expect(page.status).toBe(200);
    expect(seen[0].url).toBe(
      '/api/v1/audit/events?status=failure&service_name=billing',
    );
    const mine = await request(server)
      .get('/api/audit-log/api/v1/audit/events/e-billing')
      .set(tab);
    expect(mine.status).toBe(200);
    const theirs = await request(server)
      .get('/api/audit-log/api/v1/audit/events/e-identity/proof')
      .set(tab);
    expect(theirs.status).toBe(404);
    const denied = await request(server)
      .get('/api/audit-log/api/v1/audit/events')
      .set({
        ...as(ALICE),
        'x-audit-log-entity': 'component:default/identity',
      });
    expect(denied.status).toBe(403);
    const unannotated = await request(server)
      .get('/api/audit-log/api/v1/audit/events')
      .set({ ...as(ALICE), 'x-audit-log-entity': 'component:default/plain' });
    expect(unannotated.status).toBe(404);
  });

  it('passes admin actions with the tenant fixed, and retention as a preview only', async () => {
    const server = await backend();
    const hold = await request(server)
      .post('/api/audit-log/api/v1/admin/legal-holds')
      .set(as(ALICE))
      .send({ tenant_id: 'globex', reason: 'case 7', user_id: 'carol' });
    expect(hold.status).toBe(201);
    expect(JSON.parse(seen[0].body)).toEqual({
      tenant_id: 'acme',
      reason: 'case 7',
      user_id: 'carol',
    });
    expect(seen[0].headers['content-type']).toBe('application/json');
    const preview = await request(server)
      .get('/api/audit-log/api/v1/admin/retention/preview?tenant_id=globex')
      .set(as(ALICE));
    // The API narrows the preview to the acting tenant; the browser cannot name another.
    expect(preview.status).toBe(200);
    expect(seen[1].url).toBe('/api/v1/admin/retention/preview');
    expect(seen[1].headers['x-auditlog-actor-tenant']).toBe('acme');
    await request(server)
      .delete('/api/audit-log/api/v1/admin/legal-holds/h-1')
      .set(as(ALICE));
    expect(seen[2].method).toBe('DELETE');
    const bob = await request(server)
      .get('/api/audit-log/api/v1/admin/legal-holds')
      .set(as(BOB));
    expect(bob.status).toBe(403);
    expect(seen).toHaveLength(3);
  });

  it('passes log stream administration, the tenant fixed on creation, bodies only where the API takes one', async () => {
    const server = await backend();
    const created = await request(server)
      .post('/api/audit-log/api/v1/admin/streams')
      .set(as(ALICE))
      .send({ tenant_id: 'globex', name: 'siem', format: 'json' });
    expect(created.status).toBe(200);
    expect(JSON.parse(seen[0].body)).toEqual({
      tenant_id: 'acme',
      name: 'siem',
      format: 'json',
    });
    const steps = [
      ['patch', '/streams/s-1', { name: 'renamed' }],
      ['post', '/streams/s-1/pause', { tenant_id: 'globex' }],
      ['post', '/streams/s-1/resume', undefined],
      ['post', '/streams/s-1/test', undefined],
      ['post', '/streams/s-1/replay', { from_leaf_index: 7 }],
      ['delete', '/streams/s-1', undefined],
      ['get', '/streams/s-1', undefined],
    ] as const;
    for (const [method, path, body] of steps) {
      const call = request(server)
        [method](`/api/audit-log/api/v1/admin${path}`)
        .set(as(ALICE));
      const answer = await (body === undefined ? call : call.send(body));
      expect(answer.status, `${method} ${path}`).toBe(200);
    }
    expect(seen.slice(1).map(s => `${s.method} ${s.url} ${s.body}`)).toEqual([
      'PATCH /api/v1/admin/streams/s-1 {"name":"renamed"}',
      'POST /api/v1/admin/streams/s-1/pause ',
      'POST /api/v1/admin/streams/s-1/resume ',
      'POST /api/v1/admin/streams/s-1/test ',
      'POST /api/v1/admin/streams/s-1/replay {"from_leaf_index":7}',
      'DELETE /api/v1/admin/streams/s-1 ',
      'GET /api/v1/admin/streams/s-1 ',
    ]);
    expect(
      seen.every(s => s.headers['x-auditlog-actor-tenant'] === 'acme'),
    ).toBe(true);
    const bob = await request(server)
      .post('/api/audit-log/api/v1/admin/streams/s-1/pause')
      .set(as(BOB));
    expect(bob.status).toBe(403);
    const unknown = await request(server)
      .post('/api/audit-log/api/v1/admin/streams/s-1/delete')
      .set(as(ALICE));
    expect(unknown.status).toBe(404);
    expect(seen).toHaveLength(8);
  });

  it('reaches no other operation of the API', async () => {
    const server = await backend();
    for (const [method, path] of [
      ['post', '/api/v1/audit/events'],
      ['post', '/api/v1/audit/events/batch'],
      ['put', '/api/v1/admin/tenants/acme/policy'],
      ['post', '/api/v1/audit/integrity/run'],
      ['post', '/api/v1/audit/retention/run'],
    ] as const) {
      const answer = await request(server)
        [method](`/api/audit-log${path}`)
        .set(as(ALICE));
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
    expect(seen).toHaveLength(0);
  });

  it('answers 502 in the service envelope when the API does not answer', async () => {
    const server = await backend({ baseUrl: 'http://127.0.0.1:9' });
    const answer = await request(server)
      .get('/api/audit-log/api/v1/audit/events')
      .set(as(ALICE));
    expect(answer.status).toBe(502);
    expect(answer.body.error.code).toBe('bad_gateway');
  });
});
