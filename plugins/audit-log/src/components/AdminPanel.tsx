import {
  Alert,
  Button,
  Card,
  CardBody,
  CardHeader,
  Checkbox,
  Text,
  TextField,
} from '@backstage/ui';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import type { LegalHold, LegalHoldRequest } from '../api/types';
import { useAuditLogApi, useIdentity } from './AuditLogProvider';
import { ErrorAlert } from './ErrorAlert';
import { formatTime } from './format';

function Section({
  title,
  testId,
  children,
}: {
  title: string;
  testId: string;
  children: ReactNode;
}) {
  return (
    <Card data-testid={testId}>
      <CardHeader>
        <Text as="h2" variant="title-x-small">
          {title}
        </Text>
      </CardHeader>
      <CardBody>
        <div className="al-root" style={{ padding: 0 }}>
          {children}
        </div>
      </CardBody>
    </Card>
  );
}

const when = (value?: string | null) => (value ? formatTime(value) : '—');

function holdScope(hold: LegalHold): string {
  const parts = [
    hold.user_id && `user ${hold.user_id}`,
    hold.resource_type && `resource type ${hold.resource_type}`,
    hold.resource_id && `resource ${hold.resource_id}`,
    ...Object.entries(hold.filters ?? {}).map(
      ([k, v]) => `${k} ${v.join(', ')}`,
    ),
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'the whole tenant';
}

function LegalHolds() {
  const api = useAuditLogApi();
  const client = useQueryClient();
  const holds = useQuery({
    queryKey: ['audit-log', 'admin', 'holds'],
    queryFn: ({ signal }) => api.listLegalHolds({ signal }),
  });
  const [draft, setDraft] = useState({
    reason: '',
    user_id: '',
    resource_type: '',
    resource_id: '',
    expires_at: '',
  });
  const refresh = () =>
    client.invalidateQueries({ queryKey: ['audit-log', 'admin', 'holds'] });
  const place = useMutation({
    mutationFn: (hold: LegalHoldRequest) => api.placeLegalHold(hold),
    onSuccess: () => {
      setDraft({
        reason: '',
        user_id: '',
        resource_type: '',
        resource_id: '',
        expires_at: '',
      });
      return refresh();
    },
  });
  const release = useMutation({
    mutationFn: (holdId: string) => api.releaseLegalHold(holdId),
    onSuccess: refresh,
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    place.mutate({
      reason: draft.reason.trim(),
      user_id: draft.user_id.trim() || null,
      resource_type: draft.resource_type.trim() || null,
      resource_id: draft.resource_id.trim() || null,
      expires_at: draft.expires_at.trim() || null,
    });
  };
  const field = (name: keyof typeof draft, label: string, hint?: string) => (
    <TextField
      label={label}
      description={hint}
      value={draft[name]}
      onChange={value => setDraft({ ...draft, [name]: value })}
    />
  );
  return (
    <Section title="Legal holds" testId="admin-holds">
      <Text as="p" color="secondary">
        Retention keeps every event a hold covers until it is released or
        expires.
      </Text>
      {holds.error && <ErrorAlert error={holds.error} />}
      {release.error && (
        <ErrorAlert error={release.error} title="Release failed" />
      )}
      {holds.data && (
        <table className="al-admin-table" aria-label="Legal holds">
          <thead>
            <tr>
              <th>Hold</th>
              <th>Reason</th>
              <th>Covers</th>
              <th>Placed</th>
              <th>Expires</th>
              <th>Released</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {holds.data.length === 0 && (
              <tr>
                <td colSpan={7}>No legal holds</td>
              </tr>
            )}
            {holds.data.map(hold => (
              <tr key={hold.hold_id} data-hold-id={hold.hold_id}>
                <td className="al-mono">{hold.hold_id}</td>
                <td>{hold.reason}</td>
                <td>{holdScope(hold)}</td>
                <td>
                  {when(hold.created_at)} by {hold.created_by}
                </td>
                <td>{when(hold.expires_at)}</td>
                <td>
                  {hold.released_at
                    ? `${when(hold.released_at)} by ${hold.released_by}`
                    : '—'}
                </td>
                <td>
                  {!hold.released_at && (
                    <Button
                      variant="secondary"
                      size="small"
                      aria-label={`Release ${hold.hold_id}`}
                      isPending={
                        release.isPending && release.variables === hold.hold_id
                      }
                      onPress={() => release.mutate(hold.hold_id)}
                    >
                      Release
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={submit} aria-label="Place a legal hold">
        <div className="al-filters">
          {field('reason', 'Reason', 'required: the case or matter')}
          {field('user_id', 'Hold user', 'only this user’s events')}
          {field('resource_type', 'Hold resource type')}
          {field('resource_id', 'Hold resource id')}
          {field('expires_at', 'Expires at', 'RFC 3339, optional')}
          <Button
            type="submit"
            variant="primary"
            isDisabled={!draft.reason.trim()}
            isPending={place.isPending}
          >
            Place hold
          </Button>
        </div>
      </form>
      {place.error && <ErrorAlert error={place.error} title="Not placed" />}
    </Section>
  );
}

function Erasures() {
  const api = useAuditLogApi();
  const client = useQueryClient();
  const erasures = useQuery({
    queryKey: ['audit-log', 'admin', 'erasures'],
    queryFn: ({ signal }) => api.listErasures({ signal }),
  });
  const [userId, setUserId] = useState('');
  const [sure, setSure] = useState(false);
  const erase = useMutation({
    mutationFn: (subject: string) => api.eraseSubject(subject),
    onSuccess: () => {
      setUserId('');
      setSure(false);
      return client.invalidateQueries({
        queryKey: ['audit-log', 'admin', 'erasures'],
      });
    },
  });
  return (
    <Section title="Erasure requests" testId="admin-erasures">
      <Text as="p" color="secondary">
        Erasing a data subject destroys their key: the fields the tenant’s
        policy encrypts read as [erased] from then on, and every proof stays
        valid. It cannot be undone.
      </Text>
      {erasures.error && <ErrorAlert error={erasures.error} />}
      {erasures.data && (
        <table className="al-admin-table" aria-label="Erasure requests">
          <thead>
            <tr>
              <th>Request</th>
              <th>Subject</th>
              <th>Status</th>
              <th>Requested</th>
              <th>Completed</th>
            </tr>
          </thead>
          <tbody>
            {erasures.data.length === 0 && (
              <tr>
                <td colSpan={5}>No erasure requests</td>
              </tr>
            )}
            {erasures.data.map(e => (
              <tr key={e.erasure_id}>
                <td className="al-mono">{e.erasure_id}</td>
                <td className="al-mono">{e.subject_id}</td>
                <td>{e.status}</td>
                <td>
                  {when(e.received_at)} by {e.requested_by}
                </td>
                <td>{when(e.completed_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="al-toolbar">
        <TextField
          label="Data subject (user_id)"
          value={userId}
          onChange={setUserId}
        />
        <Checkbox isSelected={sure} onChange={setSure}>
          I understand this cannot be undone
        </Checkbox>
        <Button
          variant="primary"
          isDisabled={!userId.trim() || !sure}
          isPending={erase.isPending}
          onPress={() => erase.mutate(userId.trim())}
        >
          Erase subject
        </Button>
      </div>
      {erase.error && <ErrorAlert error={erase.error} title="Not erased" />}
    </Section>
  );
}

function RetentionDryRun() {
  const api = useAuditLogApi();
  const run = useMutation({ mutationFn: () => api.retentionDryRun() });
  return (
    <Section title="Retention dry run" testId="admin-retention">
      <Text as="p" color="secondary">
        What a retention run would delete now (events past their retention and
        not under a hold). Nothing is deleted from here.
      </Text>
      <div className="al-toolbar">
        <Button
          variant="secondary"
          isPending={run.isPending}
          onPress={() => run.mutate()}
        >
          Run a dry run
        </Button>
      </div>
      {run.error && <ErrorAlert error={run.error} title="Dry run failed" />}
      {run.data && (
        <pre className="al-json" data-testid="retention-result">
          {JSON.stringify(run.data, null, 2)}
        </pre>
      )}
    </Section>
  );
}

/**
 * The admin tab: legal holds, erasure requests and retention dry runs (log streams have a tab of
 * their own, StreamsPanel), each through the backend plugin, which checks the audit-log.admin
 * permission and acts as the signed-in user.
 */
export function AdminPanel() {
  const identity = useIdentity();
  if (identity.isPending) return <Text>Loading…</Text>;
  if (identity.error) return <ErrorAlert error={identity.error} />;
  if (!identity.data?.allowed.admin) {
    return (
      <Alert
        status="info"
        icon
        title="Admin actions need the audit-log.admin permission"
        description="Ask the Backstage administrators for it; the audit log also needs system_admin for your tenant."
      />
    );
  }
  return (
    <section className="al-root" aria-label="Admin" data-testid="admin-panel">
      <Text as="p" color="secondary">
        Acting as {identity.data.userEntityRef} in{' '}
        {identity.data.tenants.map(t => t.tenant).join(', ')}: every action is
        recorded in the audit log under your name.
      </Text>
      <LegalHolds />
      <Erasures />
      <RetentionDryRun />
    </section>
  );
}
