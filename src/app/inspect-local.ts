/**
 * What `check` and `status` know without asking Vault: each set as read from disk, inspected against its
 * spec with the same fleet-jittered schedule `run` uses (the seed comes from the state file).
 */
import type { AgentConfig, CertSpec } from '../config/types.js';
import { readCertificateSet } from '../files/read-set.js';
import { findLeftovers } from '../files/set-directory.js';
import { inspectCertificateSet, type SetInspection } from '../pki/inspect-set.js';
import { renewalTime } from '../plan/schedule.js';
import { type AgentState, loadState } from './state.js';

export interface LocalInspection {
  spec: CertSpec;
  inspection: SetInspection;
  /**
   * What a killed writer left in the set's directory (orphan generations, temporary links, stale locks) or a
   * directory still owned by someone else than root: the next run that writes or tidies the set removes it.
   */
  leftovers: string[];
}

export function scheduleFor(config: AgentConfig, state: AgentState) {
  const hostId = config.node?.name ?? 'unknown-host';
  return (spec: CertSpec, notBefore: Date, notAfter: Date) =>
    renewalTime({
      notBefore,
      notAfter,
      renewAt: spec.renewAt,
      hostId,
      certName: spec.name,
      seed: state.seed,
    });
}

export async function inspectLocally(
  config: AgentConfig,
  now: Date,
): Promise<{ state: AgentState; results: LocalInspection[] }> {
  const { state } = await loadState(config.stateDir);
  const schedule = scheduleFor(config, state);
  const results = await Promise.all(
    config.certificates.map(async (spec) => {
      const reading = await readCertificateSet(spec.files);
      // Read-only, like the rest of check/status: a directory that cannot be listed has nothing to report.
      const leftovers = await findLeftovers(spec.files).catch(() => [] as string[]);
      const inspection = inspectCertificateSet({
        current: { cert: reading.files.cert, key: reading.files.key, ca: reading.files.ca },
        spec,
        now,
        renewAtTime: (nb, na) => schedule(spec, nb, na),
      });
      return { spec, inspection, leftovers };
    }),
  );
  return { state, results };
}
