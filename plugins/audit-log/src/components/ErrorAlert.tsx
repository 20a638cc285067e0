import { Alert } from '@backstage/ui';
import { AuditLogApiError } from '../api/AuditLogApi';

/** The service's error envelope, readable: message, each field's problem, the request id. */
export function ErrorAlert({ error, title }: { error: Error; title?: string }) {
  const apiError = error instanceof AuditLogApiError ? error : null;
  const details = apiError?.details
    .map(d => `${d.field}: ${d.problem}`)
    .join('; ');
  return (
    <Alert
      status="danger"
      icon
      title={
        title ??
        (apiError ? `${apiError.status} ${apiError.code}` : 'Request failed')
      }
      description={
        <span role="alert">
          {error.message}
          {details ? ` (${details})` : ''}
          {apiError?.requestId ? ` · request ${apiError.requestId}` : ''}
        </span>
      }
    />
  );
}
