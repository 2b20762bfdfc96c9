/**
 * Fault matrix, issue 13 point 5: hostile inputs that used to break the exit-code contract, hang the agent or
 * pass silently. Each case runs the built agent on a node bootstrapped against a real OpenBao, then hands it
 * the hostile input while a set must be re-issued, and checks the documented exit code, a message naming
 * what was wrong (never a token), and that the set on disk is the previous one, byte for byte.
 * The "Vault" that misbehaves is test/support/hostile-server.ts (a raw TCP server on 127.0.0.1).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AgentRun, startAgent } from '../support/agent.js';
import {
  bootstrappedFaultNode,
  escapeRegExp,
  FAULT_CERTS,
  type FaultNode,
  REISSUE_CERTS,
  type SetSnapshot,
  snapshotSets,
  startFaultVault,
} from '../support/fault-node.js';
import { type HostileServer, startHostileServer } from '../support/hostile-server.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { TEST_ROLES } from '../support/vault-pki.js';

let vault: TestVault;
let hostile: HostileServer;
let node: FaultNode;
let before: SetSnapshot;

beforeAll(async () => {
  vault = await startFaultVault(() => startOpenBao({ name: 'faults-hostile', audit: true }));
  hostile = await startHostileServer();
});

afterAll(async () => {
  await hostile?.close();
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

/** Peak resident memory (VmHWM, kB) of a running process, polled until it exits. */
async function runMeasured(
  args: string[],
  timeoutMs: number,
): Promise<{ run: AgentRun; peakKb: number; ms: number }> {
  const started = Date.now();
  const agent = startAgent(args);
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${agent.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {}
  }, 20);
  const kill = setTimeout(() => agent.kill('SIGKILL'), timeoutMs);
  try {
    const run = await agent.exited;
    return { run, peakKb, ms: Date.now() - started };
  } finally {
    clearInterval(poll);
    clearTimeout(kill);
  }
}

const bootstrapArgs = (extra: string[] = []) => ['bootstrap', '--config', node.configFile, ...extra];

describe('hostile Vault answers', () => {
  it('an answer of 256 MiB: exit 5 "too large", refused after 4 MiB, the agent stays small; set intact', async () => {
    node.writeConfig({ address: hostile.address, certs: REISSUE_CERTS });
    hostile.set({ kind: 'huge', announce: false, limitBytes: 256 * 1024 * 1024 });
    const { run, peakKb } = await runMeasured(bootstrapArgs(['--timeout', '20s']), 60_000);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(
      /Vault at http:\/\/127\.0\.0\.1:\d+ sent an answer to \S+ that is too large to be Vault's: the answer is larger than the 4 MiB any Vault answer needs/,
    );
    expect(run.stderr).toMatch(/code=vault-bad-response/);
    // Bounded memory: Node itself is ~50-90 MB here; buffering the answer took gigabytes.
    expect(peakKb).toBeGreaterThan(0);
    expect(peakKb).toBeLessThan(200 * 1024);
    expect(hostile.bodyBytesSent()).toBeLessThan(32 * 1024 * 1024);
    expect(snapshotSets(node)).toEqual(before);
  }, 90_000);

  it('an answer announcing 600 MB in Content-Length: refused before its body is read, exit 5', async () => {
    node.writeConfig({ address: hostile.address, certs: REISSUE_CERTS });
    hostile.set({ kind: 'huge', announce: true, limitBytes: 600_000_000 });
    const { run } = await runMeasured(bootstrapArgs(['--timeout', '20s']), 60_000);
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(/the answer announces 600000002 bytes \(572\.2 MiB\), more than the 4 MiB/);
    expect(hostile.bodyBytesSent()).toBeLessThan(16 * 1024 * 1024);
    expect(snapshotSets(node)).toEqual(before);
  }, 90_000);

  for (const kind of ['stall-headers', 'stall-body'] as const) {
    it(`--timeout bounds a request in flight (${kind}): exit 5 at the deadline naming it; set intact`, async () => {
      node.writeConfig({ address: hostile.address, certs: REISSUE_CERTS });
      hostile.set({ kind });
      const { run, ms } = await runMeasured(bootstrapArgs(['--timeout', '2s']), 40_000);
      expect(run.code, run.stderr).toBe(5);
      expect(run.stderr).toMatch(
        /gave no complete answer to \S+ before the deadline \(--timeout\): request cut \(gave up after \d+ attempts?: deadline reached\)/,
      );
      // 2 s budget, at most 1 s grace for an attempt made at the deadline, plus the agent's start-up.
      expect(ms).toBeLessThan(6_000);
      expect(snapshotSets(node)).toEqual(before);
    }, 60_000);
  }
});

