/**
 * Issue 13, point 5 (leftovers): what a killed writer leaves in a set directory (an orphan generation holding a
 * private key, the temporary link `..data_tmp`, a stale lock) is reported by `check` and `status` (read-only,
 * no Vault) and removed by the next run, even one that has nothing to issue. The built agent, real OpenBao.
 */
import {
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSet, createFaultNode, snapshotSets, startFaultVault } from '../support/fault-node.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { attacker } from '../support/second-user.js';

let vault: TestVault;

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'leftovers' }));
});

afterAll(async () => {
  await vault?.stop();
});

const ORPHAN = '..2000_01_01_00_00_00_000.deadbeef';

describe("a killed writer's leftovers", () => {
  it('check and status report them; the next up-to-date bootstrap removes them and keeps the set', async () => {
    const node = await createFaultNode(vault, 'vpa-leftovers-');
    try {
      node.writeConfig({ address: vault.address });
      expect((await node.bootstrap()).code).toBe(0);
      const dir = node.dir('etcd-peer');
      // What a writer SIGKILLed between its new generation and the switch leaves, plus its lock.
      cpSync(join(dir, readlinkSync(join(dir, '..data'))), join(dir, ORPHAN), { recursive: true });
      symlinkSync(ORPHAN, join(dir, '..data_tmp'));
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      writeFileSync(join(dir, '..lock'), `999999999 ${boot}\n`);
      const before = snapshotSets(node);

      const check = await node.agent(['check', '--config', node.configFile]);
      expect(check.code, check.stdout + check.stderr).toBe(10);
      expect(check.stdout).toContain(
        `etcd-peer: leftover: ${join(dir, ORPHAN)}: orphan generation holding a private key`,
      );
      expect(check.stdout).toContain(`etcd-peer: leftover: ${join(dir, '..data_tmp')}: temporary link`);
      expect(check.stdout).toContain(
        `etcd-peer: leftover: ${join(dir, '..lock')}: stale lock (process 999999999 is gone)`,
      );
      expect(check.stdout).not.toMatch(/kubelet-client: leftover/);
      const table = await node.agent(['status', '--config', node.configFile]);
      expect(table.stdout).toContain(
        `leftover (etcd-peer, removed by the next pass): ${join(dir, ORPHAN)}: orphan generation holding a private key`,
      );
      const json = JSON.parse((await node.agent(['status', '--json', '--config', node.configFile])).stdout);
      expect(json.certificates[0].leftovers).toHaveLength(3);
      expect(json.certificates[1].leftovers).toBeUndefined();

      // Nothing to issue: the run still removes them, and the set readers see is the same.
      const run = await node.bootstrap();
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/etcd-peer\s+up-to-date/);
      expect(run.stderr).toContain('certificate directory tidied');
      expect(existsSync(join(dir, ORPHAN))).toBe(false);
      expect(existsSync(join(dir, '..data_tmp'))).toBe(false);
      expect(existsSync(join(dir, '..lock'))).toBe(false);
      expect(readdirSync(dir).filter((n) => n.startsWith('..2'))).toHaveLength(1);
      expect(snapshotSets(node)).toEqual(before);
      expect(checkSet(dir).complete).toBe(true);

      const after = await node.agent(['check', '--config', node.configFile]);
      expect(after.stdout).not.toContain('leftover');
      expect(after.code, after.stdout).toBe(0);
    } finally {
      node.cleanup();
    }
  }, 90_000);

  it("an earlier layout's set directory (the owner's) is reported, then made root's by the next up-to-date run", async (ctx) => {
    const who = attacker();
    if (!who) return ctx.skip('needs root to create the second user and give it the set directory');
    const node = await createFaultNode(vault, 'vpa-leftovers-');
    try {
      node.writeConfig({ address: vault.address });
      const dir = node.dir('etcd-peer');
      const config = readFileSync(node.configFile, 'utf8');
      writeFileSync(
        node.configFile,
        config.replace(
          `files: { dir: ${dir} }`,
          `files: { dir: ${dir}, owner: ${who.name}, group: ${who.name} }`,
        ),
      );
      expect((await node.bootstrap()).code).toBe(0);
      // What earlier versions left: the directory and its generation the owner's, writable by it.
      const generation = readlinkSync(join(dir, '..data'));
      for (const path of [dir, join(dir, generation)]) chownSync(path, who.uid, who.gid);
      const before = snapshotSets(node);

      const check = await node.agent(['check', '--config', node.configFile]);
      expect(check.code).toBe(10);
      expect(check.stdout).toContain(`etcd-peer: leftover: ${dir} is owned by uid ${who.uid}`);

      const run = await node.bootstrap();
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/etcd-peer\s+up-to-date/);
      for (const path of [dir, join(dir, generation)]) {
        expect(lstatSync(path)).toMatchObject({ uid: 0, gid: who.gid });
        expect(lstatSync(path).mode & 0o022).toBe(0);
      }
      expect(lstatSync(join(dir, generation, 'key.pem'))).toMatchObject({ uid: who.uid });
      expect(snapshotSets(node)).toEqual(before);
    } finally {
      node.cleanup();
    }
  }, 90_000);
});
