/**
 * Fault matrix (issue 7): SIGTERM while a set is being replaced.
 *  - `run`: SIGTERM arrives while the pass waits for Vault's certificate (held by the fault-injection
 *    proxy); the agent finishes the pass, writes the whole new set and exits 0.
 *  - `bootstrap` has no SIGTERM handler: it dies at once. Killed at a series of moments around the write,
 *    it must leave, every time, either the whole previous set or the whole new one, and the next
 *    bootstrap must complete normally.
 */
import { readdirSync, watch } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isGenerationName } from '../../src/files/layout.js';
import { startAgent } from '../support/agent.js';
import {
  bootstrappedFaultNode,
  checkSet,
  type FaultNode,
  REISSUE_CERTS,
  REISSUED_SAN,
  snapshotSets,
  startFaultVault,
} from '../support/fault-node.js';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import type { TestCert } from '../support/node-config.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;
let proxy: FaultProxy;
let node: FaultNode;

const SIGN = /\/sign\/member$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-sigterm' }));
  proxy = await startFaultProxy(vault.address);
});

afterAll(async () => {
  await proxy?.close();
  await vault?.stop();
});

beforeEach(async () => {
  proxy.clear();
  ({ node } = await bootstrappedFaultNode(vault, { address: proxy.address }));
  return () => node.cleanup();
});

describe('fault matrix: SIGTERM during a write', () => {
  it('run: SIGTERM while a pass is in progress: the pass finishes, the new set is whole, exit 0', async () => {
    node.writeConfig({ address: proxy.address, certs: REISSUE_CERTS });
    proxy.inject(SIGN, { kind: 'hold' });
    const agent = startAgent(['run', '--config', node.configFile]);
    try {
      await proxy.waitForHeld(1, 20_000);
      agent.kill('SIGTERM');
      // The agent must not leave while its pass is in progress.
      await sleep(500);
      expect(agent.stderr()).not.toMatch(/stopping/);
      proxy.release();
      const result = await Promise.race([
        agent.exited,
        sleep(20_000).then(() => {
          throw new Error('run did not exit after SIGTERM');
        }),
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/certificate written/);
      expect(result.stderr).toMatch(/stopping: the pass in progress finished/);
      const set = checkSet(node.dir('etcd-peer'));
      expect(set.complete, set.why).toBe(true);
      expect(set.sans).toContain(REISSUED_SAN);
    } finally {
      proxy.release();
      agent.kill('SIGKILL');
    }
  });

  it('bootstrap killed by SIGTERM around the write: always the whole old or the whole new set; the next run recovers', async () => {
    const dir = node.dir('etcd-peer');
    const outcomes: string[] = [];
    let previous = snapshotSets(node, ['etcd-peer']);
    // Moments: right after Vault's answer is released, and at the 1st..8th change the writer makes in the
    // set directory from its new generation on (generation written, link swaps, clean-up): before, during
    // and after the switch.
    const moments: ({ afterMs: number } | { atEvent: number })[] = [
      { afterMs: 0 },
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((atEvent) => ({ atEvent })),
    ];
    for (const [i, moment] of moments.entries()) {
      const san = `r${i}.node-1.example.internal`;
      const certs: TestCert[] = [{ name: 'etcd-peer', preset: 'etcd-peer', altNames: [san] }];
      node.writeConfig({ address: proxy.address, certs });
      proxy.inject(SIGN, { kind: 'hold' });
      let pid = 0;
      const terminate = () => {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already finished: that moment counts as "after the switch".
        }
      };
      // Count the writer's changes from the moment its new hidden generation appears (the lock
      // handling and the clean-up of earlier killed runs come before that and do not count).
      const existing = new Set(readdirSync(dir));
      let events = 0;
      const watcher = watch(dir, (_type, file) => {
        if (events === 0 && !(file && isGenerationName(file) && !existing.has(file))) return;
        events++;
        if ('atEvent' in moment && events === moment.atEvent) terminate();
      });
      const pending = node.bootstrap([], {
        onSpawn: (p) => {
          pid = p;
        },
      });
      await proxy.waitForHeld(1, 20_000);
      proxy.release();
      if ('afterMs' in moment) {
        await sleep(moment.afterMs);
        terminate();
      }
      const run = await pending;
      watcher.close();
      const label = 'afterMs' in moment ? `+${moment.afterMs}ms` : `event ${moment.atEvent}`;
      const set = checkSet(dir);
      expect(set.complete, `after SIGTERM at ${label}: ${set.why}`).toBe(true);
      const now = snapshotSets(node, ['etcd-peer']);
      const isNew = set.sans.includes(`DNS:${san}`);
      if (!isNew) expect(now, `after SIGTERM at ${label}: neither the old nor the new set`).toEqual(previous);
      outcomes.push(`${label}:${isNew ? 'new' : 'old'}:${run.signal ?? `exit ${run.code}`}`);
      previous = now;
    }
    // Leftovers of a killed run (lock, half-written generation) do not stop the next one.
    node.writeConfig({ address: proxy.address, certs: REISSUE_CERTS });
    const last = await node.bootstrap();
    expect(last.code, `${last.stderr}\n(outcomes: ${outcomes.join(', ')})`).toBe(0);
    const set = checkSet(dir);
    expect(set.complete, set.why).toBe(true);
    expect(set.sans).toContain(REISSUED_SAN);
    // The series landed on both sides of the switch, otherwise it proved nothing about the write.
    const sides = new Set(outcomes.map((o) => o.split(':')[1]));
    expect([...sides].sort(), outcomes.join(', ')).toEqual(['new', 'old']);
  });
});
