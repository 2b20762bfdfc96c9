/** After every pass: the state file (for `status`) and the metrics textfile (for node_exporter). */
import type { AgentConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { renderMetrics } from '../metrics/render.js';
import { writeMetricsFile } from '../metrics/textfile.js';
import type { MetricsSnapshot } from '../metrics/types.js';
import { type AgentState, saveState } from './state.js';

const date = (iso: string | undefined) => (iso ? new Date(iso) : undefined);

export function metricsSnapshot(config: AgentConfig, state: AgentState, now: Date): MetricsSnapshot {
  const token = state.token;
  return {
    certificates: config.certificates.map((spec) => {
      const c = state.certificates[spec.name];
      return {
        name: spec.name,
        mount: spec.mount,
        role: spec.role,
        notAfter: date(c?.notAfter),
        renewalTime: date(c?.renewalTime),
        lastSuccess: date(c?.lastSuccess),
        issueFailuresTotal: c?.issueFailures ?? 0,
        rollbacksTotal: c?.rollbacks ?? 0,
        upToDate: c?.lastResult === 'up-to-date' || c?.lastResult === 'issued',
      };
    }),
    tokenTtlSeconds: token
      ? token.ttlSeconds === 0
        ? 0
        : Math.max(0, Math.round(token.ttlSeconds - (now.getTime() - Date.parse(token.checkedAt)) / 1000))
      : undefined,
    lastPass: date(state.lastPass?.at),
    lastPassSuccess: state.lastPass?.success,
    vaultRequestsTotal: state.vaultRequestsTotal,
    clockSkewSeconds: state.lastPass?.clockSkewSeconds,
  };
}

/** Never fails the pass: a full disk for the state file must not stop certificates from renewing. */
export async function publishState(config: AgentConfig, state: AgentState, log: Logger): Promise<void> {
  await saveState(config.stateDir, state).catch((error: unknown) =>
    log.error('cannot save state', { dir: config.stateDir, error: (error as Error).message }),
  );
  if (!config.metrics) return;
  const file = config.metrics.textfile;
  await writeMetricsFile(file, renderMetrics(metricsSnapshot(config, state, new Date()))).catch(
    (error: unknown) => log.error('cannot write metrics', { file, error: (error as Error).message }),
  );
}
