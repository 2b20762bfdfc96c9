/**
 * What `check` and `status` know without asking Vault: each set as read from disk, inspected against its
 * spec with the same fleet-jittered schedule `run` uses (the seed comes from the state file).
 */
import type { AgentConfig, CertSpec } from '../config/types.js';
import { readCertificateSet } from '../files/read-set.js';
import { findLeftovers } from '../files/set-directory.js';
import { decideSet, hostSchedule, type RenewalSchedule, type SetDecision } from '../plan/renewal.js';
import { type AgentState, loadState } from './state.js';

export interface LocalInspection {
  spec: CertSpec;
  inspection: SetDecision;
  /**
   * What a killed writer left in the set's directory (orphan generations, temporary links, stale locks) or a
   * directory still owned by someone else than root: the next run that writes or tidies the set removes it.
   */
  leftovers: string[];
}

/** This host's renewal schedule: its node name and the seed of its state file (`run` and `bootstrap` use it too). */
export function scheduleFor(config: AgentConfig, state: AgentState): RenewalSchedule {
  return hostSchedule(config.node?.name ?? 'unknown-host', state.seed);
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
      const inspection = decideSet({
        spec,
        files: { cert: reading.files.cert, key: reading.files.key, ca: reading.files.ca },
        now,
        schedule,
      });
      return { spec, inspection, leftovers };
    }),
  );
  return { state, results };
}
