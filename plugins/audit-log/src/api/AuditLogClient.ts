import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import {
  AuditLogApiError,
  type AuditLogApi,
  type RequestScope,
} from './AuditLogApi';
import type {
  AuditEvent,
  Checkpoint,
  Erasure,
  ErrorDetail,
  EventPage,
  ExportFormat,
  InclusionProof,
  LegalHold,
  LegalHoldRequest,
  LogStream,
  PortalIdentity,
  PublicKey,
  QueryPairs,
  StreamPatch,
  StreamReplay,
  StreamRequest,
  TestDelivery,
} from './types';

export interface AuditLogClientOptions {
  discoveryApi: Pick<DiscoveryApi, 'getBaseUrl'>;
  fetchApi: Pick<FetchApi, 'fetch'>;
  /**
   * Talk to the API through Backstage's proxy plugin at this endpoint (e.g. `/audit-log`)
   * instead of the audit log backend plugin. Every user then reads as the proxy's one token,
   * and the admin tab is not offered; only for apps without the backend plugin.
   */
  proxyPath?: string;
}

interface CallOptions {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  scope?: RequestScope;
}

/**
 * The audit log API as the frontend reaches it: through the audit log backend plugin
 * (`/api/audit-log/api/v1/...`, which calls the API as the signed-in user), or through a proxy
 * endpoint when `proxyPath` is set. Each method names the OpenAPI operation it ends in.
 */
export class AuditLogClient implements AuditLogApi {
  private readonly discoveryApi: AuditLogClientOptions['discoveryApi'];
  private readonly fetchApi: AuditLogClientOptions['fetchApi'];
  private readonly proxyPath?: string;

