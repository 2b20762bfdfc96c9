/**
 * Issue 13, point 6: two bootstraps at once (cloud-init and a timer, or an operator). The built agent against
 * the real OpenBao dev server: a writer that finds a set locked by a live process waits for it (bounded by
 * --timeout), then re-reads the set and does only what is still needed.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockDirectory } from '../../src/files/layout.js';
import { checkSet, createFaultNode, FAULT_CERTS, startFaultVault } from '../support/fault-node.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'concurrent-bootstrap' }));
});

afterAll(async () => {
  await vault?.stop();
});

const generations = (dir: string) => readdirSync(dir).filter((n) => /^\.\.\d{4}_/.test(n));

describe('concurrent bootstraps', () => {
  it('two bootstraps started together while another process holds a set lock: both wait, both exit 0, one generation per set', async () => {
    const node = await createFaultNode(vault, 'vpa-concurrent-');
    try {
      node.writeConfig({ address: vault.address });
      // A live process (this test) holds etcd-peer's lock for 2 s: both bootstraps find it locked.
      const held = node.dir('etcd-peer');
      mkdirSync(held, { recursive: true, mode: 0o750 });
      const release = await lockDirectory(held);
      const releasing = new Promise((resolve) => setTimeout(resolve, 2_000)).then(release);
      const started = Date.now();
      const [one, two] = await Promise.all([node.bootstrap(), node.bootstrap()]);
      await releasing;
      for (const run of [one, two]) expect(run.code, run.stderr).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_900); // they did wait for the lock
      for (const { name } of FAULT_CERTS) {
        const check = checkSet(node.dir(name));
        expect(check.complete, `${name}: ${check.why}`).toBe(true);
      }
      // The second writer re-read the set under the lock and kept the first one's: no second switch.
      expect(generations(held)).toHaveLength(1);
      expect(`${one.stderr}${two.stderr}`).toContain('another process wrote this set meanwhile; keeping it');
    } finally {
      node.cleanup();
    }
  }, 90_000);

  it('two bootstraps of a fresh node started together: both exit 0 with whole sets', async () => {
    const node = await createFaultNode(vault, 'vpa-concurrent-');
    try {
      node.writeConfig({ address: vault.address });
      const runs = await Promise.all([node.bootstrap(), node.bootstrap()]);
      for (const run of runs) expect(run.code, run.stderr).toBe(0);
      for (const { name } of FAULT_CERTS) {
        const check = checkSet(node.dir(name));
        expect(check.complete, `${name}: ${check.why}`).toBe(true);
      }
    } finally {
      node.cleanup();
    }
  }, 90_000);

  it('a lock held past --timeout: waits until the deadline, then exit 6 naming the holder', async () => {
    const node = await createFaultNode(vault, 'vpa-concurrent-');
    try {
      node.writeConfig({ address: vault.address });
      const held = node.dir('etcd-peer');
      mkdirSync(held, { recursive: true, mode: 0o750 });
      const release = await lockDirectory(held);
      try {
        const started = Date.now();
        const run = await node.bootstrap(['--timeout', '3s']);
        const took = Date.now() - started;
        expect(run.code, run.stderr).toBe(6);
        expect(run.stderr).toContain(`is being written by process ${process.pid}`);
        expect(took).toBeGreaterThanOrEqual(2_500);
        expect(took).toBeLessThan(20_000);
        // The other set was written meanwhile.
        expect(checkSet(node.dir('kubelet-client')).complete).toBe(true);
      } finally {
        await release();
      }
    } finally {
      node.cleanup();
    }
  }, 90_000);
});
