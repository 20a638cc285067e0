import { Readable } from 'node:stream';
import type { Response as ExpressResponse } from 'express';
import type { AuditLogBackendConfig, TenantAccess } from './access';

/** Who a call is made for: the API records `actor` as the user of the read or admin action. */
export interface Actor {
  userEntityRef: string;
  access: TenantAccess;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query: Array<[string, string]>;
  body?: unknown;
}

/** Response headers worth passing on to the browser. */
const PASSED_HEADERS = [
  'content-type',
  'content-disposition',
  'retry-after',
  'x-request-id',
  'x-correlation-id',
];

/**
 * Calls the audit log API with the plugin's service token and the delegation headers
 * (X-Auditlog-Actor, -Actor-Tenant, -Actor-Roles). The API accepts them only from service
 * identities it lists as delegates, narrows the roles to the token's, and records the actor.
 */
export class AuditLogUpstream {
  constructor(private readonly config: AuditLogBackendConfig) {}

  async call(actor: Actor, request: UpstreamRequest): Promise<Response> {
    const search = new URLSearchParams(request.query).toString();
    const url = `${this.config.baseUrl}${request.path}${
      search ? `?${search}` : ''
    }`;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.config.serviceToken}`,
      Accept: 'application/json, text/csv, application/x-ndjson',
      'X-Auditlog-Actor': actor.userEntityRef,
      'X-Auditlog-Actor-Tenant': actor.access.tenant,
      'X-Auditlog-Actor-Roles': actor.access.roles.join(','),
    };
    if (request.body !== undefined)
      headers['Content-Type'] = 'application/json';
    return fetch(url, {
      method: request.method,
      headers,
      body:
        request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(this.config.timeoutMs),
    });
  }

  /** Streams the API's answer (status, the useful headers, the body) to the browser. */
  static async relay(upstream: Response, res: ExpressResponse): Promise<void> {
    res.status(upstream.status);
    for (const name of PASSED_HEADERS) {
      const value = upstream.headers.get(name);
      if (value) res.setHeader(name, value);
    }
    if (!upstream.body) {
      res.end();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      Readable.fromWeb(
        upstream.body as import('node:stream/web').ReadableStream,
      )
        .on('error', reject)
        .pipe(res)
        .on('finish', resolve)
        .on('error', reject);
    });
  }
}
