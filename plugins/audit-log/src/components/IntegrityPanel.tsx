import { configApiRef, useApi } from '@backstage/core-plugin-api';
import { Card, CardBody, CardHeader, Text } from '@backstage/ui';
import { useQuery } from '@tanstack/react-query';
import { AuditLogApiError } from '../api/AuditLogApi';
import { overall, verifyCheckpoint } from '../integrity/verify';
import { ErrorAlert } from './ErrorAlert';
import { formatAge, formatTime } from './format';
import { CheckList, InclusionCheck, VerdictBadge } from './Verification';
import { useAuditLogApi } from './AuditLogProvider';
import { readWitnessPolicy } from './witnessPolicy';

/**
 * The tenant's latest signed checkpoint, its signature and signed note checked here with Web
 * Crypto (with the witnesses' cosignatures when the app configures `auditLog.witnesses`), and
 * an inclusion check for any event. See docs/INTEGRITY.md for what is verified.
 */
export function IntegrityPanel() {
  const api = useAuditLogApi();
  const config = useApi(configApiRef);
  const latest = useQuery({
    queryKey: ['audit-log', 'checkpoint', 'latest'],
    queryFn: async ({ signal }) => {
      const [checkpoint, keys] = await Promise.all([
        api.getLatestCheckpoint({ signal }),
        api.getPublicKeys({ signal }),
      ]);
      const witnesses = readWitnessPolicy(config);
      const checks = await verifyCheckpoint(checkpoint, keys, witnesses);
      return { checkpoint, checks, verdict: overall(checks) };
    },
    retry: false,
  });
  const missing =
    latest.error instanceof AuditLogApiError && latest.error.status === 404;
  return (
    <section
      className="al-root"
      aria-label="Integrity"
      data-testid="integrity-panel"
    >
      <Card>
        <CardHeader>
          <Text as="h2" variant="title-x-small">
            Latest signed checkpoint
          </Text>
        </CardHeader>
        <CardBody>
          {latest.isPending && <VerdictBadge verdict="pending" />}
          {missing && (
            <Text as="p" color="secondary">
              This server publishes no checkpoints (its integrity endpoints are
              missing or no event has been sequenced yet).
            </Text>
          )}
          {latest.error && !missing && <ErrorAlert error={latest.error} />}
          {latest.data && (
            <>
              <Text as="p">
                Checkpoint: <VerdictBadge verdict={latest.data.verdict} />
              </Text>
              <dl className="al-fields" data-testid="checkpoint-fields">
                <dt>tenant_id</dt>
                <dd className="al-mono">{latest.data.checkpoint.tenant_id}</dd>
                <dt>tree_size</dt>
                <dd className="al-mono">{latest.data.checkpoint.tree_size}</dd>
                <dt>root_hash</dt>
                <dd className="al-mono">{latest.data.checkpoint.root_hash}</dd>
                <dt>timestamp</dt>
                <dd>
                  <span className="al-mono">
                    {latest.data.checkpoint.timestamp}
                  </span>{' '}
                  ({formatTime(latest.data.checkpoint.timestamp)},{' '}
                  {formatAge(latest.data.checkpoint.timestamp)}; an old
                  checkpoint means the log stopped growing or its tail was cut)
                </dd>
                <dt>key_id</dt>
                <dd className="al-mono">{latest.data.checkpoint.key_id}</dd>
              </dl>
              <CheckList checks={latest.data.checks} />
            </>
          )}
        </CardBody>
      </Card>
      <Card>
        <CardHeader>
          <Text as="h2" variant="title-x-small">
            Check an event
          </Text>
        </CardHeader>
        <CardBody>
          <InclusionCheck />
        </CardBody>
      </Card>
    </section>
  );
}
