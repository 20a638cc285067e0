import { Button, Text } from '@backstage/ui';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import {
  parseView,
  toApiQuery,
  viewToParams,
  type ExplorerView,
  type ListFilter,
} from '../api/filters';
import { ActiveFilters } from './ActiveFilters';
import { useAuditLogApi, useBasePath, useIdentity } from './AuditLogProvider';
import { ErrorAlert } from './ErrorAlert';
import { EventTable } from './EventTable';
import { ExportButtons } from './ExportButtons';
import { FilterBar } from './FilterBar';

export interface EventExplorerProps {
  /** Filters the user cannot change, e.g. an entity tab's `service_name`. */
  lockedFilters?: Partial<Record<ListFilter, string[]>>;
}

/**
 * Search with every filter, a time range, cursor paging, sortable columns and export. The view
 * lives in the URL; pages are a stack of cursors (the API pages forwards only, newest first).
 */
export function EventExplorer({ lockedFilters = {} }: EventExplorerProps) {
  const api = useAuditLogApi();
  const basePath = useBasePath();
  const identity = useIdentity();
  const [params, setParams] = useSearchParams();
  const search = params.toString();
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const view = useMemo(() => parseView(new URLSearchParams(search)), [search]);
  const setView = (next: ExplorerView) => setParams(viewToParams(next));

  const effective = useMemo<ExplorerView>(
    () => ({ ...view, filters: { ...view.filters, ...lockedFilters } }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [view, JSON.stringify(lockedFilters)],
  );
  // The sort is applied to the loaded page; it is not part of the API query.
  const queryIdentity = JSON.stringify({ ...effective, sort: null });
  const [refreshed, setRefreshed] = useState(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const apiQuery = useMemo(
    () => toApiQuery(effective, new Date()),
    [queryIdentity, refreshed],
  );
  const apiQueryKey = JSON.stringify(apiQuery);

  const [paging, setPaging] = useState<{
    key: string;
    cursors: Array<string | undefined>;
  }>({
    key: apiQueryKey,
    cursors: [undefined],
  });
  const cursors = paging.key === apiQueryKey ? paging.cursors : [undefined];
  const cursor = cursors[cursors.length - 1];

  const page = useQuery({
    queryKey: ['audit-log', 'events', apiQueryKey, cursor ?? null],
    queryFn: ({ signal }) =>
      api.searchEvents(apiQuery, { pageToken: cursor, signal }),
    placeholderData: keepPreviousData,
  });
  const [exportError, setExportError] = useState<Error | null>(null);

  const older = () => {
    const token = page.data?.next_page_token;
    if (token) setPaging({ key: apiQueryKey, cursors: [...cursors, token] });
  };
  const newer = () =>
    setPaging({ key: apiQueryKey, cursors: cursors.slice(0, -1) });
  const refresh = () => {
    setPaging({ key: '', cursors: [undefined] });
    setRefreshed(n => n + 1);
  };

  const events = page.data?.events;
  const pageNumber = cursors.length;
  const first = (pageNumber - 1) * view.pageSize + 1;

  return (
    <section
      className="al-root"
      aria-label="Event explorer"
      data-testid="event-explorer"
    >
      <FilterBar
        view={view}
        locked={lockedFilters}
        // Through the backend plugin the tenant is the one mapped to the user, not a filter.
        hidden={identity.data ? ['tenant_id'] : []}
        onApply={setView}
      />
      <ActiveFilters view={view} locked={lockedFilters} onChange={setView} />
      <div className="al-toolbar">
        <Text
          variant="body-medium"
          color="secondary"
          data-testid="page-summary"
        >
          {events
            ? events.length
              ? `Events ${first}–${first + events.length - 1}${
                  page.data?.next_page_token ? ', more older' : ''
                }`
              : 'No events'
            : 'Loading…'}
          {view.sort ? ' · sorted within this page' : ' · newest first'}
        </Text>
        <span className="al-toolbar-spacer" />
        <Button variant="tertiary" onPress={refresh}>
          Refresh
        </Button>
        <ExportButtons query={apiQuery} onError={setExportError} />
      </div>
      {exportError && <ErrorAlert error={exportError} title="Export failed" />}
      {page.error && <ErrorAlert error={page.error} />}
      <EventTable
        events={page.error ? [] : events}
        sort={view.sort}
        onSortChange={sort => setView({ ...view, sort })}
        basePath={basePath}
        isPending={page.isFetching}
      />
      <nav className="al-pager" aria-label="Pages">
        <Text variant="body-small" color="secondary">
          Page {pageNumber}
        </Text>
        <Button
          variant="secondary"
          isDisabled={pageNumber === 1}
          onPress={newer}
        >
          Newer
        </Button>
        <Button
          variant="secondary"
          isDisabled={!page.data?.next_page_token || page.isPlaceholderData}
          onPress={older}
        >
          Older
        </Button>
      </nav>
    </section>
  );
}
