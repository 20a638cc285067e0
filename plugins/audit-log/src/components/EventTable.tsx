import {
  Cell,
  CellText,
  Table,
  type ColumnConfig,
  type SortDescriptor,
} from '@backstage/ui';
import { useMemo } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import type { Sort, SortColumn } from '../api/filters';
import { SORTABLE_COLUMNS } from '../api/filters';
import type { AuditEvent } from '../api/types';
import { formatTime, shortId } from './format';
import { StatusChip } from './StatusChip';

type Row = AuditEvent & { id: string };

/** The loaded page in the chosen order; ties keep the service's order (newest first). */
export function sortEvents(
  events: AuditEvent[],
  sort: Sort | null,
): AuditEvent[] {
  if (!sort) return events;
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const key = (e: AuditEvent) =>
    sort.column === 'timestamp'
      ? Date.parse(e.timestamp)
      : e[sort.column] ?? '';
  return events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => {
      const x = key(a.event);
      const y = key(b.event);
      const order =
        typeof x === 'number' && typeof y === 'number'
          ? x - y
          : String(x).localeCompare(String(y));
      return order !== 0 ? sign * order : a.index - b.index;
    })
    .map(({ event }) => event);
}

export function EventTable({
  events,
  sort,
  onSortChange,
  basePath,
  isPending,
  error,
}: {
  events: AuditEvent[] | undefined;
  sort: Sort | null;
  onSortChange: (sort: Sort) => void;
  basePath: string;
  isPending?: boolean;
  error?: Error;
}) {
  const navigate = useNavigate();
  const detailPath = (id: string) =>
    `${basePath}/events/${encodeURIComponent(id)}`;
  const columns = useMemo<ColumnConfig<Row>[]>(
    () => [
      {
        id: 'timestamp',
        label: 'Time',
        isSortable: true,
        isRowHeader: true,
        minWidth: 200,
        cell: e => (
          <Cell>
            <Link
              className="al-link"
              to={detailPath(e.audit_id)}
              title={e.timestamp}
              data-audit-id={e.audit_id}
            >
              {formatTime(e.timestamp)}
            </Link>
          </Cell>
        ),
      },
      {
        id: 'event_type',
        label: 'Event type',
        isSortable: true,
        cell: e => <CellText title={e.event_type} />,
      },
      {
        id: 'user_id',
        label: 'User',
        isSortable: true,
        cell: e => <CellText title={e.user_id} />,
      },
      {
        id: 'resource_type',
        label: 'Resource',
        isSortable: true,
        cell: e => (
          <CellText
            title={e.resource_type}
            description={e.resource_id ?? undefined}
          />
        ),
      },
      {
        id: 'action',
        label: 'Action',
        isSortable: true,
        cell: e => <CellText title={e.action} />,
      },
      {
        id: 'status',
        label: 'Status',
        isSortable: true,
        cell: e => (
          <Cell>
            <StatusChip status={e.status} />
          </Cell>
        ),
      },
      {
        id: 'service_name',
        label: 'Service',
        isSortable: true,
        cell: e => <CellText title={e.service_name ?? '—'} />,
      },
      {
        id: 'audit_id',
        label: 'Audit id',
        cell: e => (
          <Cell>
            <span className="al-mono" title={e.audit_id}>
              {shortId(e.audit_id)}
            </span>
          </Cell>
        ),
      },
    ],
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [basePath],
  );
  const rows = useMemo(
    () =>
      events
        ? sortEvents(events, sort).map(e => ({ ...e, id: e.audit_id }))
        : undefined,
    [events, sort],
  );
  const descriptor: SortDescriptor | null = sort
    ? { column: sort.column, direction: sort.direction }
    : null;
  return (
    <Table<Row>
      columnConfig={columns}
      data={rows}
      isPending={isPending}
      error={error}
      pagination={{ type: 'none' }}
      sort={{
        descriptor,
        onSortChange: d => {
          const column = String(d.column) as SortColumn;
          if ((SORTABLE_COLUMNS as readonly string[]).includes(column)) {
            onSortChange({ column, direction: d.direction });
          }
        },
      }}
      rowConfig={{ onClick: e => navigate(detailPath(e.audit_id)) }}
      emptyState={
        <div style={{ padding: 24 }}>
          No events match these filters in this time range.
        </div>
      }
    />
  );
}
