import { Button, Text } from '@backstage/ui';
import type { LogStream, StreamState } from '../api/types';
import { formatTime } from './format';
import {
  STATE_TONE,
  destinationLabel,
  destinationTarget,
  formatLag,
} from './streamFormat';

/** A stream's state as a coloured chip: green active, amber paused, red failing. */
export function StreamStateChip({ state }: { state: StreamState }) {
  const tone = STATE_TONE[state] ?? 'other';
  return (
    <span className={`al-status al-status--${tone}`} data-state={state}>
      {state}
    </span>
  );
}

/** Which stream an action is running for, so that only its button spins. */
export interface PendingActions {
  pause?: string;
  resume?: string;
  test?: string;
}

/** What the rows' buttons do. */
export interface StreamActions {
  onPause(stream: LogStream): void;
  onResume(stream: LogStream): void;
  onTest(stream: LogStream): void;
  pending: PendingActions;
}

const when = (value?: string | null) => (value ? formatTime(value) : '—');

function StreamRow({
  stream,
  actions,
}: {
  stream: LogStream;
  actions: StreamActions;
}) {
  const { status } = stream;
  const paused = status.state === 'paused';
  return (
    <tr data-stream-id={stream.stream_id}>
      <td>
        <div>{stream.name}</div>
        <Text as="span" variant="body-small" color="secondary">
          <span className="al-mono">{stream.stream_id}</span>
        </Text>
      </td>
      <td>
        <div>{destinationLabel(stream.destination.type)}</div>
        <span className="al-mono">{destinationTarget(stream.destination)}</span>
      </td>
      <td className="al-mono">{stream.format}</td>
      <td>
        <StreamStateChip state={status.state} />
        {status.paused_reason && <div>{status.paused_reason}</div>}
        {status.state === 'failing' && status.failing_since && (
          <div>since {when(status.failing_since)}</div>
        )}
      </td>
      <td className="al-mono">{status.delivered_leaf_index ?? '—'}</td>
      <td>{formatLag(status.lag_events, status.lag_seconds)}</td>
      <td>{when(status.last_delivery_at)}</td>
      <td>{status.last_error ?? '—'}</td>
      <td className="al-mono">{status.consecutive_failures ?? 0}</td>
      <td>
        <div className="al-toolbar">
          {paused || status.state === 'failing' ? (
            <Button
              variant="secondary"
              size="small"
              aria-label={`Resume ${stream.name}`}
              isPending={actions.pending.resume === stream.stream_id}
              onPress={() => actions.onResume(stream)}
            >
              Resume
            </Button>
          ) : null}
          {!paused && (
            <Button
              variant="secondary"
              size="small"
              aria-label={`Pause ${stream.name}`}
              isPending={actions.pending.pause === stream.stream_id}
              onPress={() => actions.onPause(stream)}
            >
              Pause
            </Button>
          )}
          <Button
            variant="secondary"
            size="small"
            aria-label={`Send test event to ${stream.name}`}
            isPending={actions.pending.test === stream.stream_id}
            onPress={() => actions.onTest(stream)}
          >
            Send test event
          </Button>
        </div>
      </td>
    </tr>
  );
}

/** The tenant's log streams, one row each, with their delivery status and actions. */
export function StreamsTable({
  streams,
  actions,
}: {
  streams: LogStream[];
  actions: StreamActions;
}) {
  return (
    <div className="al-table-scroll">
      <table className="al-admin-table" aria-label="Log streams">
        <thead>
          <tr>
            <th>Stream</th>
            <th>Destination</th>
            <th>Format</th>
            <th>State</th>
            <th>Delivered leaf</th>
            <th>Lag</th>
            <th>Last delivery</th>
            <th>Last error</th>
            <th>Failures in a row</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {streams.map(stream => (
            <StreamRow
              key={stream.stream_id}
              stream={stream}
              actions={actions}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}
