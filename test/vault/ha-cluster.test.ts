/**
 * The HA test Vault itself (test/support/openbao-ha.ts): three real OpenBao nodes with Raft storage over TLS.
 * The agent's failover tests build on what this shows: one active node, standbys that answer 429 on
 * sys/health, replicated PKI state, and a new active node after the active one is killed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HaTestVault, startOpenBaoCluster } from '../support/openbao-ha.js';

let ha: HaTestVault;
beforeAll(async () => {
  ha = await startOpenBaoCluster({ name: 'ha-cluster' });
}, 120_000);
afterAll(async () => {
  await ha?.stop();
  // Global teardown also fails the run if any guarded server survives.
  expect(ha.nodes.map((n) => n.running())).toEqual([false, false, false]);
});

describe('three-node OpenBao cluster (Raft, TLS)', () => {
  it('has one active node and two standbys, each on its own address', async () => {
    const hosts = new Set(ha.nodes.map((n) => new URL(n.address).hostname));
    expect(hosts).toEqual(new Set(['127.0.0.11', '127.0.0.12', '127.0.0.13']));
    const codes = await Promise.all(
      ha.nodes.map((node) =>
        ha.api('GET', 'sys/health', undefined, { node, allowError: true }).then((r) => r.status),
      ),
    );
    expect(codes.sort()).toEqual([200, 429, 429]);
  });

  it('replicates a PKI mount, and a new active node serves it after the active one is killed', async () => {
    await ha.api('POST', 'sys/mounts/ha-pki', { type: 'pki', config: { max_lease_ttl: '24h' } });
    await ha.api('POST', 'ha-pki/root/generate/internal', { common_name: 'ha-test', ttl: '24h' });
    await ha.api('POST', 'ha-pki/roles/r', { allow_any_name: true, ttl: '1h' });
    const before = await ha.active();
    await ha.kill(before);
    expect(before.running()).toBe(false);
    const after = await ha.active();
    expect(after.id).not.toBe(before.id);
    const issued = await ha.api('POST', 'ha-pki/issue/r', { common_name: 'after-failover' });
    expect(String(issued.body.data?.certificate)).toContain('BEGIN CERTIFICATE');
    await ha.restart(before);
    const codes = await Promise.all(
      ha.nodes.map((node) =>
        ha.api('GET', 'sys/health', undefined, { node, allowError: true }).then((r) => r.status),
      ),
    );
    expect(codes.sort()).toEqual([200, 429, 429]);
  }, 120_000);
});
