import type { StreamDestination, StreamState } from '../api/types';

const DESTINATION_LABELS: Record<string, string> = {
  webhook: 'Webhook',
  syslog: 'Syslog',
  pubsub: 'Pub/Sub',
  gcs: 'Cloud Storage',
  splunk_hec: 'Splunk HEC',
};

/** The destination type as people name it: "Webhook", "Splunk HEC"; unknown types as they are. */
export function destinationLabel(type: string): string {
  return DESTINATION_LABELS[type] ?? type;
}

/**
 * A URL without what may be a credential: no user or password, no fragment, and the query
 * shown as "?…". The API never answers a destination's secret, but a URL can embed one.
 */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
  }
}

/**
 * Where a stream delivers: the URL (webhook, Splunk HEC), host and port (syslog), topic
 * (Pub/Sub) or bucket and prefix (Cloud Storage). Never a secret: only the fields named here
 * are read, whatever else the destination holds.
 */
export function destinationTarget(destination: StreamDestination): string {
  const { type } = destination;
  if ((type === 'webhook' || type === 'splunk_hec') && destination.url) {
    const url = withoutCredentials(destination.url);
    return destination.index ? `${url} (index ${destination.index})` : url;
  }
  if (type === 'syslog' && destination.host) {
    const port = destination.port ?? 6514;
    const tls = destination.tls === false ? 'plain TCP' : 'TLS';
    return `${destination.host}:${port} (${tls})`;
  }
  if (type === 'pubsub' && destination.topic) return destination.topic;
  if (type === 'gcs' && destination.bucket) {
    return `gs://${destination.bucket}/${destination.prefix ?? ''}`;
  }
  return '—';
}

const DURATION_UNITS = [
  ['d', 86_400],
  ['h', 3_600],
  ['min', 60],
  ['s', 1],
] as const;

/**
 * A duration for people: "0 s", "45 s", "4 min 12 s", "2 h 5 min", "3 d 4 h" (the two largest
 * units, rounded to the second).
 */
export function formatDuration(seconds: number): string {
  let rest = Math.max(0, Math.round(seconds));
  const counts = DURATION_UNITS.map(([unit, size]) => {
    const count = Math.floor(rest / size);
    rest -= count * size;
    return `${count} ${unit}`;
  });
  const first = counts.findIndex(text => !text.startsWith('0 '));
  if (first === -1) return '0 s';
  return counts
    .slice(first, first + 2)
    .filter(text => !text.startsWith('0 '))
    .join(' ');
}

/** How far a stream is behind the log: "12 events, 4 min 12 s"; "up to date" at none. */
export function formatLag(
  events: number | null | undefined,
  seconds: number | null | undefined,
): string {
  if (events === 0) return 'up to date';
  const parts = [
    typeof events === 'number' &&
      `${events.toLocaleString()} event${events === 1 ? '' : 's'}`,
    typeof seconds === 'number' && formatDuration(seconds),
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : '—';
}

/** The chip colour of a state: green active, amber paused, red failing. */
export const STATE_TONE: Record<StreamState, 'success' | 'denied' | 'failure'> =
  {
    active: 'success',
    paused: 'denied',
    failing: 'failure',
  };
