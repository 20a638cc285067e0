import {
  FILTER_LABELS,
  LIST_FILTERS,
  type ExplorerView,
  type ListFilter,
} from '../api/filters';

/** The applied filters as chips; the × removes one value. Locked filters have no ×. */
export function ActiveFilters({
  view,
  locked = {},
  onChange,
}: {
  view: ExplorerView;
  locked?: Partial<Record<ListFilter, string[]>>;
  onChange: (view: ExplorerView) => void;
}) {
  const chips: Array<{ key: string; label: string; remove?: () => void }> = [];
  for (const name of LIST_FILTERS) {
    for (const value of locked[name] ?? []) {
      chips.push({
        key: `locked-${name}-${value}`,
        label: `${FILTER_LABELS[name]}: ${value}`,
      });
    }
    if (locked[name]) continue;
    for (const value of view.filters[name] ?? []) {
      chips.push({
        key: `${name}-${value}`,
        label: `${FILTER_LABELS[name]}: ${value}`,
        remove: () => {
          const rest = (view.filters[name] ?? []).filter(v => v !== value);
          const filters = { ...view.filters, [name]: rest };
          if (!rest.length) delete filters[name];
          onChange({ ...view, filters });
        },
      });
    }
  }
  view.metadata.forEach(([key, value], index) =>
    chips.push({
      key: `metadata-${index}`,
      label: `metadata.${key}: ${value}`,
      remove: () =>
        onChange({
          ...view,
          metadata: view.metadata.filter((_, i) => i !== index),
        }),
    }),
  );
  if (!chips.length) return null;
  return (
    <div className="al-chips" aria-label="Active filters" role="list">
      {chips.map(chip => (
        <span className="al-chip" role="listitem" key={chip.key}>
          {chip.label}
          {chip.remove && (
            <button
              type="button"
              aria-label={`Remove ${chip.label}`}
              onClick={chip.remove}
            >
              ×
            </button>
          )}
        </span>
      ))}
    </div>
  );
}
