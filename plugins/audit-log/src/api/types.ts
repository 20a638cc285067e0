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

/** `StreamState`: delivering, paused (by an administrator or a permanent refusal), or failing. */
export type StreamState = 'active' | 'paused' | 'failing';

/** `Format`: how a stream writes each event. */
export type StreamFormat = 'json' | 'ocsf' | 'cef';

/**
 * A stream's destination as the API shows it: its `type` and settings, never a secret (only
 * `secret_set` / `token_set`). Fields of destinations this plugin does not know are kept.
 */
export interface StreamDestination {
  /** `webhook`, `syslog`, `pubsub`, `gcs` or `splunk_hec` (the API may add others). */
  type: string;
  url?: string;
  host?: string;
  port?: number;
  tls?: boolean;
  topic?: string;
  bucket?: string;
  prefix?: string;
  index?: string | null;
  source?: string | null;
  [field: string]: unknown;
}

/** `StreamFilter`: the events a stream sends in full (the others go as their hash alone). */
export interface StreamFilter {
  event_types?: string[];
  service_names?: string[];
  statuses?: Array<'success' | 'failure' | 'denied'>;
  metadata?: Record<string, string>;
  include_self_audit?: boolean;
}

/** `StreamStatus`: where delivery stands. */
export interface StreamStatus {
  state: StreamState;
  /** The last leaf delivered; null before any. */
  delivered_leaf_index?: number | null;
  next_leaf_index: number;
  lag_events?: number | null;
  lag_seconds?: number | null;
  last_delivery_at?: string | null;
  last_error?: string | null;
  consecutive_failures?: number;
  failing_since?: string | null;
  paused_reason?: string | null;
}

/** `Stream`: a log stream of a tenant and its delivery status. */
export interface LogStream {
  stream_id: string;
  tenant_id: string;
  name: string;
  destination: StreamDestination;
  format: StreamFormat;
  filter: StreamFilter;
  batch_size: number;
  batch_wait_seconds: number;
  failing_after_seconds: number;
  created_at: string;
  created_by: string;
  status: StreamStatus;
}

/**
 * `StreamIn` without the tenant (the backend plugin sets the user's). The destination carries
 * its secret (`secret` of a webhook, `token` of Splunk HEC), which the API never shows again.
 */
export interface StreamRequest {
  name: string;
  destination: StreamDestination;
  format?: StreamFormat;
  filter?: StreamFilter;
  start?: 'now' | 'beginning' | { leaf_index: number };
  batch_size?: number;
  batch_wait_seconds?: number;
  failing_after_seconds?: number;
  tenant_id?: string;
}

/** `StreamPatch`: what may change (not the tenant, not the position: replay moves that). */
export type StreamPatch = Partial<
  Pick<
    StreamRequest,
    | 'name'
    | 'destination'
    | 'format'
    | 'filter'
    | 'batch_size'
    | 'batch_wait_seconds'
    | 'failing_after_seconds'
  >
>;

/** `ReplayIn`: deliver again from a leaf index or from a time (RFC 3339). */
export type StreamReplay = { from_leaf_index: number } | { from_time: string };

/** `TestDelivery`: what the destination answered to one synthetic event. */
export interface TestDelivery {
  ok: boolean;
  status_code?: number | null;
  detail: string;
}
