/**
 * Fault matrix (issue 7): the disk fills up while the agent writes a new set. The certificate
 * directories live on a small real tmpfs (mounting needs root: skipped with the reason otherwise) that is
 * filled to the last byte after the first bootstrap. The re-issue must fail with exit 6 naming the file
 * and ENOSPC, leave the previous set exactly as it was, leave no half-written generation behind, and
 * succeed once space is back.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isGenerationName } from '../../src/files/layout.js';
import {
  checkSet,
  createFaultNode,
  escapeRegExp,
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
let mountPoint = '';
let whyNot = '';

/** Write zeros until the filesystem says ENOSPC, then give back `leaveBytes`. */
function fill(file: string, leaveBytes: number): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  // Whatever is left is smaller than a page: use it up too.
  const tail = openSync(file, 'a');
  try {
    for (;;) writeSync(tail, Buffer.alloc(1));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(tail);
  }
  if (leaveBytes > 0) truncateSync(file, statSync(file).size - leaveBytes);
}

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-disk' }));
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  node = await createFaultNode(vault);
  mountPoint = join(node.work, 'pki');
  mkdirSync(mountPoint);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', mountPoint], {
    encoding: 'utf8',
  });
  whyNot =
    mount.status === 0
      ? ''
      : `mount -t tmpfs is not permitted here (needs root): ${(mount.stderr || String(mount.error)).trim()}`;
  return () => {
    if (!whyNot) spawnSync('umount', [mountPoint]);
    node.cleanup();
  };
});

const PAGE = 4096;

describe('fault matrix: disk full', () => {
  it.for([
    {
      // tmpfs counts whole pages: room for the lock file and one file of the new generation, not for all four.
      free: 'two pages left',
      leaveBytes: 2 * PAGE,
      failsAt: (dir: string) =>
        `cannot write ${escapeRegExp(dir)}/\\.\\.[0-9_]+\\.[0-9a-f]+/(cert|key|ca|fullchain)\\.pem`,
    },
    {
      free: 'not a byte left',
      leaveBytes: 0,
      failsAt: (dir: string) => `cannot lock ${escapeRegExp(dir)}/\\.\\.lock`,
    },
  ])(
    'ENOSPC during the write ($free): exit 6 naming the file; the previous set intact, no partial generation; recovers',
    async ({ leaveBytes, failsAt }, ctx) => {
      if (whyNot) ctx.skip(whyNot);
      node.writeConfig({ address: vault.address });
      const first = await node.bootstrap();
      expect(first.code, first.stderr).toBe(0);
      before = snapshotSets(node);
      const generationsBefore = readdirSync(node.dir('etcd-peer')).filter(isGenerationName);

      const filler = join(mountPoint, 'filler');
      fill(filler, leaveBytes);
      node.writeConfig({ address: vault.address, certs: REISSUE_CERTS });
      const run = await node.bootstrap();
      expect(run.code, run.stderr).toBe(6);
      expect(run.stderr).toMatch(
        new RegExp(`level=error .*${failsAt(node.dir('etcd-peer'))}: ENOSPC \\(no space left on device\\)`),
      );
      expect(run.stdout).toMatch(/etcd-peer\s+failed/);
      expect(snapshotSets(node)).toEqual(before);
      expect(readdirSync(node.dir('etcd-peer')).filter(isGenerationName)).toEqual(generationsBefore);

      // Space back: the next bootstrap re-issues the set.
      rmSync(filler);
      const again = await node.bootstrap();
      expect(again.code, again.stderr).toBe(0);
      const set = checkSet(node.dir('etcd-peer'));
      expect(set.complete, set.why).toBe(true);
      expect(set.sans).toContain(REISSUED_SAN);
    },
  );
});
