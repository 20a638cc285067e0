import type { ConfigApi } from '@backstage/core-plugin-api';
import type { WitnessPolicyConfig } from '../integrity/verify';

/**
 * `auditLog.witnesses` of the app config (config.d.ts), or undefined when it is absent: then
 * checkpoints are verified without a witness check, as before witnesses existed. Read when a
 * verification runs, so that a mistyped value shows as that verification's error.
 */
export function readWitnessPolicy(
  config: ConfigApi,
): WitnessPolicyConfig | undefined {
  const witnesses = config.getOptionalConfig('auditLog.witnesses');
  if (!witnesses) return undefined;
  return {
    keys: witnesses.getStringArray('keys'),
    quorum: witnesses.getOptionalNumber('quorum'),
  };
}
