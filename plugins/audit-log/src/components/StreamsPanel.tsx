import { Alert, Card, CardBody, CardHeader, Text } from '@backstage/ui';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { AuditLogApiError } from '../api/AuditLogApi';
import type { LogStream, TestDelivery } from '../api/types';
import { useAuditLogApi } from './AuditLogProvider';
import { ErrorAlert } from './ErrorAlert';
import { StreamsTable } from './StreamsTable';

const STREAMS_KEY = ['audit-log', 'streams'];

/** Only the tenant's administrators may see its streams: a plain note, not an error. */
function AdminRoleNeeded() {
  return (
    <Alert
      status="info"
      icon
      title="Log stream administration needs the tenant admin role"
      description="Only the tenant's administrators (the audit log's system_admin role for the tenant) can see and change its log streams. Ask your audit log administrators for the role."
    />
  );
}

/** What the destination answered to the last test event. */
function TestOutcome({
  stream,
  result,
}: {
  stream: LogStream;
  result: TestDelivery;
}) {
  const code = result.status_code ? `HTTP ${result.status_code}: ` : '';
  return (
    <div data-testid="stream-test-outcome" data-ok={String(result.ok)}>
      <Alert
        status={result.ok ? 'success' : 'danger'}
        icon
        title={
          result.ok
            ? `Test event delivered to ${stream.name}`
            : `Test event not delivered to ${stream.name}`
        }
        description={`${code}${result.detail}`}
      />
    </div>
  );
}

function EmptyState() {
  return (
    <div data-testid="streams-empty">
      <Text as="p">This tenant has no log streams yet.</Text>
      <Text as="p" color="secondary">
        A log stream delivers the tenant’s audit events to its SIEM (a webhook,
        syslog, Pub/Sub, Cloud Storage or Splunk HEC) in leaf order. A tenant
        admin creates one with the API’s createStream (POST
        /api/v1/admin/streams).
      </Text>
    </div>
  );
}

/**
 * The Streams tab: the tenant's log streams with their state, position and lag (refreshed every
 * 30 seconds), and Pause, Resume and "Send test event" for each. Needs the tenant admin role;
 * without it the API answers 403 and the tab says so.
 */
export function StreamsPanel() {
  const api = useAuditLogApi();
  const client = useQueryClient();
  const streams = useQuery({
    queryKey: STREAMS_KEY,
    queryFn: ({ signal }) => api.listStreams({ signal }),
    refetchInterval: 30_000,
  });
  const refresh = () => client.invalidateQueries({ queryKey: STREAMS_KEY });
  const pause = useMutation({
    mutationFn: (stream: LogStream) => api.pauseStream(stream.stream_id),
    onSuccess: refresh,
  });
  const resume = useMutation({
    mutationFn: (stream: LogStream) => api.resumeStream(stream.stream_id),
    onSuccess: refresh,
  });
  const test = useMutation({
    mutationFn: (stream: LogStream) => api.testStream(stream.stream_id),
  });
  const pendingId = (m: { isPending: boolean; variables?: LogStream }) =>
    m.isPending ? m.variables?.stream_id : undefined;

  if (streams.error instanceof AuditLogApiError && streams.error.status === 403)
    return <AdminRoleNeeded />;
  return (
    <section
      className="al-root"
      aria-label="Log streams"
      data-testid="streams-panel"
    >
      <Card>
        <CardHeader>
          <Text as="h2" variant="title-x-small">
            Log streams
          </Text>
        </CardHeader>
        <CardBody>
          <div className="al-root" style={{ padding: 0 }}>
            {streams.isPending && <Text>Loading…</Text>}
            {streams.error && <ErrorAlert error={streams.error} />}
            {streams.data === null && (
              <Text as="p" color="secondary">
                This audit log service has no log streams (it predates them).
              </Text>
            )}
            {streams.data?.length === 0 && <EmptyState />}
            {pause.error && (
              <ErrorAlert error={pause.error} title="Not paused" />
            )}
            {resume.error && (
              <ErrorAlert error={resume.error} title="Not resumed" />
            )}
            {test.error && (
              <ErrorAlert error={test.error} title="Test event not sent" />
            )}
            {test.data && test.variables && (
              <TestOutcome stream={test.variables} result={test.data} />
            )}
            {streams.data && streams.data.length > 0 && (
              <StreamsTable
                streams={streams.data}
                actions={{
                  onPause: stream => pause.mutate(stream),
                  onResume: stream => resume.mutate(stream),
                  onTest: stream => test.mutate(stream),
                  pending: {
                    pause: pendingId(pause),
                    resume: pendingId(resume),
                    test: pendingId(test),
                  },
                }}
              />
            )}
          </div>
        </CardBody>
      </Card>
    </section>
  );
}