  constructor(options: AuditLogClientOptions) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
    this.proxyPath =
      options.proxyPath === undefined
        ? undefined
        : options.proxyPath.replace(/\/+$/, '');
  }

  async getIdentity(
    options: { signal?: AbortSignal; scope?: RequestScope } = {},
  ): Promise<PortalIdentity | null> {
    if (this.proxyPath !== undefined) return null;
    const base = await this.discoveryApi.getBaseUrl('audit-log');
    const response = await this.send(`${base.replace(/\/+$/, '')}/me`, options);
    return (await response.json()) as PortalIdentity;
  }

  async searchEvents(
    query: QueryPairs,
    options: {
      pageToken?: string;
      signal?: AbortSignal;
      scope?: RequestScope;
    } = {},
  ): Promise<EventPage> {
    const pairs = [...query];
    if (options.pageToken) pairs.push(['page_token', options.pageToken]);
    return this.json<EventPage>('/api/v1/audit/events', pairs, options);
  }

  async getEvent(
    auditId: string,
    options: {
      tenantId?: string;
      signal?: AbortSignal;
      scope?: RequestScope;
    } = {},
  ): Promise<AuditEvent> {
    return this.json<AuditEvent>(
      `/api/v1/audit/events/${encodeURIComponent(auditId)}`,
      tenantPairs(options.tenantId),
      options,
    );
  }

  async exportEvents(
    query: QueryPairs,
    format: ExportFormat,
    options: { signal?: AbortSignal; scope?: RequestScope } = {},
  ): Promise<Blob> {
    const pairs = [
      ...query.filter(([name]) => name !== 'page_size'),
      ['format', format] as const,
    ];
    const response = await this.request(
      '/api/v1/audit/events/export',
      pairs,
      options,
    );
    return response.blob();
  }

  async getLatestCheckpoint(
    options: {
      tenantId?: string;
      signal?: AbortSignal;
      scope?: RequestScope;
    } = {},
  ): Promise<Checkpoint> {
    return this.json<Checkpoint>(
      '/api/v1/audit/checkpoints/latest',
      tenantPairs(options.tenantId),
      options,
    );
  }

  async getPublicKeys(
    options: { signal?: AbortSignal; scope?: RequestScope } = {},
  ): Promise<PublicKey[]> {
    const body = await this.json<{ keys: PublicKey[] }>(
      '/api/v1/audit/public-key',
      [],
      options,
    );
    return body.keys;
  }

  async getEventProof(
    auditId: string,
    options: {
      treeSize?: number;
      tenantId?: string;
      signal?: AbortSignal;
      scope?: RequestScope;
    } = {},
  ): Promise<InclusionProof> {
    const pairs: [string, string][] = tenantPairs(options.tenantId);
    if (options.treeSize !== undefined)
      pairs.push(['tree_size', String(options.treeSize)]);
    return this.json<InclusionProof>(
      `/api/v1/audit/events/${encodeURIComponent(auditId)}/proof`,
      pairs,
      options,
    );
  }

  async listLegalHolds(options: CallOptions = {}): Promise<LegalHold[]> {
    const body = await this.json<{ holds: LegalHold[] }>(
      '/api/v1/admin/legal-holds',
      [],
      options,
    );
    return body.holds;
  }

  async placeLegalHold(
    hold: LegalHoldRequest,
    options: CallOptions = {},
  ): Promise<LegalHold> {
    return this.json<LegalHold>('/api/v1/admin/legal-holds', [], {
      ...options,
      method: 'POST',
      body: hold,
    });
  }

  async releaseLegalHold(
    holdId: string,
    options: CallOptions = {},
  ): Promise<LegalHold> {
    return this.json<LegalHold>(
      `/api/v1/admin/legal-holds/${encodeURIComponent(holdId)}`,
      [],
      { ...options, method: 'DELETE' },
    );
  }

  async listErasures(options: CallOptions = {}): Promise<Erasure[]> {
    const body = await this.json<{ erasures: Erasure[] }>(
      '/api/v1/admin/erasures',
      [],
      options,
    );
    return body.erasures;
  }

  async eraseSubject(
    userId: string,
    options: CallOptions = {},
  ): Promise<Erasure> {
    return this.json<Erasure>('/api/v1/admin/erasures', [], {
      ...options,
      method: 'POST',
      body: { user_id: userId },
    });
  }

  async retentionDryRun(
    options: CallOptions = {},
  ): Promise<Record<string, unknown>> {
    return this.json<Record<string, unknown>>(
      '/api/v1/admin/retention/preview',
      [],
      options,
    );
  }

  async listStreams(options: CallOptions = {}): Promise<LogStream[] | null> {
    try {
      const body = await this.json<{ streams: LogStream[] }>(
        '/api/v1/admin/streams',
        [],
        options,
      );
      return body.streams;
    } catch (error) {
      if (error instanceof AuditLogApiError && error.status === 404)
        return null;
      throw error;
    }
  }

  async getStream(
    streamId: string,
    options: CallOptions = {},
  ): Promise<LogStream> {
    return this.json<LogStream>(streamPath(streamId), [], options);
  }

  async createStream(
    stream: StreamRequest,
    options: CallOptions = {},
  ): Promise<LogStream> {
    return this.json<LogStream>('/api/v1/admin/streams', [], {
      ...options,
      method: 'POST',
      body: stream,
    });
  }

  async updateStream(
    streamId: string,
    patch: StreamPatch,
    options: CallOptions = {},
  ): Promise<LogStream> {
    return this.json<LogStream>(streamPath(streamId), [], {
      ...options,
      method: 'PATCH',
      body: patch,
    });
  }

  async deleteStream(
    streamId: string,
    options: CallOptions = {},
  ): Promise<LogStream> {
    return this.json<LogStream>(streamPath(streamId), [], {
      ...options,
      method: 'DELETE',
    });
  }

  async pauseStream(
    streamId: string,
    options: CallOptions = {},
  ): Promise<LogStream> {
    return this.json<LogStream>(streamPath(streamId, 'pause'), [], {
      ...options,
      method: 'POST',
    });
  }

  async resumeStream(
    streamId: string,
    options: CallOptions = {},
  ): Promise<LogStream> {
    return this.json<LogStream>(streamPath(streamId, 'resume'), [], {
      ...options,
      method: 'POST',
    });
  }

  async replayStream(
    streamId: string,
    from: StreamReplay,
    options: CallOptions = {},
  ): Promise<LogStream> {
    return this.json<LogStream>(streamPath(streamId, 'replay'), [], {
      ...options,
      method: 'POST',
      body: from,
    });
  }

  async testStream(
    streamId: string,
    options: CallOptions = {},
  ): Promise<TestDelivery> {
    return this.json<TestDelivery>(streamPath(streamId, 'test'), [], {
      ...options,
      method: 'POST',
    });
  }

  /** The URL a path and query reach: the backend plugin's, or the proxy endpoint's. */
  async url(path: string, query: QueryPairs = []): Promise<string> {
    const base =
      this.proxyPath === undefined
        ? (await this.discoveryApi.getBaseUrl('audit-log')).replace(/\/+$/, '')
        : `${(await this.discoveryApi.getBaseUrl('proxy')).replace(
            /\/+$/,
            '',
          )}${this.proxyPath}`;
    const search = new URLSearchParams(
      query.map(([k, v]) => [k, v]),
    ).toString();
    return `${base}${path}${search ? `?${search}` : ''}`;
  }

  private async json<T>(
    path: string,
    query: QueryPairs,
    options: CallOptions,
  ): Promise<T> {
    const response = await this.request(path, query, options);
    return (await response.json()) as T;
  }

  private async request(
    path: string,
    query: QueryPairs,
    options: CallOptions,
  ): Promise<Response> {
    return this.send(await this.url(path, query), options);
  }

  private async send(url: string, options: CallOptions): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: 'application/json, text/csv, application/x-ndjson',
    };
    if (options.body !== undefined)
      headers['Content-Type'] = 'application/json';
    if (this.proxyPath === undefined) {
      if (options.scope?.entityRef)
        headers['X-Audit-Log-Entity'] = options.scope.entityRef;
      if (options.scope?.tenant)
        headers['X-Audit-Log-Tenant'] = options.scope.tenant;
    }
    const response = await this.fetchApi.fetch(url, {
      method: options.method ?? 'GET',
      headers,
      body:
        options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
    if (!response.ok) throw await toError(response);
    return response;
  }
}

