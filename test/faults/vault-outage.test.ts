/**
 * Fault matrix (issue 7): Vault answering 500, dropping the connection mid-response, and OpenBao killed
 * while the agent waits for a certificate. Faults are injected between the built agent and a real
 * OpenBao by the fault-injection proxy (test/support/fault-proxy.ts). Each case starts from a set
 * written by a successful bootstrap and a config change that forces that set to be re-issued.
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
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;
let proxy: FaultProxy;
let node: FaultNode;
let before: SetSnapshot;

const SIGN = /\/sign\/member$/;
const signRequests = () => proxy.seen.filter((r) => SIGN.test(r.path));

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-outage' }));
  proxy = await startFaultProxy(vault.address);
});

afterAll(async () => {
  await proxy?.close();
  await vault?.stop();
});

beforeEach(async () => {
  proxy.clear();
  ({ node, before } = await bootstrappedFaultNode(
    vault,
    { address: proxy.address },
    { next: { address: proxy.address, certs: REISSUE_CERTS } },
  ));
  proxy.seen.length = 0;
  return () => node.cleanup();
});

describe('fault matrix: Vault failing mid-request', () => {
  it('500s for a few requests: retried with backoff, then the set is re-issued (exit 0)', async () => {
    proxy.inject(SIGN, { kind: 'status', status: 500, times: 3 });
    const run = await node.bootstrap(['--timeout', '60s']);
    expect(run.code, run.stderr).toBe(0);
    expect(signRequests().map((r) => r.outcome)).toEqual(['status', 'status', 'status', 'forwarded']);
    expect(run.stderr).toMatch(
      /vault request failed, retrying.*sign\/member.*fault injected by the test proxy/,
    );
    const set = checkSet(node.dir('etcd-peer'));
    expect(set.complete, set.why).toBe(true);
    expect(set.sans).toContain(REISSUED_SAN);
    // The set that was not due is untouched.
    const after = snapshotSets(node);
    expect(after['kubelet-client/cert.pem']).toBe(before['kubelet-client/cert.pem']);
  });

  it('500s past --timeout: exit 5 naming the path and the deadline; the previous set is intact', async () => {
    proxy.inject(SIGN, { kind: 'status', status: 500, times: Number.POSITIVE_INFINITY });
    const started = Date.now();
    const run = await node.bootstrap(['--timeout', '3s']);
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(5);
    expect(run.stdout).toMatch(
      /etcd-peer\s+failed.*Vault error on etcd\/c1\/pki\/sign\/member: fault injected by the test proxy \(gave up after \d+ attempts: deadline reached\)/,
    );
    expect(signRequests().length).toBeGreaterThan(1);
    // Bounded by the deadline (plus process start and the CA reads), not by Vault.
    expect(elapsed).toBeLessThan(3_000 + 6_000);
    expect(snapshotSets(node)).toEqual(before);
  });

  it('connection dropped mid-response: retried, then the set is re-issued (exit 0)', async () => {
    proxy.inject(SIGN, { kind: 'drop', times: 2 });
    const run = await node.bootstrap(['--timeout', '60s']);
    expect(run.code, run.stderr).toBe(0);
    expect(signRequests().map((r) => r.outcome)).toEqual(['dropped', 'dropped', 'forwarded']);
    expect(run.stderr).toMatch(/vault request failed, retrying.*sign\/member.*unreachable/);
    const set = checkSet(node.dir('etcd-peer'));
    expect(set.complete, set.why).toBe(true);
    expect(set.sans).toContain(REISSUED_SAN);
  });

  // Last in this file: OpenBao stays dead afterwards.
  it('OpenBao SIGKILLed while the agent waits for a certificate: exit 5 after --timeout; the previous set is intact', async () => {
    proxy.inject(SIGN, { kind: 'hold' });
    const started = Date.now();
    const pending = node.bootstrap(['--timeout', '3s']);
    await proxy.waitForHeld(1, 15_000);
    process.kill(vault.pid(), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    // The held request now meets a dead server: its connection is reset, like every retry after it.
    proxy.release();
    const run = await pending;
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(5);
    expect(run.stdout).toMatch(
      /etcd-peer\s+failed.*Vault at http:\/\/127\.0\.0\.1:\d+ unreachable: .*\(gave up after \d+ attempts: deadline reached\)/,
    );
    expect(signRequests().filter((r) => r.outcome === 'upstream-down').length).toBeGreaterThan(1);
    expect(elapsed).toBeLessThan(3_000 + 6_000);
    expect(snapshotSets(node)).toEqual(before);
  });
});
