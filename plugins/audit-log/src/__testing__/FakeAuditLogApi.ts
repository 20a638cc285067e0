/**
 * An in-memory AuditLogApi for the jsdom component tests: it filters, orders newest first and
 * pages like the service, and records every query it was asked. It is a test double on purpose:
 * the UI logic is tested here, while the real client against the real server is covered by
 * api.test.ts (live block) and the browser tests (e2e/browser.mjs).
 */
import { AuditLogApiError, type AuditLogApi } from '../api/AuditLogApi';
import {
  EVENT_FIELDS,
  type AuditEvent,
  type Checkpoint,
  type EventPage,
  type ExportFormat,
  type Erasure,
  type InclusionProof,
  type LegalHold,
  type LegalHoldRequest,
  type LogStream,
  type PortalIdentity,
  type PublicKey,
  type QueryPairs,
  type TestDelivery,
} from '../api/types';

export function makeEvent(
  i: number,
  overrides: Partial<AuditEvent> = {},
): AuditEvent {
  const ts = new Date(Date.UTC(2026, 10, 26, 12, 0, 0) - i * 60_000)
    .toISOString()
    .replace('Z', '000Z');
  return {
    audit_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    timestamp: ts,
    event_type: ['user.login', 'invoice.update', 'role.grant'][i % 3],
    user_id: ['alice', 'bob', 'carol'][i % 3],
    session_id: `sess-${i % 4}`,
    ip_address: '10.0.0.1',
    user_agent: 'test-agent/1.0',
    resource_type: ['session', 'invoice', 'role'][i % 3],
    resource_id: `r-${i}`,
    action: ['create', 'update', 'grant'][i % 3],
    status: i % 5 === 4 ? 'failure' : 'success',
    request_data: { path: `/api/${i}`, body: { amount: i } },
    response_data: { status_code: 200 },
    metadata: { region: i % 2 ? 'eu' : 'us' },
    tenant_id: 'acme',
    service_name: ['billing', 'identity'][i % 2],
    correlation_id: `corr-${Math.floor(i / 3)}`,
    retention_period_days: 90,
    created_at: ts,
    partition_date: ts.slice(0, 10),
    ...overrides,
  };
}

export class FakeAuditLogApi implements AuditLogApi {
  readonly searches: QueryPairs[] = [];
  readonly exports: Array<{ query: QueryPairs; format: ExportFormat }> = [];
  searchError: Error | null = null;
  checkpoint: Checkpoint | null = null;
  keys: PublicKey[] = [];
  proofs = new Map<string, InclusionProof>();
  /** What getIdentity answers: null is the proxy mode (no backend plugin). */
  identity: PortalIdentity | null = {
    userEntityRef: 'user:default/alice',
    tenants: [{ tenant: 'acme', roles: ['audit_reader', 'system_admin'] }],
    allowed: { read: true, export: true, admin: true },
  };
  /** The entity ref each search was scoped to (the entity tab sends its entity). */
  readonly scopes: Array<string | undefined> = [];
  holds: LegalHold[] = [];
  erasures: Erasure[] = [];
  streams: LogStream[] | null = null;
  retention: Record<string, unknown> = {
    dry_run: true,
    tenants: { acme: 3 },
  };

  constructor(readonly events: AuditEvent[]) {}

  private matching(query: QueryPairs): AuditEvent[] {
    const wanted = new Map<string, string[]>();
    for (const [name, value] of query)
      wanted.set(name, [...(wanted.get(name) ?? []), value]);
    return this.events
      .filter(event =>
        [...wanted].every(([name, values]) => {
          if (name === 'start_time')
            return Date.parse(event.timestamp) >= Date.parse(values[0]);
          if (name === 'end_time')
            return Date.parse(event.timestamp) < Date.parse(values[0]);
          if (
            [
              'page_size',
              'page_token',
              'include_self_audit',
              'format',
            ].includes(name)
          )
            return true;
          if (name.startsWith('metadata.')) {
            const value = event.metadata?.[name.slice('metadata.'.length)];
            return value !== undefined && values.includes(String(value));
          }
          return values.includes(String(event[name as keyof AuditEvent]));
        }),
      )
      .sort(
        (a, b) =>
          b.timestamp.localeCompare(a.timestamp) ||
          b.audit_id.localeCompare(a.audit_id),
      );
  }

  async getIdentity(): Promise<PortalIdentity | null> {
    return this.identity;
  }

