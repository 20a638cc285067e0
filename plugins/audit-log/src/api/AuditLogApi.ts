import { createApiRef } from '@backstage/core-plugin-api';
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

/**
 * Who a request is for, beyond the signed-in user: the catalog entity whose tab is open (the
 * backend plugin then reads only that entity's service, under the entity permission) and, for a
 * user given several tenants, which one.
 */
export interface RequestScope {
  entityRef?: string;
  tenant?: string;
}

interface Options {
  signal?: AbortSignal;
  scope?: RequestScope;
}

/** What the plugin needs from the audit log service; each method names its OpenAPI operation. */
export interface AuditLogApi {
  /**
   * The signed-in user as the backend plugin sees them: tenants, roles and what the permission
   * policy allows. Null when the client talks to the API through the proxy (no backend plugin).
   */
  getIdentity(options?: Options): Promise<PortalIdentity | null>;
  /** `searchEvents`: one page, newest first. Pass `pageToken` back with the same `query`. */
  searchEvents(
    query: QueryPairs,
    options?: Options & { pageToken?: string },
  ): Promise<EventPage>;
  /** `getEvent`: one event of the caller's tenant (or `tenantId`, for cross-tenant roles). */
  getEvent(
    auditId: string,
    options?: Options & { tenantId?: string },
  ): Promise<AuditEvent>;
  /** `exportEvents`: every event the filters match, as CSV or NDJSON. */
  exportEvents(
    query: QueryPairs,
    format: ExportFormat,
    options?: Options,
  ): Promise<Blob>;
  /** `getLatestCheckpoint`: the newest signed checkpoint of the caller's tenant. */
  getLatestCheckpoint(
    options?: Options & { tenantId?: string },
  ): Promise<Checkpoint>;
  /** `getPublicKey`: the keys checkpoints are signed with. */
  getPublicKeys(options?: Options): Promise<PublicKey[]>;
  /** `getEventProof`: an inclusion proof of one event against the latest (or a given) checkpoint. */
  getEventProof(
    auditId: string,
    options?: Options & { treeSize?: number; tenantId?: string },
  ): Promise<InclusionProof>;
  /** `listLegalHolds`: the tenant's holds, released ones included. */
  listLegalHolds(options?: Options): Promise<LegalHold[]>;
  /** `placeLegalHold`. */
  placeLegalHold(hold: LegalHoldRequest, options?: Options): Promise<LegalHold>;
  /** `releaseLegalHold`. */
  releaseLegalHold(holdId: string, options?: Options): Promise<LegalHold>;
  /** `listErasures`: erasure requests and their status. */
  listErasures(options?: Options): Promise<Erasure[]>;
  /** `eraseSubject`: crypto-shred a data subject's encrypted fields. */
  eraseSubject(userId: string, options?: Options): Promise<Erasure>;
  /** `previewRetention`: what a retention run would delete now in the acting tenant. */
  retentionDryRun(options?: Options): Promise<Record<string, unknown>>;
  /**
   * `listStreams`: the tenant's log streams with their state and lag; null from a service
   * without log streams (404).
   */
  listStreams(options?: Options): Promise<LogStream[] | null>;
  /** `getStream`: one stream and its status. */
  getStream(streamId: string, options?: Options): Promise<LogStream>;
  /** `createStream`: the destination's secret is sent once and never shown again. */
  createStream(stream: StreamRequest, options?: Options): Promise<LogStream>;
  /** `updateStream`: change what the patch names. */
  updateStream(
    streamId: string,
    patch: StreamPatch,
    options?: Options,
  ): Promise<LogStream>;
  /** `deleteStream`: answers the deleted stream. */
  deleteStream(streamId: string, options?: Options): Promise<LogStream>;
  /** `pauseStream`: stop delivering, keeping the position. */
  pauseStream(streamId: string, options?: Options): Promise<LogStream>;
  /** `resumeStream`: deliver again now (a paused or failing stream). */
  resumeStream(streamId: string, options?: Options): Promise<LogStream>;
  /** `replayStream`: deliver again from a leaf index or a time. */
  replayStream(
    streamId: string,
    from: StreamReplay,
    options?: Options,
  ): Promise<LogStream>;
  /** `testStream`: send one synthetic event and report what the destination answered. */
  testStream(streamId: string, options?: Options): Promise<TestDelivery>;
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
