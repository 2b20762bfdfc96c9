/**
 * Fleet boot storm benchmark (the harness is test/support/storm.ts): N agents without, then with, a rate-limit
 * quota. `tsx bench/storm.ts` (STORM_AGENTS, default 300; STORM_RATE, default 50/s) prints Markdown;
 * `npm run bench` runs it through bench/run.ts.
 */
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { startOpenBao, type TestVault, vaultVersion } from '../test/support/openbao.js';
import { prepareStormVault, runStorm, type StormReport } from '../test/support/storm.js';

export function stormTable(reports: StormReport[]): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rows = reports.map((r) =>
    [
      r.quota ? `rate limit ${r.quota.rate} / ${r.quota.interval}` : 'no quota',
      `${r.succeeded}/${r.agents} (${((100 * r.succeeded) / r.agents).toFixed(0)}%)`,
      s(r.p50Ms),
      s(r.p99Ms),
      s(r.maxMs),
      `${r.auditedRequests}`,
      `${r.wireRequests} (${r.wire429} × 429)`,
      `${r.agentRequests}`,
      `${r.agentRetries}`,
      `${r.retryAfter.checked - r.retryAfter.violations.length}/${r.retryAfter.checked}`,
      `${r.gaveUp} (${r.gaveUpBeforeDeadline} before deadline)`,
    ].join(' | '),
  );
  return [
    "| run | success | p50 | p99 | max | audited requests | HTTP requests on the wire | agents' vault_requests | agents' retries | retries after 429 waiting ≥ Retry-After | gave up |",
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

/** `npm run bench` section: N agents without, then with, the rate-limit quota. */
export async function runStormBench(
  agents = Number(process.env.STORM_AGENTS ?? 300),
  rate = Number(process.env.STORM_RATE ?? 50),
): Promise<string> {
  const vault = await startOpenBao({ name: 'storm', audit: true });
  const progress = (l: string) => process.stderr.write(`${l}\n`);
  try {
    await prepareStormVault(vault);
    const reports: StormReport[] = [];
    // OpenBao's Retry-After is the whole seconds left in the window, rounded down: always 0 for a 1 s
    // window. The same average rate over a 2 s window also sends Retry-After: 1.
    for (const quota of [undefined, { rate, interval: '1s' }, { rate: 2 * rate, interval: '2s' }]) {
      const work = join(tmpdir(), `vpa-storm-${process.pid}`);
      const r = await runStorm({ vault, agents, work, quota, progress });
      progress(`storm: done, ${r.succeeded}/${r.agents} ok`);
      for (const o of r.outcomes.filter((x) => x.code !== 0 || !x.filesOk).slice(0, 5))
        progress(`storm: agent ${o.index} exit ${o.code ?? o.signal}: ${o.lastError ?? '(no error line)'}`);
      reports.push(r);
    }
    const lines = [
      `\n## Fleet boot storm (${agents} agent processes released together)`,
      `machine: ${cpus().length} × ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${vaultVersion().split(' (')[0]}; all ${agents} released at once, no concurrency limit`,
      '',
      stormTable(reports),
      '',
      '| run | CPU of all agents | CPU of OpenBao | agent peak RSS (median / max) | retries by cause |',
      '|---|---|---|---|---|',
      ...reports.map(
        (r) =>
          `| ${r.quota ? `rate limit ${r.quota.rate} / ${r.quota.interval}` : 'no quota'} | ${r.agentsCpuS.toFixed(1)} s | ${r.vaultCpuS.toFixed(1)} s | ${r.medianRssMb.toFixed(0)} / ${r.maxRssMb.toFixed(0)} MB | ${
            Object.entries(r.retryCauses)
              .map(([cause, n]) => `${n} × ${cause}`)
              .join('; ') || 'none'
          } |`,
      ),
    ];
    for (const q of reports.filter((r) => r.quota))
      lines.push(
        '',
        `With the quota ${q.quota?.rate} / ${q.quota?.interval}: largest Retry-After sent ${q.maxRetryAfterS} s, ${q.retryAfter.nonZero} of the retried 429s said Retry-After ≥ 1 s${q.retryAfter.nonZero > 0 ? ` (smallest margin between a 429 and its retry beyond Retry-After: ${q.retryAfter.minSlackMs.toFixed(0)} ms)` : ''}; ${q.retryAfter.violations.length} retries came more than 50 ms sooner than Retry-After allowed.`,
      );
    return lines.join('\n');
  } finally {
    await stopVault(vault);
  }
}

/** The OpenBao guard is unref'd: keep the event loop alive until it has really stopped. */
export async function stopVault(vault: TestVault): Promise<void> {
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await vault.stop();
  } finally {
    clearInterval(keepAlive);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runStormBench());
}
