/**
 * The default deployment (boot oneshot + hourly renewal timer with `check --exec-condition`) has no daemon
 * that renews the node token. check and bootstrap keep it alive themselves (plan/token-upkeep.ts): a first
 * lookup after the boot that issued, then renew-self once half of its TTL has passed. Here with a 10 s
 * periodic token against a real OpenBao, so the token must outlive its period to pass.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
import { writeTestNode } from '../support/node-setup.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { provisionTestPki, writePolicy } from '../support/vault-pki.js';

let vault: TestVault;
let work: string;
let config: string;

beforeAll(async () => {
  vault = await startOpenBao({ name: 'timer-token', audit: true });
  const pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'node', [`${pki.etcdMount}/member`]);
  work = mkdtempSync(join(tmpdir(), 'vpa-timer-token-'));
  ({ config } = await writeTestNode(vault, {
    work,
    policies: ['node'],
    period: '10s',
    certs: [{ name: 'etcd-peer', preset: 'etcd-peer' }],
  }));
});
afterAll(async () => {
  await vault?.stop();
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const state = () => JSON.parse(readFileSync(join(work, 'state', 'state.json'), 'utf8'));
/** What the renewal timer does: ExecCondition=check --exec-condition, then bootstrap when it says 0. */
async function timerTick(): Promise<{ ran: boolean; paths: string[] }> {
  vault.markAudit();
  const condition = await runAgent(['check', '--exec-condition', '--config', config]);
  if (condition.code !== 0) return { ran: false, paths: vault.auditedPaths() };
  const run = await runAgent(['bootstrap', '--config', config]);
  expect(run.code, run.stderr).toBe(0);
  // Token requests only: a pass over sets already on disk also reads the mount's CA (no token needed).
  const paths = vault.auditedPaths();
  expect(paths.filter((p) => /\/(sign|issue)\//.test(p))).toEqual([]);
  return { ran: true, paths: paths.filter((p) => p.startsWith('auth/')) };
}

describe('renewal timer keeps a periodic node token alive', () => {
  it('boot issues without a lookup; the next tick looks the token up; later ticks renew it past its period', async () => {
    const started = Date.now();
    vault.markAudit();
    expect((await runAgent(['bootstrap', '--config', config])).code).toBe(0);
    expect(vault.auditedPaths()).toEqual(['etcd/c1/pki/sign/member']);
    expect(state().token).toBeUndefined();

    const first = await timerTick();
    expect(first).toEqual({ ran: true, paths: ['auth/token/lookup-self'] });
    expect(state().token).toMatchObject({ renewable: true });
    expect(state().token.ttlSeconds).toBeLessThanOrEqual(10);

    // Before half the TTL: the timer skips (nothing due, no request).
    expect(await timerTick()).toEqual({ ran: false, paths: [] });

    let renewals = 0;
    while (Date.now() - started < 16_000) {
      await sleep(1_000);
      const tick = await timerTick();
      if (tick.ran) {
        expect(tick.paths).toEqual(['auth/token/renew-self']);
        renewals++;
      }
    }
    expect(renewals).toBeGreaterThanOrEqual(2);
    // 16 s after a 10 s token was made: still alive, because the ticks renewed it.
    const lookup = await vault.api('POST', 'auth/token/lookup', {
      token: readFileSync(join(work, 'token'), 'utf8').trim(),
    });
    expect(lookup.status).toBe(200);
    expect(Number(lookup.body.data?.ttl)).toBeGreaterThan(0);
  }, 40_000);

  it('a revoked token on a node with nothing due: exit 4 naming the token, and the pass is still recorded', async () => {
    const passBefore = state().lastPass.at;
    const token = readFileSync(join(work, 'token'), 'utf8').trim();
    expect((await vault.api('POST', 'auth/token/revoke', { token })).status).toBe(204);
    const run = await runAgent(['bootstrap', '--config', config]);
    expect(run.code, run.stderr).toBe(4);
    expect(run.stderr).toMatch(/token expired or revoked/);
    expect(run.stderr).not.toContain(token);
    // The certificates were fine: the pass is in the state file (status, metrics) before the run fails.
    expect(Date.parse(state().lastPass.at)).toBeGreaterThan(Date.parse(passBefore));
    expect(state().certificates['etcd-peer'].lastResult).toBe('up-to-date');
  });
});
