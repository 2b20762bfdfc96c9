/**
 * Fault matrix (issue 7): the token file missing, empty, unreadable, or readable by others. The first
 * three are config errors (exit 3) naming the file and what is wrong with it, found before any Vault
 * call or write; a group/world-readable token file still works and is warned about.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Root reads any file (CAP_DAC_OVERRIDE). To see "unreadable" as root, the agent runs with that
 * capability (and CAP_DAC_READ_SEARCH) removed from its bounding set: still uid 0, but bound by modes.
 */
const DROP_DAC = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'];
let unreadableWrap: string[] | undefined;
let unreadableWhyNot = '';

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-token' }));
  if (process.getuid?.() !== 0) {
    unreadableWrap = [];
    return;
  }
  // Probe: does dropping the capabilities work here (it needs CAP_SETPCAP)?
  const probe = `${vault.logFile}.probe`;
  writeFileSync(probe, 'x', { mode: 0o000 });
  try {
    execFileSync(DROP_DAC[0] as string, [...DROP_DAC.slice(1), 'cat', probe], { stdio: 'pipe' });
    unreadableWhyNot = 'setpriv could not take CAP_DAC_OVERRIDE away: root still reads a mode-000 file';
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
    if (/Permission denied/.test(stderr)) unreadableWrap = DROP_DAC;
    else unreadableWhyNot = `setpriv is not usable here: ${stderr.trim() || String(error)}`;
  } finally {
    rmSync(probe, { force: true });
  }
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
  return () => node.cleanup();
});

describe('fault matrix: the token file', () => {
  it('missing: exit 3 naming the file; the previous set is intact', async () => {
    rmSync(node.tokenFile);
    const run = await node.bootstrap();
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(`token file ${node.tokenFile} (vault.tokenFile) does not exist`);
    expect(snapshotSets(node)).toEqual(before);
  });

  it('empty: exit 3 naming the file; the previous set is intact', async () => {
    writeFileSync(node.tokenFile, '\n', { mode: 0o600 });
    const run = await node.bootstrap();
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(`token file ${node.tokenFile} (vault.tokenFile) is empty`);
    expect(snapshotSets(node)).toEqual(before);
  });

  it('unreadable by the agent: exit 3 naming the file; the previous set is intact', async (ctx) => {
    if (!unreadableWrap) ctx.skip(unreadableWhyNot);
    chmodSync(node.tokenFile, 0o000);
    const run = await node.bootstrap([], { wrap: unreadableWrap });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(
      `token file ${node.tokenFile} (vault.tokenFile) is not readable by the agent`,
    );
    expect(snapshotSets(node)).toEqual(before);
  });

  it('readable by group and others: warned in the log (mode named), still works', async () => {
    chmodSync(node.tokenFile, 0o644);
    const token = readFileSync(node.tokenFile, 'utf8').trim();
    const run = await node.bootstrap();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /level=warn msg="token file is readable by group or others: chmod 600 it" .*mode=644/,
    );
    expect(run.stderr + run.stdout).not.toContain(token);
    const set = checkSet(node.dir('etcd-peer'));
    expect(set.complete, set.why).toBe(true);
    expect(set.sans).toContain(REISSUED_SAN);
  });
});
