import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { AuditLogApiError } from './AuditLogApi';
import { AuditLogClient } from './AuditLogClient';
import {
  EMPTY_VIEW,
  parseView,
  splitValues,
  toApiQuery,
  viewToParams,
  withFilter,
} from './filters';
import { EVENT_FIELDS } from './types';

describe('the view in the URL', () => {
  it('round-trips every filter, repeated values, metadata, range, size and sort', () => {
    const search =
      'user_id=alice&user_id=bob&event_type=user.login&resource_type=invoice&resource_id=inv-1' +
      '&action=update&status=failure&status=denied&service_name=billing&correlation_id=c1' +
      '&session_id=s1&tenant_id=acme&metadata.region=eu&metadata.geo.country=DE&range=7d' +
      '&include_self_audit=true&page_size=25&sort=user_id%3Aascending';
    const view = parseView(new URLSearchParams(search));
    expect(view.filters.user_id).toEqual(['alice', 'bob']);
    expect(view.filters.status).toEqual(['failure', 'denied']);
    expect(view.metadata).toEqual([
      ['region', 'eu'],
      ['geo.country', 'DE'],
    ]);
    expect(view.range).toEqual({ kind: 'preset', preset: '7d' });
    expect(view.sort).toEqual({ column: 'user_id', direction: 'ascending' });
    expect(parseView(viewToParams(view))).toEqual(view);
  });

  it('keeps defaults out of the URL and ignores what it does not know', () => {
    expect(viewToParams(EMPTY_VIEW).toString()).toBe('');
    const view = parseView(
      new URLSearchParams('range=5y&page_size=0&sort=audit_id:up&user_id='),
    );
    expect(view).toEqual(EMPTY_VIEW);
  });

  it('resolves a preset range once, against the given now, and sends the page size', () => {
    const now = new Date('2026-11-26T12:00:00Z');
    const view = withFilter(
      { ...EMPTY_VIEW, range: { kind: 'preset', preset: '24h' } },
      'user_id',
      'alice',
    );
    expect(toApiQuery(view, now)).toEqual([
      ['start_time', '2026-11-25T12:00:00.000Z'],
      ['user_id', 'alice'],
      ['page_size', '50'],
    ]);
  });

  it('passes an absolute range as given', () => {
    const view = parseView(
      new URLSearchParams(
        'start_time=2026-11-01T00:00:00Z&end_time=2026-11-02T00:00:00Z',
      ),
    );
    expect(toApiQuery(view, new Date()).slice(0, 2)).toEqual([
      ['start_time', '2026-11-01T00:00:00Z'],
      ['end_time', '2026-11-02T00:00:00Z'],
    ]);
  });

  it('splits typed values on commas, trims and de-duplicates', () => {
    expect(splitValues(' a, b,,a , c ')).toEqual(['a', 'b', 'c']);
  });
});

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<AuditLogApiError> {
  try {
    await promise;
  } catch (error) {
    return error as AuditLogApiError;
  }
  throw new Error('expected a rejection');
}

/** A fetchApi that answers from a list and records what it was asked (URL building only). */
function recordingFetch(answers: Response[]) {
  const urls: string[] = [];
  const requests: RequestInit[] = [];
  return {
    urls,
    requests,
    fetchApi: {
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        urls.push(String(input));
        requests.push(init ?? {});
        return answers.shift()!;
      },
    },
  };
}

