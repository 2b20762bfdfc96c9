/**
 * A CI-sized boot storm with the leader killed (bench/failover-storm.ts at full size runs in `npm run bench`):
 * 16 agent processes bootstrap at once against a real three-node OpenBao cluster, every one listing the active
 * node first, and the active node is SIGKILLed while they run. Every agent must end with its four sets, none may
 * give up before its deadline, and the agents must have moved to the other nodes (not merely waited).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FailoverStormReport,
  prepareFailoverVault,
  runFailoverStorm,
} from '../support/failover-storm.js';
import { type HaTestVault, startOpenBaoCluster } from '../support/openbao-ha.js';

const AGENTS = 16;
let ha: HaTestVault;
let report: FailoverStormReport;

beforeAll(async () => {
  ha = await startOpenBaoCluster({ name: 'failover-storm' });
  await prepareFailoverVault(ha);
  report = await runFailoverStorm(ha, { agents: AGENTS, killAfterMs: 600, timeout: '3m' });
}, 300_000);

afterAll(async () => {
  await ha?.stop();
});

describe(`boot storm of ${AGENTS} agents with the active Vault node killed`, () => {
  it('every agent gets all four certificate sets and none gives up', () => {
    const failed = report.outcomes
      .filter((o) => o.code !== 0 || !o.filesOk)
      .map((o) => ({ agent: o.index, exit: o.code ?? o.signal, error: o.lastError }));
    expect(failed).toEqual([]);
    expect(report.succeeded).toBe(AGENTS);
    expect(report.gaveUpBeforeDeadline).toBe(0);
  });

  it('the kill hit the storm, and the agents failed over to the surviving nodes', () => {
    // Not vacuous: agents were still bootstrapping when the active node died.
    expect(report.finishedBeforeKill).toBeLessThan(AGENTS);
    expect(report.failoverLogs).toBeGreaterThan(0);
    const killed = ha.nodes.find((n) => n.id === report.killedNode)!.address;
    const served = report.outcomes.flatMap((o) =>
      o.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg?: string; address?: string })
        .filter((l) => l.msg === 'vault address serving')
        .map((l) => l.address),
    );
    expect(served.some((a) => a !== killed)).toBe(true);
    expect(Number.isFinite(report.failoverMs)).toBe(true);
  });
});