describe('hostile local inputs', () => {
  it('YAML nested 100,000 levels deep: exit 3 naming the nesting (no stack overflow); set intact', async () => {
    writeFileSync(
      node.configFile,
      `cluster: c1\ncertificates: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`,
    );
    const run = await node.bootstrap([], { timeoutMs: 20_000 });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(
      new RegExp(
        `config error in ${escapeRegExp(node.configFile)} at line 2:\\d+: the YAML is nested more than 64 levels deep`,
      ),
    );
    expect(snapshotSets(node)).toEqual(before);
  });

  it('a token file holding NUL and binary bytes: exit 3 naming the file, not its content; set intact', async () => {
    for (const content of [
      Buffer.from('hvs.NULPART\0rest\n'),
      Buffer.concat([Buffer.from('hvs.'), randomBytes(64)]),
    ]) {
      writeFileSync(node.tokenFile, content, { mode: 0o600 });
      const run = await node.bootstrap([], { timeoutMs: 20_000 });
      expect(run.code, run.stderr).toBe(3);
      expect(run.stderr).toContain(
        `token file ${node.tokenFile} (vault.tokenFile) holds bytes no Vault token contains (NUL, control or non-ASCII characters)`,
      );
      expect(run.stderr).not.toContain('NULPART');
      expect(snapshotSets(node)).toEqual(before);
    }
  });

  it('--config /dev/zero: exit 3 at once (a device is not read); set intact', async () => {
    const run = await node.agent(['bootstrap', '--config', '/dev/zero'], { timeoutMs: 15_000 });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toContain(
      'cannot read config file /dev/zero: it is a character device, not a regular file',
    );
    expect(snapshotSets(node)).toEqual(before);
  });

  it('a FIFO as the config or the token file: exit 3 at once, never waits for a writer; set intact', async () => {
    const fifo = join(node.work, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const config = await node.agent(['bootstrap', '--config', fifo], { timeoutMs: 15_000 });
    expect(config.code, config.stderr).toBe(3);
    expect(config.stderr).toContain(
      `cannot read config file ${fifo}: it is a FIFO (named pipe), not a regular file`,
    );
    rmSync(node.tokenFile);
    execFileSync('mkfifo', ['-m', '600', node.tokenFile]);
    const token = await node.bootstrap([], { timeoutMs: 15_000 });
    expect(token.code, token.stderr).toBe(3);
    expect(token.stderr).toContain(
      `token file ${node.tokenFile} (vault.tokenFile) is a FIFO (named pipe), not a regular file`,
    );
    expect(snapshotSets(node)).toEqual(before);
  });

  it('certMode "0666" (anyone could rewrite ca.pem): exit 3 naming the key; set intact, modes unchanged', async () => {
    const dir = node.dir('etcd-peer');
    const text = readFileSync(node.configFile, 'utf8').replace(
      `files: { dir: ${dir} }`,
      `files: { dir: ${dir}, certMode: "0666" }`,
    );
    writeFileSync(node.configFile, text);
    const run = await node.bootstrap([], { timeoutMs: 20_000 });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(
      /certificates\.etcd-peer\.files\.certMode: \\"0666\\" lets every user on the host rewrite the certificate files, ca\.pem \(the trust anchor\) included/,
    );
    expect(snapshotSets(node)).toEqual(before);
    expect(statSync(join(dir, 'ca.pem')).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
  });

  it('ttl below 10 s: exit 3; set intact', async () => {
    node.writeConfig({ address: vault.address, certs: [{ ...FAULT_CERTS[0]!, ttl: '5s' }] });
    const run = await node.bootstrap([], { timeoutMs: 20_000 });
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(
      /certificates\.etcd-peer\.ttl: 5s is too short: a certificate must live at least 10s/,
    );
    expect(snapshotSets(node)).toEqual(before);
  });
});

describe('clear-text Vault address', () => {
  it('http:// to another host: warned on the run (which fails for its own reason)', async () => {
    node.writeConfig({ address: 'http://vault.invalid:8200', certs: REISSUE_CERTS });
    const run = await node.bootstrap(['--timeout', '1s'], { timeoutMs: 20_000 });
    expect(run.code, run.stderr).toBe(5);
    expect(run.stderr).toMatch(
      /level=warn msg="Vault address is http:\/\/, not https:\/\/: the token and the certificates \(and private keys Vault generates\) cross the network in clear text; use https:\/\/" address=http:\/\/vault\.invalid:8200/,
    );
    expect(snapshotSets(node)).toEqual(before);
  });

  it('http:// on the loopback interface: an info note, and the run succeeds', async () => {
    const run = await node.bootstrap([], { timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /level=info msg="Vault address is http:\/\/ on the loopback interface: the token is sent unencrypted on this host"/,
    );
    expect(run.stderr).not.toMatch(/level=warn msg="Vault address is http/);
  });
});

describe('short lifetimes in run', () => {
  it('12 s certificates with Vault backdating notBefore 30 s (its default): no re-issue storm', async () => {
    const mount = 'etcd/c1/pki';
    const role = (notBefore: string) =>
      vault.api('POST', `${mount}/roles/member`, {
        key_type: 'any',
        ttl: '24h',
        max_ttl: '720h',
        ...TEST_ROLES.etcd.member,
        not_before_duration: notBefore,
      });
    await role('30s');
    try {
      // Lifetime 42 s (30 s backdated), due at 2/3 of it: 2 s before it was issued.
      node.writeConfig({
        address: vault.address,
        certs: [{ ...REISSUE_CERTS[0]!, ttl: '12s', renewAt: '2/3' }, REISSUE_CERTS[1]!],
      });
      vault.markAudit();
      const agent = startAgent(['run', '--config', node.configFile]);
      await new Promise((r) => setTimeout(r, 13_000));
      const result = await agent.stop('SIGTERM');
      const signs = vault.auditedPaths().filter((p) => p === `${mount}/sign/member`).length;
      expect(result.code, result.stderr).toBe(0);
      // The first issue (the SANs changed), then one renewal per 6 s (half the 12 s left at issue).
      expect(signs).toBeGreaterThanOrEqual(2);
      expect(signs).toBeLessThanOrEqual(4);
    } finally {
      await role('5s');
    }
  }, 60_000);
});
