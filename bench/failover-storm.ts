/**
 * Boot storm with the active Vault node killed (the harness is test/support/failover-storm.ts).
 * `tsx bench/failover-storm.ts` (FAILOVER_AGENTS, default 300; FAILOVER_KILL_MS, default 1500) prints Markdown;
 * `npm run bench` runs it through bench/run.ts.
 */
import {
  type FailoverStormReport,
  prepareFailoverVault,
  runFailoverStorm,
} from '../test/support/failover-storm.js';
import { startOpenBaoCluster } from '../test/support/openbao-ha.js';

export function failoverTable(r: FailoverStormReport): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return [
    '| agents | success | p50 | max | gave up before deadline | killed | failover (kill → first sign) | finished before the kill | address failovers logged | retries by cause |',
    '|---|---|---|---|---|---|---|---|---|---|',
    `| ${r.agents} | ${r.succeeded}/${r.agents} | ${s(r.p50Ms)} | ${s(r.maxMs)} | ${r.gaveUpBeforeDeadline} | ${r.killedNode} at ${s(r.killedAtMs)} | ${s(r.failoverMs)} | ${r.finishedBeforeKill} | ${r.failoverLogs} | ${
      Object.entries(r.retriesByCause)
        .map(([c, n]) => `${n} × ${c}`)
        .join('; ') || 'none'
    } |`,
  ].join('\n');
}

export async function runFailoverBench(
  agents = Number(process.env.FAILOVER_AGENTS ?? 300),
  killAfterMs = Number(process.env.FAILOVER_KILL_MS ?? 1500),
): Promise<string> {
  const progress = (l: string) => process.stderr.write(`${l}\n`);
  const keepAlive = setInterval(() => {}, 1000);
  const ha = await startOpenBaoCluster({ name: 'failover-bench' });
  try {
    await prepareFailoverVault(ha);
    const r = await runFailoverStorm(ha, { agents, killAfterMs, progress });
    for (const o of r.outcomes.filter((x) => x.code !== 0 || !x.filesOk).slice(0, 5))
      progress(
        `failover storm: agent ${o.index} exit ${o.code ?? o.signal}: ${o.lastError ?? '(no error line)'}`,
      );
    return [
      `\n## Boot storm with the active Vault node killed (${agents} agents, three-node OpenBao Raft cluster over TLS)`,
      '',
      failoverTable(r),
      '',
      ...r.retrySamples.map((m) => `- retry cause, in full: ${m}`),
    ].join('\n');
  } finally {
    await ha.stop();
    clearInterval(keepAlive);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runFailoverBench());
}
