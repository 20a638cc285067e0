import { DateRangePicker, Select } from '@backstage/ui';
import {
  parseAbsoluteToLocal,
  type ZonedDateTime,
} from '@internationalized/date';
import {
  RANGE_PRESETS,
  type RangePreset,
  type TimeRange,
} from '../api/filters';

const CUSTOM = 'custom';

function toZoned(iso: string | undefined): ZonedDateTime | null {
  if (!iso) return null;
  try {
    return parseAbsoluteToLocal(iso);
  } catch {
    return null;
  }
}

/**
 * A preset ("Last 24 hours") or a custom absolute range to the minute. Presets stay relative in
 * the URL; a custom range is kept as RFC 3339 UTC times.
 */
export function TimeRangePicker({
  value,
  onChange,
}: {
  value: TimeRange;
  onChange: (range: TimeRange) => void;
}) {
  const selected = value.kind === 'preset' ? value.preset : CUSTOM;
  const start = value.kind === 'absolute' ? toZoned(value.start) : null;
  const end = value.kind === 'absolute' ? toZoned(value.end) : null;
  return (
    <div className="al-toolbar" data-testid="time-range">
      <div style={{ width: 200 }}>
        <Select
          label="Time range"
          aria-label="Time range"
          options={[
            ...RANGE_PRESETS.map(p => ({ id: p.id, label: p.label })),
            { id: CUSTOM, label: 'Custom range' },
          ]}
          value={selected}
          onChange={key => {
            if (key === null || key === undefined) return;
            const id = String(key);
            if (id === CUSTOM) {
              const now = new Date();
              onChange({
                kind: 'absolute',
                start: new Date(now.getTime() - 86_400_000).toISOString(),
                end: now.toISOString(),
              });
            } else {
              onChange({ kind: 'preset', preset: id as RangePreset });
            }
          }}
        />
      </div>
      {value.kind === 'absolute' && (
        <DateRangePicker
          label="From – to (local time)"
          aria-label="Custom time range"
          granularity="minute"
          hideTimeZone
          value={start && end ? { start, end } : null}
          onChange={range => {
            if (!range) return;
            onChange({
              kind: 'absolute',
              start: range.start.toDate('UTC').toISOString(),
              end: range.end.toDate('UTC').toISOString(),
            });
          }}
        />
      )}
    </div>
  );
}