describe('AuditLogClient request building', () => {
  const discoveryApi = {
    getBaseUrl: async (id: string) => `https://backstage.example.com/api/${id}`,
  };

  it('goes through the backend plugin with repeated parameters and the cursor', async () => {
    const { urls, fetchApi } = recordingFetch([
      new Response(JSON.stringify({ events: [], next_page_token: null })),
    ]);
    const client = new AuditLogClient({ discoveryApi, fetchApi });
    await client.searchEvents(
      [
        ['user_id', 'alice'],
        ['user_id', 'bob & co'],
        ['metadata.region', 'eu'],
      ],
      { pageToken: 'tok/1+' },
    );
    expect(urls).toEqual([
      'https://backstage.example.com/api/audit-log/api/v1/audit/events' +
        '?user_id=alice&user_id=bob+%26+co&metadata.region=eu&page_token=tok%2F1%2B',
    ]);
  });

  it('sends the entity and tenant scope as headers to the backend plugin only', async () => {
    const answers = () => [
      new Response(JSON.stringify({ events: [], next_page_token: null })),
    ];
    const backend = recordingFetch(answers());
    await new AuditLogClient({
      discoveryApi,
      fetchApi: backend.fetchApi,
    }).searchEvents([], {
      scope: { entityRef: 'component:default/billing', tenant: 'acme' },
    });
    expect(backend.requests[0].headers).toMatchObject({
      'X-Audit-Log-Entity': 'component:default/billing',
      'X-Audit-Log-Tenant': 'acme',
    });
    const proxy = recordingFetch(answers());
    await new AuditLogClient({
      discoveryApi,
      fetchApi: proxy.fetchApi,
      proxyPath: '/audit-log',
    }).searchEvents([], { scope: { entityRef: 'component:default/billing' } });
    expect(proxy.requests[0].headers).not.toHaveProperty('X-Audit-Log-Entity');
  });

  it('asks the backend plugin who the user is; through a proxy there is no one to ask', async () => {
    const me = {
      userEntityRef: 'user:default/alice',
      tenants: [{ tenant: 'acme', roles: ['audit_reader'] }],
      allowed: { read: true, export: false, admin: false },
    };
    const backend = recordingFetch([new Response(JSON.stringify(me))]);
    const client = new AuditLogClient({
      discoveryApi,
      fetchApi: backend.fetchApi,
    });
    expect(await client.getIdentity()).toEqual(me);
    expect(backend.urls).toEqual([
      'https://backstage.example.com/api/audit-log/me',
    ]);
    const proxy = recordingFetch([]);
    const viaProxy = new AuditLogClient({
      discoveryApi,
      fetchApi: proxy.fetchApi,
      proxyPath: '/audit-log',
    });
    expect(await viaProxy.getIdentity()).toBeNull();
    expect(proxy.urls).toEqual([]);
  });

  it('posts admin actions as JSON and keeps the retention run a dry run', async () => {
    const { urls, requests, fetchApi } = recordingFetch([
      new Response(JSON.stringify({ hold_id: 'h1' }), { status: 201 }),
      new Response(JSON.stringify({ dry_run: true })),
      new Response('{"error":{"code":"not_found","message":"no route"}}', {
        status: 404,
      }),
    ]);
    const client = new AuditLogClient({ discoveryApi, fetchApi });
    await client.placeLegalHold({ reason: 'case 7', user_id: 'carol' });
    expect(requests[0].method).toBe('POST');
    expect(JSON.parse(String(requests[0].body))).toEqual({
      reason: 'case 7',
      user_id: 'carol',
    });
    await client.retentionDryRun();
    expect(urls[1]).toBe(
      'https://backstage.example.com/api/audit-log/api/v1/admin/retention/preview',
    );
    expect(await client.listStreams()).toBeNull();
  });

  it('sends each log stream operation to its endpoint and method', async () => {
    const stream = { stream_id: 's/1', name: 'siem' };
    const { urls, requests, fetchApi } = recordingFetch(
      Array.from({ length: 8 }, () => new Response(JSON.stringify(stream))),
    );
    const client = new AuditLogClient({ discoveryApi, fetchApi });
    await client.getStream('s/1');
    await client.createStream({
      name: 'siem',
      destination: { type: 'webhook', url: 'https://siem.example.com/h' },
    });
    await client.updateStream('s/1', { name: 'siem 2' });
    await client.pauseStream('s/1');
    await client.resumeStream('s/1');
    await client.replayStream('s/1', { from_leaf_index: 0 });
    await client.testStream('s/1');
    await client.deleteStream('s/1');
    const base = 'https://backstage.example.com/api/audit-log/api/v1/admin';
    expect(urls.map((url, i) => `${requests[i].method} ${url}`)).toEqual([
      `GET ${base}/streams/s%2F1`,
      `POST ${base}/streams`,
      `PATCH ${base}/streams/s%2F1`,
      `POST ${base}/streams/s%2F1/pause`,
      `POST ${base}/streams/s%2F1/resume`,
      `POST ${base}/streams/s%2F1/replay`,
      `POST ${base}/streams/s%2F1/test`,
      `DELETE ${base}/streams/s%2F1`,
    ]);
    expect(JSON.parse(String(requests[2].body))).toEqual({ name: 'siem 2' });
    expect(JSON.parse(String(requests[5].body))).toEqual({
      from_leaf_index: 0,
    });
    expect(requests[3].body).toBeUndefined();
  });

  it('names the format on export and drops the page size', async () => {
    const { urls, fetchApi } = recordingFetch([new Response('a,b\n')]);
    const client = new AuditLogClient({
      discoveryApi,
      fetchApi,
      proxyPath: '/audit/',
    });
    await client.exportEvents(
      [
        ['status', 'failure'],
        ['page_size', '50'],
      ],
      'csv',
    );
    expect(urls[0]).toBe(
      'https://backstage.example.com/api/proxy/audit/api/v1/audit/events/export?status=failure&format=csv',
    );
  });

  it('turns the error envelope into an AuditLogApiError with its details', async () => {
    const body = {
      error: {
        code: 'invalid_input',
        message: 'page_size is out of range',
        details: [
          { field: 'page_size', problem: 'must be an integer from 1 to 1000' },
        ],
        request_id: 'r-1',
      },
    };
    const { fetchApi } = recordingFetch([
      new Response(JSON.stringify(body), { status: 400 }),
    ]);
    const error = await rejection(
      new AuditLogClient({ discoveryApi, fetchApi }).getEvent('x'),
    );
    expect(error).toBeInstanceOf(AuditLogApiError);
    expect([error.status, error.code, error.requestId]).toEqual([
      400,
      'invalid_input',
      'r-1',
    ]);
    expect(error.details[0].field).toBe('page_size');
  });

  it('reports a proxy error page (not the envelope) with its status', async () => {
    const { fetchApi } = recordingFetch([
      new Response('<html>Bad Gateway</html>', {
        status: 502,
        statusText: 'Bad Gateway',
        headers: { 'Retry-After': '3' },
      }),
    ]);
    const error = await rejection(
      new AuditLogClient({ discoveryApi, fetchApi }).getLatestCheckpoint(),
    );
    expect([error.status, error.code, error.retryAfterSeconds]).toEqual([
      502,
      'http_error',
      3,
    ]);
    expect(error.message).toContain('Bad Gateway');
  });
});

