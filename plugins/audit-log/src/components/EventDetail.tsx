import { Card, CardBody, CardHeader, Text } from '@backstage/ui';
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router-dom';
import {
  EMPTY_VIEW,
  viewToParams,
  withFilter,
  type ListFilter,
} from '../api/filters';
import { EVENT_FIELDS, type AuditEvent } from '../api/types';
import { useBasePath, useAuditLogApi } from './AuditLogProvider';
import { ErrorAlert } from './ErrorAlert';
import { formatTime } from './format';
import { StatusChip } from './StatusChip';
import { InclusionCheck } from './Verification';

const JSON_FIELDS = ['request_data', 'response_data', 'metadata'] as const;
const DAY = 86_400_000;

/** A link to the explorer filtered on one value, within a day either side of the event. */
function relatedHref(
  basePath: string,
  event: AuditEvent,
  name: ListFilter,
  value: string,
): string {
  const at = Date.parse(event.timestamp);
  const params = viewToParams({
    ...withFilter(EMPTY_VIEW, name, value),
    range: {
      kind: 'absolute',
      start: new Date(at - DAY).toISOString(),
      end: new Date(at + DAY).toISOString(),
    },
  });
  return `${basePath}?${params.toString()}`;
}

function FieldValue({
  event,
  field,
}: {
  event: AuditEvent;
  field: keyof AuditEvent;
}) {
  const value = event[field];
  if (value === null || value === undefined)
    return <span className="al-mono">null</span>;
  if (field === 'status') return <StatusChip status={String(value)} />;
  if (field === 'timestamp' || field === 'created_at') {
    return (
      <span>
        <span className="al-mono">{String(value)}</span> (
        {formatTime(String(value))})
      </span>
    );
  }
  if (typeof value === 'object')
    return <span className="al-mono">see below</span>;
  return <span className="al-mono">{String(value)}</span>;
}

export function EventDetail() {
  const { auditId = '' } = useParams();
  const api = useAuditLogApi();
  const basePath = useBasePath();
  const query = useQuery({
    queryKey: ['audit-log', 'event', auditId],
    queryFn: ({ signal }) => api.getEvent(auditId, { signal }),
  });
  const event = query.data;
  const related: Array<{ name: ListFilter; label: string }> = [
    { name: 'correlation_id', label: 'correlation id' },
    { name: 'session_id', label: 'session' },
    { name: 'user_id', label: 'user' },
    { name: 'resource_id', label: 'resource' },
  ];
  return (
    <section
      className="al-root"
      aria-label="Event detail"
      data-testid="event-detail"
    >
      <Text as="p">
        <Link className="al-link" to={basePath || '/'}>
          ← All events
        </Link>
      </Text>
      {query.error && <ErrorAlert error={query.error} />}
      {!event && !query.error && <Text>Loading…</Text>}
      {event && (
        <>
          <Text as="h2" variant="title-small">
            {event.event_type} · {event.action} {event.resource_type}
            {event.resource_id ? ` ${event.resource_id}` : ''}{' '}
            <StatusChip status={event.status} />
          </Text>
          <div className="al-grid-2">
            <Card>
              <CardHeader>
                <Text as="h3" variant="title-x-small">
                  Fields
                </Text>
              </CardHeader>
              <CardBody>
                <dl className="al-fields" data-testid="event-fields">
                  {EVENT_FIELDS.filter(
                    f => !(JSON_FIELDS as readonly string[]).includes(f),
                  ).map(field => (
                    <div key={field} style={{ display: 'contents' }}>
                      <dt>{field}</dt>
                      <dd>
                        <FieldValue event={event} field={field} />
                      </dd>
                    </div>
                  ))}
                </dl>
              </CardBody>
            </Card>
            <Card>
              <CardHeader>
                <Text as="h3" variant="title-x-small">
                  Related events
                </Text>
              </CardHeader>
              <CardBody>
                <ul className="al-checks">
                  {related.map(({ name, label }) => {
                    const value = event[name as keyof AuditEvent];
                    return typeof value === 'string' && value ? (
                      <li key={name}>
                        <Link
                          className="al-link"
                          to={relatedHref(basePath, event, name, value)}
                        >
                          Events with the same {label}
                        </Link>{' '}
                        <span className="al-mono">{value}</span>
                      </li>
                    ) : (
                      <li key={name}>
                        <Text color="secondary">No {label} on this event</Text>
                      </li>
                    );
                  })}
                </ul>
                <div style={{ marginTop: 16 }}>
                  <Text as="h4" variant="body-medium" weight="bold">
                    Integrity
                  </Text>
                  <InclusionCheck auditId={event.audit_id} />
                </div>
              </CardBody>
            </Card>
          </div>
          {JSON_FIELDS.map(field => (
            <Card key={field}>
              <CardHeader>
                <Text as="h3" variant="title-x-small">
                  {field}
                </Text>
              </CardHeader>
              <CardBody>
                <pre className="al-json" data-testid={`json-${field}`}>
                  {event[field] === null
                    ? 'null'
                    : JSON.stringify(event[field], null, 2)}
                </pre>
              </CardBody>
            </Card>
          ))}
        </>
      )}
    </section>
  );
}
