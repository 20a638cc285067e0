/**
 * The explorer's view as it lives in the page URL, and the API query it sends.
 *
 * The URL uses the API's own parameter names (repeated names match any of their values,
 * `metadata.<key>=<value>`), so a shared link reads like the API call it makes. Only the time
 * range differs: `range=24h` stays relative in the link and is resolved to an absolute
 * `start_time` once per search, because the page cursor is bound to the exact query.
 */
import type { QueryPairs } from './types';

export const LIST_FILTERS = [
  'user_id',
  'event_type',
  'resource_type',
  'resource_id',
  'action',
  'status',
  'service_name',
  'correlation_id',
  'session_id',
  'tenant_id',
] as const;
export type ListFilter = (typeof LIST_FILTERS)[number];

export const FILTER_LABELS: Record<ListFilter, string> = {
  user_id: 'User',
  event_type: 'Event type',
  resource_type: 'Resource type',
  resource_id: 'Resource id',
  action: 'Action',
  status: 'Status',
  service_name: 'Service',
  correlation_id: 'Correlation id',
  session_id: 'Session id',
  tenant_id: 'Tenant (cross-tenant roles)',
};

export const RANGE_PRESETS = [
  { id: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '6h', label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { id: '24h', label: 'Last 24 hours', ms: 24 * 3_600_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
  { id: '90d', label: 'Last 90 days', ms: 90 * 86_400_000 },
  { id: '400d', label: 'Last 400 days', ms: 400 * 86_400_000 },
] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number]['id'];
export const DEFAULT_RANGE: RangePreset = '30d';

export type TimeRange =
  | { kind: 'preset'; preset: RangePreset }
  | { kind: 'absolute'; start?: string; end?: string };

export const PAGE_SIZES = [25, 50, 100, 250, 500, 1000] as const;
export const DEFAULT_PAGE_SIZE = 50;

export const SORTABLE_COLUMNS = [
  'timestamp',
  'event_type',
  'user_id',
  'resource_type',
  'action',
  'status',
  'service_name',
] as const;
export type SortColumn = (typeof SORTABLE_COLUMNS)[number];
export interface Sort {
  column: SortColumn;
  direction: 'ascending' | 'descending';
}

export interface ExplorerView {
  filters: Partial<Record<ListFilter, string[]>>;
  /** `[key, value]` for `metadata.<key>=<value>`, in URL order. */
  metadata: Array<[string, string]>;
  range: TimeRange;
  includeSelfAudit: boolean;
  pageSize: number;
  /** Sort of the loaded page; null keeps the service's order (newest first). */
  sort: Sort | null;
}

export const EMPTY_VIEW: ExplorerView = {
  filters: {},
  metadata: [],
  range: { kind: 'preset', preset: DEFAULT_RANGE },
  includeSelfAudit: false,
  pageSize: DEFAULT_PAGE_SIZE,
  sort: null,
};

const isPreset = (value: string | null): value is RangePreset =>
  RANGE_PRESETS.some(p => p.id === value);

export function parseView(params: URLSearchParams): ExplorerView {
  const filters: ExplorerView['filters'] = {};
  for (const name of LIST_FILTERS) {
    const values = params.getAll(name).filter(v => v !== '');
    if (values.length) filters[name] = values;
  }
  const metadata: Array<[string, string]> = [];
  params.forEach((value, name) => {
    if (
      name.startsWith('metadata.') &&
      name.length > 'metadata.'.length &&
      value !== ''
    ) {
      metadata.push([name.slice('metadata.'.length), value]);
    }
  });
  const start = params.get('start_time') ?? undefined;
  const end = params.get('end_time') ?? undefined;
  const preset = params.get('range');
  const range: TimeRange =
    start || end
      ? { kind: 'absolute', start, end }
      : { kind: 'preset', preset: isPreset(preset) ? preset : DEFAULT_RANGE };
  const size = Number(params.get('page_size'));
  const pageSize =
    Number.isInteger(size) && size >= 1 && size <= 1000
      ? size
      : DEFAULT_PAGE_SIZE;
  const [column, direction] = (params.get('sort') ?? '').split(':');
  const sort: Sort | null =
    (SORTABLE_COLUMNS as readonly string[]).includes(column) &&
    (direction === 'ascending' || direction === 'descending')
      ? { column: column as SortColumn, direction }
      : null;
  return {
    filters,
    metadata,
    range,
    includeSelfAudit: params.get('include_self_audit') === 'true',
    pageSize,
    sort,
  };
}

export function viewToParams(view: ExplorerView): URLSearchParams {
  const params = new URLSearchParams();
  for (const name of LIST_FILTERS) {
    for (const value of view.filters[name] ?? []) params.append(name, value);
  }
  for (const [key, value] of view.metadata)
    params.append(`metadata.${key}`, value);
  if (view.range.kind === 'preset') {
    if (view.range.preset !== DEFAULT_RANGE)
      params.set('range', view.range.preset);
  } else {
    if (view.range.start) params.set('start_time', view.range.start);
    if (view.range.end) params.set('end_time', view.range.end);
  }
  if (view.includeSelfAudit) params.set('include_self_audit', 'true');
  if (view.pageSize !== DEFAULT_PAGE_SIZE)
    params.set('page_size', String(view.pageSize));
  if (view.sort)
    params.set('sort', `${view.sort.column}:${view.sort.direction}`);
  return params;
}

/** The search query for a view, relative ranges resolved against `now`. */
export function toApiQuery(view: ExplorerView, now: Date): QueryPairs {
  const pairs: Array<[string, string]> = [];
  if (view.range.kind === 'preset') {
    const preset = RANGE_PRESETS.find(
      p => p.id === (view.range as { preset: RangePreset }).preset,
    )!;
    pairs.push([
      'start_time',
      new Date(now.getTime() - preset.ms).toISOString(),
    ]);
  } else {
    if (view.range.start) pairs.push(['start_time', view.range.start]);
    if (view.range.end) pairs.push(['end_time', view.range.end]);
  }
  for (const name of LIST_FILTERS) {
    for (const value of view.filters[name] ?? []) pairs.push([name, value]);
  }
  for (const [key, value] of view.metadata)
    pairs.push([`metadata.${key}`, value]);
  if (view.includeSelfAudit) pairs.push(['include_self_audit', 'true']);
  pairs.push(['page_size', String(view.pageSize)]);
  return pairs;
}

/** Values typed into one field: comma-separated, trimmed, empty ones dropped, order kept. */
export function splitValues(text: string): string[] {
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const value = part.trim();
    if (value) seen.add(value);
  }
  return [...seen];
}

/** A view with one filter value (or metadata pair) added; the explorer's links use it. */
export function withFilter(
  view: ExplorerView,
  name: ListFilter,
  value: string,
): ExplorerView {
  const current = view.filters[name] ?? [];
  return current.includes(value)
    ? view
    : { ...view, filters: { ...view.filters, [name]: [...current, value] } };
}

export function activeFilterCount(view: ExplorerView): number {
  return (
    LIST_FILTERS.reduce((n, name) => n + (view.filters[name]?.length ?? 0), 0) +
    view.metadata.length
  );
}
