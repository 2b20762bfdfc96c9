/**
 * Fault matrix (issue 7): `systemctl restart` hangs (a unit stuck in its start job). The agent kills it
 * after its systemctl timeout (VPA_SYSTEMCTL_TIMEOUT, shortened to 2s here; default 90s) and fails with
 * exit 6 naming the unit, instead of hanging the boot. The set itself was written before the action ran
 * and is whole. systemd cannot run here: the FAKE systemctl (test/support/fake-systemctl) hangs on demand.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
// FAKE systemctl: hangs on demand for a chosen unit; a real systemctl hangs only by accident.
import { createFakeSystemctl, type FakeSystemctl } from '../support/fake-systemctl/index.js';
import {
  checkSet,
  createFaultNode,
  escapeRegExp,
  type FaultNode,
  REISSUED_SAN,
  type SetSnapshot,
  snapshotSets,
  startFaultVault,
} from '../support/fault-node.js';
import { isAlive } from '../support/guarded-process.js';
import type { TestCert } from '../support/node-config.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';

let vault: TestVault;
let node: FaultNode;
let before: SetSnapshot;
let fake: FakeSystemctl;

const UNIT = 'etcd-member.service';
const CERTS: TestCert[] = [{ name: 'etcd-peer', preset: 'etcd-peer', unit: UNIT }];
const REISSUE: TestCert[] = [{ ...(CERTS[0] as TestCert), altNames: ['reissue.node-1.example.internal'] }];

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-systemctl' }));
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  node = await createFaultNode(vault);
  node.writeConfig({ address: vault.address, certs: CERTS });
  const ok = createFakeSystemctl({ active: [UNIT] });
  const first = await node.bootstrap([], { env: { VPA_SYSTEMCTL: ok.binary, ...ok.env } });
  expect(first.code, first.stderr).toBe(0);
  expect(ok.calls()).toContain(`restart ${UNIT}`);
  before = snapshotSets(node, ['etcd-peer']);
  node.writeConfig({ address: vault.address, certs: REISSUE });
  fake = createFakeSystemctl({ active: [UNIT], hang: [UNIT] });
  return () => node.cleanup();
});

describe('fault matrix: systemctl hanging', () => {
  it('restart hangs past VPA_SYSTEMCTL_TIMEOUT: killed, exit 6 naming the unit; the set on disk is whole', async () => {
    const started = Date.now();
    const run = await node.bootstrap([], {
      env: { VPA_SYSTEMCTL: fake.binary, ...fake.env, VPA_SYSTEMCTL_TIMEOUT: '2s' },
    });
    const elapsed = Date.now() - started;
    expect(run.code, run.stderr).toBe(6);
    expect(run.stderr).toMatch(
      new RegExp(
        `level=error .*${escapeRegExp(fake.binary)} restart ${UNIT} timed out after 2000ms and was killed`,
      ),
    );
    expect(run.stdout).toMatch(new RegExp(`action systemd ${UNIT} restart: failed`));
    // 2s timeout + at most 2s until SIGKILL, plus the pass itself: not the 90s default, not forever.
    expect(elapsed).toBeLessThan(15_000);
    expect(fake.hungPids().length).toBe(1);
    for (const pid of fake.hungPids()) expect(isAlive(pid)).toBe(false);
    // Actions run after the sets are switched: the new set is in place and whole.
    const set = checkSet(node.dir('etcd-peer'));
    expect(set.complete, set.why).toBe(true);
    expect(set.sans).toContain(REISSUED_SAN);
    expect(snapshotSets(node, ['etcd-peer'])).not.toEqual(before);
  });

  it('a malformed VPA_SYSTEMCTL_TIMEOUT is a config error (exit 3) naming it; nothing is written', async () => {
    const run = await node.bootstrap([], {
      env: { VPA_SYSTEMCTL: fake.binary, ...fake.env, VPA_SYSTEMCTL_TIMEOUT: 'soon' },
    });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(/VPA_SYSTEMCTL_TIMEOUT \\"soon\\" is not a duration/);
    expect(snapshotSets(node, ['etcd-peer'])).toEqual(before);
    expect(fake.calls()).toEqual([]);
  });
});