// Against the real server, when tests/e2e/test_backstage_plugin.py runs this suite with the
// server's URL, a token and the manifest of what it ingested.
const live = process.env.AUDITLOG_API_URL && process.env.AUDITLOG_E2E_MANIFEST;
describe.skipIf(!live)('AuditLogClient against the real server', () => {
  const manifest = live
    ? JSON.parse(readFileSync(process.env.AUDITLOG_E2E_MANIFEST!, 'utf8'))
    : {};
  const client = new AuditLogClient({
    discoveryApi: { getBaseUrl: async () => process.env.AUDITLOG_API_URL! },
    fetchApi: {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          headers: {
            ...init?.headers,
            Authorization: `Bearer ${process.env.AUDITLOG_TOKEN}`,
          },
        }),
    },
    proxyPath: '',
  });

  it('pages through every event newest first with the cursor', async () => {
    const query = [['page_size', '7']] as const;
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.searchEvents(query, { pageToken: token });
      ids.push(...page.events.map(e => e.audit_id));
      token = page.next_page_token ?? undefined;
    } while (token);
    expect(ids).toEqual(manifest.all_ids);
  });

  it('filters with repeated values and metadata', async () => {
    const page = await client.searchEvents([
      ['service_name', 'billing'],
      ['status', 'failure'],
      ['status', 'denied'],
    ]);
    expect(page.events.map(e => e.audit_id)).toEqual(
      manifest.failed_in_service.ids,
    );
    const region = await client.searchEvents([
      ['metadata.region', manifest.metadata.value],
    ]);
    expect(region.events.map(e => e.audit_id)).toEqual(manifest.metadata.ids);
  });

  it('gets one event with every field', async () => {
    const event = await client.getEvent(manifest.correlation.detail_id);
    expect(Object.keys(event).sort()).toEqual([...EVENT_FIELDS].sort());
    expect(event).toEqual(
      manifest.events_by_id[manifest.correlation.detail_id],
    );
  });

  it('exports CSV and NDJSON', async () => {
    const csv = await (
      await client.exportEvents([['user_id', manifest.user.value]], 'csv')
    ).text();
    expect(csv.trim().split(/\r?\n/)).toHaveLength(
      manifest.user.ids.length + 1,
    );
    const ndjson = await (
      await client.exportEvents([['user_id', manifest.user.value]], 'json')
    ).text();
    expect(
      ndjson
        .trim()
        .split('\n')
        .map(line => JSON.parse(line).audit_id),
    ).toEqual(manifest.user.ids);
  });

  it('refuses the log streams to a token without the tenant admin role', async () => {
    const refused = await rejection(client.listStreams());
    expect([refused.status, refused.code]).toEqual([403, 'permission_denied']);
  });

  it('raises the service errors with their codes', async () => {
    const missing = await rejection(
      client.getEvent('00000000-0000-4000-8000-000000000000'),
    );
    expect([missing.status, missing.code]).toEqual([404, 'not_found']);
    const bad = await rejection(client.searchEvents([['page_size', '0']]));
    expect(bad).toBeInstanceOf(AuditLogApiError);
    expect([bad.status, bad.details[0]?.field]).toEqual([400, 'page_size']);
  });
});
