/**
 * Fault matrix (issue 7): a sealed Vault. Sealed for 20 s while the agent re-issues with --timeout 60s:
 * it waits (retries with backoff) and succeeds once unsealed. Sealed past --timeout: exit 5 saying
 * "sealed", the previous set intact. Real OpenBao, sealed and unsealed through sys/seal and sys/unseal.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bootstrappedFaultNode,
  checkSet,
  type FaultNode,
  REISSUE_CERTS,
  REISSUED_SAN,
  type SetSnapshot,
  snapshotSets,
  startFaultVault,
} from '../support/fault-node.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;
let node: FaultNode;
let before: SetSnapshot;

async function isSealed(): Promise<boolean> {
  const res = await vault.api('GET', 'sys/seal-status', undefined, { allowError: true });
  return res.body.sealed === true;
}

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-sealed' }));
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  ({ node, before } = await bootstrappedFaultNode(
    vault,
    { address: vault.address },
    { next: { address: vault.address, certs: REISSUE_CERTS } },
  ));
  return async () => {
    if (await isSealed()) await vault.unseal();
    node.cleanup();
  };
});

describe('fault matrix: Vault sealed', () => {
  it('sealed for 20 s with --timeout 60s: the agent waits, then re-issues the set (exit 0)', async () => {
    await vault.seal();
    expect(await isSealed()).toBe(true);
    const started = Date.now();
    const pending = node.bootstrap(['--timeout', '60s'], { timeoutMs: 90_000 });
    await new Promise((r) => setTimeout(r, 20_000));
    await vault.unseal();
    const run = await pending;
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(0);
    expect(elapsed).toBeGreaterThanOrEqual(20_000);
    // It said why it waited.
    expect(run.stderr).toMatch(/vault request failed, retrying.*is sealed/);
    const set = checkSet(node.dir('etcd-peer'));
    expect(set.complete, set.why).toBe(true);
    expect(set.sans).toContain(REISSUED_SAN);
  }, 90_000);

  it('sealed past --timeout: exit 5 "sealed"; the previous set is intact', async () => {
    await vault.seal();
    const started = Date.now();
    const run = await node.bootstrap(['--timeout', '3s']);
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(
      /level=error .*Vault at http:\/\/127\.0\.0\.1:\d+ is sealed \(gave up after \d+ attempts: deadline reached\)/,
    );
    expect(elapsed).toBeLessThan(3_000 + 6_000);
    // It kept trying for the whole --timeout (the last backoff is cut short to a final attempt).
    expect(elapsed).toBeGreaterThanOrEqual(3_000);
    expect(snapshotSets(node)).toEqual(before);
  });
});
