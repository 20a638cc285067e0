/**
 * A hand-written fetch fake of the log stream endpoints for the component tests: one tenant's
 * streams in memory, answered as the service answers them (`StreamList`, `Stream`,
 * `TestDelivery`, the error envelope), behind the real AuditLogClient. Every request is
 * recorded as "METHOD path", so a test sees which endpoints the UI called.
 */
import { AuditLogClient } from '../api/AuditLogClient';
import type {
  LogStream,
  PortalIdentity,
  StreamStatus,
  TestDelivery,
} from '../api/types';

const BASE = 'http://backstage.test/api/audit-log';

/** A stream as the API lists it; `status` fields override the defaults of an active stream. */
export function makeStream(
  id: string,
  overrides: Partial<Omit<LogStream, 'status'>> & {
    status?: Partial<StreamStatus>;
  } = {},
): LogStream {
  const { status, ...rest } = overrides;
  return {
    stream_id: id,
    tenant_id: 'acme',
    name: `stream ${id}`,
    destination: {
      type: 'webhook',
      url: 'https://siem.example.com/hook',
      secret_set: true,
    },
    format: 'json',
    filter: {},
    batch_size: 500,
    batch_wait_seconds: 1,
    failing_after_seconds: 86_400,
    created_at: '2026-11-26T10:00:00Z',
    created_by: 'user:default/alice',
    ...rest,
    status: {
      state: 'active',
      delivered_leaf_index: 41,
      next_leaf_index: 42,
      lag_events: 0,
      lag_seconds: 0,
      last_delivery_at: '2026-11-26T11:59:00Z',
      last_error: null,
      consecutive_failures: 0,
      failing_since: null,
      paused_reason: null,
      ...status,
    },
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

function failure(status: number, code: string, message: string): Response {
  return json(
    { error: { code, message, details: [], request_id: 'req-1' } },
    status,
  );
}

export class FakeStreamsServer {
  /** "METHOD path" of every request, in order. */
  readonly requests: string[] = [];
  /** When set, every streams request is refused with this status (e.g. 403). */
  refuseWith: number | null = null;
  /** What a test event's destination answers. */
  testAnswer: TestDelivery = { ok: true, status_code: 204, detail: 'sent' };
  /** What `/me` answers; null: 404, as through the harness's direct proxy. */
  identity: PortalIdentity | null = {
    userEntityRef: 'user:default/alice',
    tenants: [{ tenant: 'acme', roles: ['system_admin'] }],
    allowed: { read: true, export: true, admin: true },
  };

  constructor(public streams: LogStream[] = []) {}

  /** The real client, sending through this fake. */
  client(): AuditLogClient {
    return new AuditLogClient({
      discoveryApi: {
        getBaseUrl: async id => `http://backstage.test/api/${id}`,
      },
      fetchApi: {
        fetch: async (input: RequestInfo | URL, init?: RequestInit) =>
          this.answer(String(input), init?.method ?? 'GET'),
      },
    });
  }

  private answer(url: string, method: string): Response {
    const path = url.slice(BASE.length).split('?')[0];
    this.requests.push(`${method} ${path}`);
    if (path === '/me') {
      return this.identity
        ? json(this.identity)
        : failure(404, 'not_found', 'no route');
    }
    if (this.refuseWith !== null) {
      return failure(
        this.refuseWith,
        'permission_denied',
        'the token may not do this (needs system_admin)',
      );
    }
    if (method === 'GET' && path === '/api/v1/admin/streams') {
      return json({ streams: this.streams });
    }
    const match =
      /^\/api\/v1\/admin\/streams\/([^/]+)\/(pause|resume|test)$/.exec(path);
    const stream = match
      ? this.streams.find(s => s.stream_id === decodeURIComponent(match[1]))
      : undefined;
    if (!match || method !== 'POST') {
      return failure(404, 'not_found', `${method} ${path}: no route`);
    }
    if (!stream) return failure(404, 'not_found', 'no such stream');
    if (match[2] === 'test') return json(this.testAnswer);
    const changed: LogStream =
      match[2] === 'pause'
        ? {
            ...stream,
            status: {
              ...stream.status,
              state: 'paused',
              paused_reason: 'paused by an administrator',
            },
          }
        : {
            ...stream,
            status: { ...stream.status, state: 'active', paused_reason: null },
          };
    this.streams = this.streams.map(s => (s === stream ? changed : s));
    return json(changed);
  }
}
