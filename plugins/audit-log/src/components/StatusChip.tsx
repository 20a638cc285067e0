const KNOWN: Record<string, string> = {
  success: 'success',
  ok: 'success',
  failure: 'failure',
  failed: 'failure',
  error: 'failure',
  denied: 'denied',
  forbidden: 'denied',
};

/** An event's outcome as a coloured chip: green success, red failure, amber denied, blue else. */
export function StatusChip({ status }: { status: string }) {
  const kind = KNOWN[status.toLowerCase()] ?? 'other';
  return (
    <span className={`al-status al-status--${kind}`} data-status={kind}>
      {status}
    </span>
  );
}
