import { configApiRef, useApi } from '@backstage/core-plugin-api';
import { Button, Text, TextField } from '@backstage/ui';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { AuditLogApiError } from '../api/AuditLogApi';
import type { Check, Verdict, VerificationResult } from '../integrity/verify';
import { verifyInclusion } from '../integrity/verify';
import { ErrorAlert } from './ErrorAlert';
import { useAuditLogApi } from './AuditLogProvider';
import { readWitnessPolicy } from './witnessPolicy';

const LABELS: Record<Verdict | 'pending', string> = {
  verified: '✓ Verified',
  failed: '✗ Not verified',
  unsupported: '? Cannot verify here',
  pending: '… Verifying',
};

export function VerdictBadge({ verdict }: { verdict: Verdict | 'pending' }) {
  return (
    <span
      className={`al-verdict al-verdict--${verdict}`}
      data-verdict={verdict}
      role="status"
    >
      {LABELS[verdict]}
    </span>
  );
}

export function CheckList({ checks }: { checks: Check[] }) {
  return (
    <ul className="al-checks">
      {checks.map(check => (
        <li key={check.name}>
          <VerdictBadge verdict={check.verdict} /> <strong>{check.name}</strong>
          : {check.detail}
        </li>
      ))}
    </ul>
  );
}

/**
 * Fetches an event's inclusion proof and the public keys, and verifies both in the browser
 * (the proof's checkpoint under the app's witness policy, if it has one).
 */
export function InclusionCheck({
  auditId,
  tenantId,
}: {
  auditId?: string;
  tenantId?: string;
}) {
  const api = useAuditLogApi();
  const config = useApi(configApiRef);
  const [typed, setTyped] = useState('');
  const check = useMutation<VerificationResult, Error, string>({
    mutationFn: async id => {
      const [proof, keys] = await Promise.all([
        api.getEventProof(id, { tenantId }),
        api.getPublicKeys(),
      ]);
      return verifyInclusion(proof, keys, readWitnessPolicy(config));
    },
  });
  const target = auditId ?? typed.trim();
  return (
    <div data-testid="inclusion-check">
      <div className="al-toolbar">
        {auditId === undefined && (
          <TextField
            label="Audit id"
            placeholder="an event's audit_id"
            value={typed}
            onChange={setTyped}
          />
        )}
        <Button
          variant="secondary"
          isDisabled={!target}
          isPending={check.isPending}
          onPress={() => check.mutate(target)}
        >
          Verify inclusion proof
        </Button>
      </div>
      {check.error instanceof AuditLogApiError &&
      check.error.code === 'not_sequenced' ? (
        <Text as="p" color="secondary" role="status">
          Not in the log yet: the event is waiting to be sequenced
          {check.error.retryAfterSeconds
            ? ` (try again in ${check.error.retryAfterSeconds} s)`
            : ''}
          .
        </Text>
      ) : (
        check.error && <ErrorAlert error={check.error} title="No proof" />
      )}
      {check.data && (
        <div style={{ marginTop: 8 }}>
          <Text as="p">
            Inclusion of <span className="al-mono">{check.variables}</span>:{' '}
            <VerdictBadge verdict={check.data.verdict} />
          </Text>
          <CheckList checks={check.data.checks} />
        </div>
      )}
    </div>
  );
}
