import { Button } from '@backstage/ui';
import { useState } from 'react';
import type { ExportFormat, QueryPairs } from '../api/types';
import { useAuditLogApi } from './AuditLogProvider';

const EXTENSIONS: Record<ExportFormat, string> = { csv: 'csv', json: 'ndjson' };

function download(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = filename;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Exports every event the current filters match (not only the loaded page). */
export function ExportButtons({
  query,
  onError,
}: {
  query: QueryPairs;
  onError: (error: Error | null) => void;
}) {
  const api = useAuditLogApi();
  const [busy, setBusy] = useState<ExportFormat | null>(null);
  const run = async (format: ExportFormat) => {
    setBusy(format);
    onError(null);
    try {
      const blob = await api.exportEvents(query, format);
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      download(blob, `audit-events-${stamp}.${EXTENSIONS[format]}`);
    } catch (error) {
      onError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      <Button
        variant="secondary"
        isPending={busy === 'csv'}
        onPress={() => run('csv')}
      >
        Export CSV
      </Button>
      <Button
        variant="secondary"
        isPending={busy === 'json'}
        onPress={() => run('json')}
      >
        Export JSON
      </Button>
    </>
  );
}
