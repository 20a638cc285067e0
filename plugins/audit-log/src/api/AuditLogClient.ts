import type { DiscoveryApi, FetchApi } from '@backstage/core-plugin-api';
import { AuditLogApiError, type AuditLogApi } from './AuditLogApi';
import type {
  AuditEvent,
  Checkpoint,
  ErrorDetail,
  EventPage,
  ExportFormat,
  InclusionProof,
  PublicKey,
  QueryPairs,
} from './types';

export interface AuditLogClientOptions {
  discoveryApi: Pick<DiscoveryApi, 'getBaseUrl'>;
  fetchApi: Pick<FetchApi, 'fetch'>;
  /**
   * The proxy endpoint under Backstage's proxy plugin (`proxy.endpoints./audit-log` in
   * app-config.yaml). The proxy adds the service's bearer token and forwards to API Gateway.
   */
  proxyPath?: string;
}

/** The read API through Backstage's discovery and proxy: `/api/proxy/audit-log/api/v1/audit/...`. */
export class AuditLogClient implements AuditLogApi {
  private readonly discoveryApi: AuditLogClientOptions['discoveryApi'];
  private readonly fetchApi: AuditLogClientOptions['fetchApi'];
  private readonly proxyPath: string;

  constructor(options: AuditLogClientOptions) {
    this.discoveryApi = options.discoveryApi;
    this.fetchApi = options.fetchApi;
    this.proxyPath = (options.proxyPath ?? '/audit-log').replace(/\/+$/, '');
  }

  async searchEvents(
    query: QueryPairs,
    options: { pageToken?: string; signal?: AbortSignal } = {},
  ): Promise<EventPage> {
    const pairs = [...query];
    if (options.pageToken) pairs.push(['page_token', options.pageToken]);
    return this.json<EventPage>('/api/v1/audit/events', pairs, options.signal);
  }

  async getEvent(
    auditId: string,
    options: { tenantId?: string; signal?: AbortSignal } = {},
  ): Promise<AuditEvent> {
    return this.json<AuditEvent>(
      `/api/v1/audit/events/${encodeURIComponent(auditId)}`,
      tenantPairs(options.tenantId),
      options.signal,
    );
  }

  async exportEvents(query: QueryPairs, format: ExportFormat): Promise<Blob> {
    const pairs = [
      ...query.filter(([name]) => name !== 'page_size'),
      ['format', format] as const,
    ];
    const response = await this.request('/api/v1/audit/events/export', pairs);
    return response.blob();
  }

  async getLatestCheckpoint(
    options: { tenantId?: string; signal?: AbortSignal } = {},
  ): Promise<Checkpoint> {
    return this.json<Checkpoint>(
      '/api/v1/audit/checkpoints/latest',
      tenantPairs(options.tenantId),
      options.signal,
    );
  }

  async getPublicKeys(
    options: { signal?: AbortSignal } = {},
  ): Promise<PublicKey[]> {
    const body = await this.json<{ keys: PublicKey[] }>(
      '/api/v1/audit/public-key',
      [],
      options.signal,
    );
    return body.keys;
  }

  async getEventProof(
    auditId: string,
    options: {
      treeSize?: number;
      tenantId?: string;
      signal?: AbortSignal;
    } = {},
  ): Promise<InclusionProof> {
    const pairs: [string, string][] = tenantPairs(options.tenantId);
    if (options.treeSize !== undefined)
      pairs.push(['tree_size', String(options.treeSize)]);
    return this.json<InclusionProof>(
      `/api/v1/audit/events/${encodeURIComponent(auditId)}/proof`,
      pairs,
      options.signal,
    );
  }

  /** The URL a path and query reach through the proxy. */
  async url(path: string, query: QueryPairs = []): Promise<string> {
    const base = (await this.discoveryApi.getBaseUrl('proxy')).replace(
      /\/+$/,
      '',
    );
    const search = new URLSearchParams(
      query.map(([k, v]) => [k, v]),
    ).toString();
    return `${base}${this.proxyPath}${path}${search ? `?${search}` : ''}`;
  }

  private async json<T>(
    path: string,
    query: QueryPairs,
    signal?: AbortSignal,
  ): Promise<T> {
    const response = await this.request(path, query, signal);
    return (await response.json()) as T;
  }

  private async request(
    path: string,
    query: QueryPairs,
    signal?: AbortSignal,
  ): Promise<Response> {
    const response = await this.fetchApi.fetch(await this.url(path, query), {
      headers: { Accept: 'application/json, text/csv, application/x-ndjson' },
      signal,
    });
    if (!response.ok) throw await toError(response);
    return response;
  }
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
        body.error.request_id,
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
