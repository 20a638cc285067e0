import { createApiRef } from '@backstage/core-plugin-api';
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

/** What the plugin needs from the audit log service; each method names its OpenAPI operation. */
export interface AuditLogApi {
  /** `searchEvents`: one page, newest first. Pass `pageToken` back with the same `query`. */
  searchEvents(
    query: QueryPairs,
    options?: { pageToken?: string; signal?: AbortSignal },
  ): Promise<EventPage>;
  /** `getEvent`: one event of the caller's tenant (or `tenantId`, for cross-tenant roles). */
  getEvent(
    auditId: string,
    options?: { tenantId?: string; signal?: AbortSignal },
  ): Promise<AuditEvent>;
  /** `exportEvents`: every event the filters match, as CSV or NDJSON. */
  exportEvents(query: QueryPairs, format: ExportFormat): Promise<Blob>;
  /** `getLatestCheckpoint`: the newest signed checkpoint of the caller's tenant. */
  getLatestCheckpoint(options?: {
    tenantId?: string;
    signal?: AbortSignal;
  }): Promise<Checkpoint>;
  /** `getPublicKey`: the keys checkpoints are signed with. */
  getPublicKeys(options?: { signal?: AbortSignal }): Promise<PublicKey[]>;
  /** `getEventProof`: an inclusion proof of one event against the latest (or a given) checkpoint. */
  getEventProof(
    auditId: string,
    options?: { treeSize?: number; tenantId?: string; signal?: AbortSignal },
  ): Promise<InclusionProof>;
}

export const auditLogApiRef = createApiRef<AuditLogApi>({
  id: 'plugin.audit-log.service',
});

/** An error answer of the service (`{"error": {code, message, details, request_id}}`). */
export class AuditLogApiError extends Error {
  readonly name = 'AuditLogApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly requestId?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}