function streamPath(
  streamId: string,
  action?: 'pause' | 'resume' | 'replay' | 'test',
): string {
  const path = `/api/v1/admin/streams/${encodeURIComponent(streamId)}`;
  return action ? `${path}/${action}` : path;
}

function tenantPairs(tenantId: string | undefined): [string, string][] {
  return tenantId ? [['tenant_id', tenantId]] : [];
}

async function toError(response: Response): Promise<AuditLogApiError> {
  const retryAfter = Number(response.headers.get('Retry-After'));
  const retryAfterSeconds =
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  const text = await response.text();
  try {
    const body = JSON.parse(text) as {
      error?: {
        code?: string;
        name?: string;
        message?: string;
        details?: ErrorDetail[];
        request_id?: string;
      };
    };
    if (body.error?.code) {
      return new AuditLogApiError(
        response.status,
        body.error.code,
        body.error.message ?? `${response.status} ${response.statusText}`,
        body.error.details ?? [],
        body.error.request_id ?? undefined,
        retryAfterSeconds,
      );
    }
    if (body.error?.name && body.error.message) {
      // Backstage's own error shape (e.g. 401 from the backend's auth middleware).
      return new AuditLogApiError(
        response.status,
        body.error.name,
        body.error.message,
        [],
        undefined,
        retryAfterSeconds,
      );
    }
  } catch {
    // Not the service's envelope: a proxy or gateway answered (HTML, plain text).
  }
  const snippet = text.trim().slice(0, 200);
  return new AuditLogApiError(
    response.status,
    'http_error',
    `${response.status} ${response.statusText}${snippet ? `: ${snippet}` : ''}`,
    [],
    undefined,
    retryAfterSeconds,
  );
}
