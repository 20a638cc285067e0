/** An audit event as the read API returns it (`AuditEventOut` in openapi/openapi.json). */
export interface AuditEvent {
  audit_id: string;
  timestamp: string;
  event_type: string;
  user_id: string;
  session_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  resource_type: string;
  resource_id: string | null;
  action: string;
  status: string;
  request_data: Record<string, unknown> | null;
  response_data: Record<string, unknown> | null;
  metadata: Record<string, unknown> | null;
  tenant_id: string;
  service_name: string | null;
  correlation_id: string | null;
  retention_period_days: number;
  created_at: string;
  partition_date: string;
}

/** The columns in the order the service defines them (also the CSV export's header). */
export const EVENT_FIELDS: ReadonlyArray<keyof AuditEvent> = [
  'audit_id',
  'timestamp',
  'event_type',
  'user_id',
  'session_id',
  'ip_address',
  'user_agent',
  'resource_type',
  'resource_id',
  'action',
  'status',
  'request_data',
  'response_data',
  'metadata',
  'tenant_id',
  'service_name',
  'correlation_id',
  'retention_period_days',
  'created_at',
  'partition_date',
];

/**
 * Query-string pairs as the API takes them: repeated names match any of their values,
 * `metadata.<key>` filters metadata. Order is kept, so the same view sends the same query
 * (the page cursor is bound to a digest of the filters).
 */
export type QueryPairs = ReadonlyArray<readonly [string, string]>;

/** `EventPage`: one page of a search, newest first. */
export interface EventPage {
  events: AuditEvent[];
  next_page_token: string | null;
}

export type ExportFormat = 'csv' | 'json';

/** A signed checkpoint of a tenant's Merkle tree (docs/INTEGRITY.md). */
export interface Checkpoint {
  tenant_id: string;
  tree_size: number;
  root_hash: string;
  timestamp: string;
  key_id: string;
  signature: string;
  /**
   * The same checkpoint as a C2SP signed note: the log's note signature and any witnesses'
   * cosignatures. Null (or absent, from older servers) for checkpoints signed before notes.
   */
  note?: string | null;
  /** Cosigned by the service's witness quorum (always true without witnesses). */
  final?: boolean;
}

export interface PublicKey {
  key_id: string;
  algorithm: string;
  public_key: string;
}

/** The committed record: 20 members, payloads as JSON text, absent values null. */
export type CommittedRecord = Record<string, string | number | null>;

export interface InclusionProof {
  audit_id: string;
  leaf_index: number;
  tree_size: number;
  leaf_hash: string;
  audit_path: string[];
  checkpoint: Checkpoint;
  record: CommittedRecord | null;
}

export interface ErrorDetail {
  field: string;
  problem: string;
}

/** The signed-in user as the backend plugin maps them (`GET /api/audit-log/me`). */
export interface PortalIdentity {
  userEntityRef: string;
  tenants: Array<{ tenant: string; roles: string[] }>;
  allowed: { read: boolean; export: boolean; admin: boolean };
}

/** `LegalHoldIn` without the tenant (the backend plugin sets the user's). */
export interface LegalHoldRequest {
  reason: string;
  user_id?: string | null;
  resource_type?: string | null;
  resource_id?: string | null;
  filters?: Record<string, string[]>;
  expires_at?: string | null;
}

/** `LegalHold`. */
export interface LegalHold extends LegalHoldRequest {
  hold_id: string;
  tenant_id: string;
  created_at: string;
  created_by: string;
  released_at?: string | null;
  released_by?: string | null;
}

/** `Erasure`: a tracked erasure; the raw user_id is not kept, only its subject id. */
export interface Erasure {
  erasure_id: string;
  tenant_id: string;
  subject_id: string;
  status: 'received' | 'done';
  received_at: string;
  completed_at?: string | null;
  requested_by: string;
  key_destroyed?: boolean;
  caches_clear_within_seconds: number;
}

/** A log stream as the admin API lists it (the fields shown; others are kept as they come). */
export interface LogStream {
  stream_id: string;
  state?: string;
  lag_seconds?: number | null;
  [field: string]: unknown;
}
