/**
 * Fault matrix (issue 7): the target directory removed, or replaced by a symlink planted by someone the
 * agent does not trust, before a bootstrap or between two passes of `run`. A removed directory is
 * recreated with a whole set; a planted symlink (owned by an untrusted user, or leading into a
 * directory such a user owns) is refused with exit 6 ("unsafe-target") and nothing is written through it.
 * A symlink made by root itself is an administrator's choice and is followed (files/safety.ts).
 */
import {
  chmodSync,
  chownSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RunningAgent, startAgent, waitFor } from '../support/agent.js';
import {
  bootstrappedFaultNode,
  checkSet,
  escapeRegExp,
  type FaultNode,
  REISSUE_CERTS,
  REISSUED_SAN,
  type SetSnapshot,
  snapshotSets,
  startFaultVault,
} from '../support/fault-node.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { attacker, runAsAttacker } from '../support/second-user.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

let vault: TestVault;
let node: FaultNode;
let before: SetSnapshot;
let agent: RunningAgent | undefined;

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-target' }));
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  agent = undefined;
  ({ node, before } = await bootstrappedFaultNode(vault, { address: vault.address }));
  return async () => {
    if (agent) await agent.stop('SIGKILL');
    node.cleanup();
  };
});

/** Moves etcd-peer's directory away and plants a symlink to an empty directory elsewhere in its place. */
function plantSymlink(opts: { linkOwner?: number; targetOwner?: number }): string {
  const dir = node.dir('etcd-peer');
  const elsewhere = join(node.work, 'elsewhere');
  mkdirSync(elsewhere, { mode: 0o755 });
  if (opts.targetOwner !== undefined) lchownSync(elsewhere, opts.targetOwner, opts.targetOwner);
  renameSync(dir, join(node.work, 'moved-away'));
  symlinkSync(elsewhere, dir);
  if (opts.linkOwner !== undefined) lchownSync(dir, opts.linkOwner, opts.linkOwner);
  return elsewhere;
}

function startRun(): RunningAgent {
  agent = startAgent(['run', '--config', node.configFile]);
  return agent;
}

async function firstPassDone(a: RunningAgent): Promise<void> {
  await waitFor(() => /kubelet-client\s+up-to-date/.test(a.stdout()), 20_000, 'the first pass of run');
}

describe('fault matrix: target directory removed or replaced', () => {
  it('removed before bootstrap: recreated with a whole set (exit 0)', async () => {
    rmSync(node.dir('etcd-peer'), { recursive: true });
    const run = await node.bootstrap();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/etcd-peer\s+issued/);
    const set = checkSet(node.dir('etcd-peer'));
    expect(set.complete, set.why).toBe(true);
    expect(snapshotSets(node)['kubelet-client/cert.pem']).toBe(before['kubelet-client/cert.pem']);
  });

  it('removed between two passes of run: SIGHUP pass recreates it; run keeps going and exits 0 on SIGTERM', async () => {
    const a = startRun();
    await firstPassDone(a);
    rmSync(node.dir('etcd-peer'), { recursive: true });
    a.kill('SIGHUP');
    await waitFor(() => checkSet(node.dir('etcd-peer')).complete, 20_000, 'the set to be written again');
    const result = await a.stop('SIGTERM');
    agent = undefined;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/SIGHUP: checking every certificate now/);
    expect(result.stderr).toMatch(
      /certificate=etcd-peer .*reason=missing|reason=missing .*certificate=etcd-peer/,
    );
  });

  it('replaced by a symlink owned by an untrusted user, before bootstrap: exit 6 "unsafe", nothing written through it', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to give the planted symlink to another user (lchown)');
    const elsewhere = plantSymlink({ linkOwner: NOBODY });
    const run = await node.bootstrap();
    expect(run.code, run.stderr).toBe(6);
    expect(run.stderr).toMatch(
      new RegExp(
        `level=error .*refusing to write certificates under ${escapeRegExp(node.dir('etcd-peer'))}: .*is a symlink owned by uid ${NOBODY}.*code=unsafe-target`,
      ),
    );
    expect(readdirSync(elsewhere)).toEqual([]);
    // The other set is untouched.
    const after = snapshotSets(node);
    for (const f of ['cert.pem', 'key.pem', 'ca.pem', 'fullchain.pem', '..data'])
      expect(after[`kubelet-client/${f}`]).toBe(before[`kubelet-client/${f}`]);
  });

  it('replaced by a symlink into a directory an untrusted user owns: exit 6 "unsafe", nothing written there', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to give the target directory to another user (chown)');
    const elsewhere = plantSymlink({ targetOwner: NOBODY });
    const run = await node.bootstrap();
    expect(run.code, run.stderr).toBe(6);
    expect(run.stderr).toMatch(
      new RegExp(
        `level=error .*refusing to write certificates under ${escapeRegExp(node.dir('etcd-peer'))}: .*owned by uid ${NOBODY}.*code=unsafe-target`,
      ),
    );
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('replaced by an untrusted symlink between two passes of run: the pass refuses it ("unsafe"), run keeps going', async (ctx) => {
    if (!isRoot) ctx.skip('needs root to give the planted symlink to another user (lchown)');
    const a = startRun();
    await firstPassDone(a);
    const elsewhere = plantSymlink({ linkOwner: NOBODY });
    a.kill('SIGHUP');
    await waitFor(() => /code=unsafe-target/.test(a.stderr()), 20_000, 'the pass to refuse the symlink');
    expect(a.stderr()).toMatch(
      new RegExp(
        `refusing to write certificates under ${escapeRegExp(node.dir('etcd-peer'))}: .*symlink owned by uid ${NOBODY}`,
      ),
    );
    expect(readdirSync(elsewhere)).toEqual([]);
    const result = await a.stop('SIGTERM');
    agent = undefined;
    expect(result.code, result.stderr).toBe(0);
  });

  it("owned by the set owner (earlier layout) who planted a FIFO at ..lock: run is not frozen, re-issues, stops on SIGTERM; the directory becomes root's", async (ctx) => {
    const who = attacker();
    if (!who) return ctx.skip('needs root to create the second user and give it the set directory');
    const dir = node.dir('etcd-peer');
    node.writeConfig({ address: vault.address, certs: REISSUE_CERTS });
    const config = readFileSync(node.configFile, 'utf8');
    writeFileSync(
      node.configFile,
      config.replace(
        `files: { dir: ${dir} }`,
        `files: { dir: ${dir}, owner: ${who.name}, group: ${who.name} }`,
      ),
    );
    // What earlier versions left: the set directory and its generations the owner's.
    chmodSync(node.work, 0o755);
    chmodSync(join(node.work, 'pki'), 0o755);
    for (const name of ['.', ...readdirSync(dir).filter((n) => n.startsWith('..2'))]) {
      chownSync(join(dir, name), who.uid, who.gid);
    }
    runAsAttacker(
      who,
      `require('child_process').execFileSync('mkfifo', [path.join(args[0], '..lock')]);`,
      dir,
    );
    const a = startRun();
    await waitFor(
      () => checkSet(dir).sans.includes(REISSUED_SAN),
      20_000,
      'etcd-peer re-issued past the FIFO',
    );
    const stopping = Date.now();
    const result = await a.stop('SIGTERM');
    agent = undefined;
    expect(result.code, result.stderr).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(checkSet(dir).complete).toBe(true);
    expect(lstatSync(dir)).toMatchObject({ uid: 0, gid: who.gid });
    expect(lstatSync(join(dir, '..lock'), { throwIfNoEntry: false })).toBeUndefined();
  });
});
