import { Button, Checkbox, Select, TextField } from '@backstage/ui';
import { useEffect, useState, type FormEvent } from 'react';
import {
  FILTER_LABELS,
  LIST_FILTERS,
  PAGE_SIZES,
  splitValues,
  type ExplorerView,
  type ListFilter,
} from '../api/filters';
import { TimeRangePicker } from './TimeRangePicker';

const HINTS: Partial<Record<ListFilter, string>> = {
  status: 'e.g. success, failure, denied',
  event_type: 'e.g. user.login, invoice.update',
};

interface Draft {
  fields: Partial<Record<ListFilter, string>>;
  metadata: string;
}

function draftOf(view: ExplorerView): Draft {
  const fields: Draft['fields'] = {};
  for (const name of LIST_FILTERS)
    fields[name] = (view.filters[name] ?? []).join(', ');
  return {
    fields,
    metadata: view.metadata.map(([k, v]) => `${k}=${v}`).join(', '),
  };
}

/** `region=eu, geo.country=DE` into pairs; an entry without `=` is reported, not dropped. */
export function parseMetadata(text: string): {
  pairs: Array<[string, string]>;
  invalid: string[];
} {
  const pairs: Array<[string, string]> = [];
  const invalid: string[] = [];
  for (const entry of splitValues(text)) {
    const at = entry.indexOf('=');
    const key = at > 0 ? entry.slice(0, at).trim() : '';
    const value = at > 0 ? entry.slice(at + 1).trim() : '';
    if (key && value) pairs.push([key, value]);
    else invalid.push(entry);
  }
  return { pairs, invalid };
}

/**
 * Every filter the search API offers. Text fields take comma-separated values (any of them
 * matches); Apply (or Enter) puts the view in the URL. Locked filters (an entity tab's service)
 * are shown but cannot be edited.
 */
export function FilterBar({
  view,
  locked = {},
  hidden = [],
  onApply,
}: {
  view: ExplorerView;
  locked?: Partial<Record<ListFilter, string[]>>;
  /** Filters not offered (the tenant, when the backend plugin decides it). */
  hidden?: ListFilter[];
  onApply: (view: ExplorerView) => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(view));
  const [metadataError, setMetadataError] = useState<string | null>(null);
  useEffect(() => setDraft(draftOf(view)), [view]);

  const apply = (event?: FormEvent) => {
    event?.preventDefault();
    const { pairs, invalid } = parseMetadata(draft.metadata);
    if (invalid.length) {
      setMetadataError(`Write key=value: ${invalid.join(', ')}`);
      return;
    }
    setMetadataError(null);
    const filters: ExplorerView['filters'] = {};
    for (const name of LIST_FILTERS) {
      if (locked[name]) continue;
      const values = splitValues(draft.fields[name] ?? '');
      if (values.length) filters[name] = values;
    }
    onApply({ ...view, filters, metadata: pairs });
  };

  const clear = () => {
    setMetadataError(null);
    onApply({ ...view, filters: {}, metadata: [] });
  };

  return (
    <form
      onSubmit={apply}
      aria-label="Event filters"
      className="al-root"
      style={{ padding: 0 }}
    >
      <div className="al-toolbar">
        <TimeRangePicker
          value={view.range}
          onChange={range => onApply({ ...view, range })}
        />
        <div style={{ width: 120 }}>
          <Select
            label="Page size"
            aria-label="Page size"
            options={PAGE_SIZES.map(n => ({ id: String(n), label: String(n) }))}
            value={String(view.pageSize)}
            onChange={key =>
              key !== null && onApply({ ...view, pageSize: Number(key) })
            }
          />
        </div>
        <Checkbox
          isSelected={view.includeSelfAudit}
          onChange={checked => onApply({ ...view, includeSelfAudit: checked })}
        >
          Include the log's own reads (audit_admin)
        </Checkbox>
      </div>
      <div className="al-filters">
        {LIST_FILTERS.filter(name => !hidden.includes(name)).map(name => (
          <TextField
            key={name}
            name={name}
            label={FILTER_LABELS[name]}
            placeholder={HINTS[name] ?? 'any'}
            isDisabled={Boolean(locked[name])}
            value={
              locked[name] ? locked[name]!.join(', ') : draft.fields[name] ?? ''
            }
            onChange={text =>
              setDraft(d => ({ ...d, fields: { ...d.fields, [name]: text } }))
            }
          />
        ))}
        <TextField
          name="metadata"
          label="Metadata"
          placeholder="key=value, geo.country=DE"
          value={draft.metadata}
          onChange={text => setDraft(d => ({ ...d, metadata: text }))}
          isInvalid={metadataError !== null}
          description={metadataError ?? undefined}
        />
        <div className="al-toolbar">
          <Button type="submit" variant="primary">
            Apply filters
          </Button>
          <Button type="button" variant="secondary" onPress={clear}>
            Clear
          </Button>
        </div>
      </div>
    </form>
  );
}