  async searchEvents(
    query: QueryPairs,
    options: { pageToken?: string; scope?: { entityRef?: string } } = {},
  ): Promise<EventPage> {
    this.scopes.push(options.scope?.entityRef);
    this.searches.push([
      ...query,
      ...(options.pageToken
        ? [['page_token', options.pageToken] as const]
        : []),
    ]);
    if (this.searchError) throw this.searchError;
    const size = Number(query.find(([k]) => k === 'page_size')?.[1] ?? 100);
    const offset = Number(options.pageToken ?? 0);
    const all = this.matching(query);
    const events = all.slice(offset, offset + size);
    return {
      events,
      next_page_token:
        offset + size < all.length ? String(offset + size) : null,
    };
  }

  async getEvent(auditId: string): Promise<AuditEvent> {
    const event = this.events.find(e => e.audit_id === auditId);
    if (!event) throw new AuditLogApiError(404, 'not_found', 'no such event');
    return event;
  }

  async exportEvents(query: QueryPairs, format: ExportFormat): Promise<Blob> {
    this.exports.push({ query, format });
    const events = this.matching(query);
    const text =
      format === 'csv'
        ? [
            EVENT_FIELDS.join(','),
            ...events.map(e =>
              EVENT_FIELDS.map(f => JSON.stringify(e[f] ?? '')).join(','),
            ),
          ].join('\n')
        : events.map(e => JSON.stringify(e)).join('\n');
    return new Blob([text]);
  }

  async getLatestCheckpoint(): Promise<Checkpoint> {
    if (!this.checkpoint)
      throw new AuditLogApiError(404, 'not_found', 'no route');
    return this.checkpoint;
  }

  async getPublicKeys(): Promise<PublicKey[]> {
    return this.keys;
  }

  async getEventProof(auditId: string): Promise<InclusionProof> {
    const proof = this.proofs.get(auditId);
    if (!proof) throw new AuditLogApiError(404, 'not_found', 'no proof');
    return proof;
  }

  async listLegalHolds(): Promise<LegalHold[]> {
    return this.holds;
  }

  async placeLegalHold(hold: LegalHoldRequest): Promise<LegalHold> {
    const placed: LegalHold = {
      ...hold,
      hold_id: `hold-${this.holds.length + 1}`,
      tenant_id: 'acme',
      created_at: '2026-11-26T12:00:00Z',
      created_by: this.identity?.userEntityRef ?? 'proxy',
      released_at: null,
      released_by: null,
    };
    this.holds = [...this.holds, placed];
    return placed;
  }

  async releaseLegalHold(holdId: string): Promise<LegalHold> {
    const hold = this.holds.find(h => h.hold_id === holdId);
    if (!hold) throw new AuditLogApiError(404, 'not_found', 'no such hold');
    const released = {
      ...hold,
      released_at: '2026-11-26T13:00:00Z',
      released_by: this.identity?.userEntityRef ?? 'proxy',
    };
    this.holds = this.holds.map(h => (h.hold_id === holdId ? released : h));
    return released;
  }

  async listErasures(): Promise<Erasure[]> {
    return this.erasures;
  }

  async eraseSubject(userId: string): Promise<Erasure> {
    const erasure: Erasure = {
      erasure_id: `erasure-${this.erasures.length + 1}`,
      tenant_id: 'acme',
      subject_id: `subject-of-${userId}`,
      status: 'done',
      received_at: '2026-11-26T12:00:00Z',
      completed_at: '2026-11-26T12:00:01Z',
      requested_by: this.identity?.userEntityRef ?? 'proxy',
      key_destroyed: true,
      caches_clear_within_seconds: 30,
    };
    this.erasures = [...this.erasures, erasure];
    return erasure;
  }

  async retentionDryRun(): Promise<Record<string, unknown>> {
    return this.retention;
  }

  async listStreams(): Promise<LogStream[] | null> {
    return this.streams;
  }

  async getStream(streamId: string): Promise<LogStream> {
    const stream = this.streams?.find(s => s.stream_id === streamId);
    if (!stream) throw new AuditLogApiError(404, 'not_found', 'no such stream');
    return stream;
  }

  // Changing streams is tested over the real client and FakeStreamsServer (a fetch fake).
  private streamsElsewhere(): never {
    throw new AuditLogApiError(501, 'not_implemented', 'see FakeStreamsServer');
  }

  async createStream(): Promise<LogStream> {
    return this.streamsElsewhere();
  }

  async updateStream(): Promise<LogStream> {
    return this.streamsElsewhere();
  }

  async deleteStream(): Promise<LogStream> {
    return this.streamsElsewhere();
  }

  async pauseStream(): Promise<LogStream> {
    return this.streamsElsewhere();
  }

  async resumeStream(): Promise<LogStream> {
    return this.streamsElsewhere();
  }

  async replayStream(): Promise<LogStream> {
    return this.streamsElsewhere();
  }

  async testStream(): Promise<TestDelivery> {
    return this.streamsElsewhere();
  }
}
