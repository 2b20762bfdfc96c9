import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAgent, startAgent, waitFor } from '../support/agent.js';
import { nodeConfig, type TestCert } from '../support/node-config.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import {
  createToken,
  provisionTestPki,
  revokeToken,
  type TestPki,
  writePolicy,
} from '../support/vault-pki.js';

let vault: TestVault;
let pki: TestPki;
let work: string;
let tokenFile: string;
let execLog: string;

const lines = (file: string) => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;

function writeConfig(certs: TestCert[], extra: { wrappedToken?: boolean; metrics?: boolean } = {}) {
  const file = join(work, 'config.yaml');
  writeFileSync(file, nodeConfig({ address: vault.address, tokenFile, work, certs, ...extra }));
  return file;
}

const SHORT: TestCert[] = [
  { name: 'etcd-peer', preset: 'etcd-peer', ttl: '30s', renewAt: '2/3' },
  { name: 'kubelet-client', preset: 'kubelet-client', mode: 'issue', ttl: '30s', renewAt: '2/3' },
];

async function provision() {
  pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'node', [`${pki.etcdMount}/member`, `${pki.k8sMount}/kubelet-client`]);
}

beforeAll(async () => {
  vault = await startOpenBao({ name: 'run', audit: true });
  await provision();
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'vpa-run-'));
  tokenFile = join(work, 'token');
  execLog = join(work, 'exec.log');
  writeFileSync(tokenFile, `${await createToken(vault, { policies: ['node'], period: '1h' })}\n`, {
    mode: 0o600,
  });
  return () => rmSync(work, { recursive: true, force: true });
});

describe('run: renewal loop against a real OpenBao', () => {
  it('renews every certificate several times before expiry; each renewal runs its action exactly once', async () => {
    const config = writeConfig(SHORT.map((c) => ({ ...c, execLog })));
    vault.markAudit();
    const agent = startAgent(['run', '--config', config]);
    await waitFor(
      () => count(lines(execLog), 'etcd-peer') >= 4 && count(lines(execLog), 'kubelet-client') >= 4,
      70_000,
      '4 renewals of each',
    );
    const result = await agent.stop('SIGTERM');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/stopping: the pass in progress finished/);
    const audited = vault.auditedPaths();
    const signs = count(audited, `${pki.etcdMount}/sign/member`);
    const issues = count(audited, `${pki.k8sMount}/issue/kubelet-client`);
    // Each issued set ran its action exactly once.
    expect(count(lines(execLog), 'etcd-peer')).toBe(signs);
    expect(count(lines(execLog), 'kubelet-client')).toBe(issues);
    // Nothing else was asked of Vault but the first token check: one sign or issue per renewal. (A first boot
    // reads no CA: each set is verified against the CA in Vault's answer, which the loop then keeps.)
    const other = audited.filter((p) => !/\/(sign|issue)\//.test(p));
    expect(other).toEqual(['auth/token/lookup-self']);
    // Never late: every certificate on disk was renewed before it expired.
    expect(result.stderr).not.toMatch(/reason=expired/);
  }, 90_000);

  it('Vault down for a while: old certificates kept, bounded retries, renewed once Vault is back', async () => {
    // The dev server loses its state on restart; the root token survives (same id), so use it here.
    writeFileSync(tokenFile, vault.rootToken, { mode: 0o600 });
    const config = writeConfig(SHORT.map((c) => ({ ...c, execLog, ttl: '60s' })));
    const agent = startAgent(['run', '--config', config]);
    await waitFor(() => lines(execLog).length >= 2, 20_000, 'first issue');
    const certBefore = readFileSync(join(work, 'pki', 'etcd-peer', 'cert.pem'), 'utf8');
    await vault.stop();
    let up = false;
    try {
      const downAt = Date.now();
      const retriesBefore = (agent.stderr().match(/retrying|pass failed/g) ?? []).length;
      // SIGHUP: check everything now (and re-read the CAs), which meets the outage at once.
      agent.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 25_000));
      const retries = (agent.stderr().match(/retrying|pass failed/g) ?? []).length - retriesBefore;
      const minutes = (Date.now() - downAt) / 60_000;
      // Old set still in place, untouched.
      expect(readFileSync(join(work, 'pki', 'etcd-peer', 'cert.pem'), 'utf8')).toBe(certBefore);
      expect(retries).toBeGreaterThan(0);
      expect(retries / minutes).toBeLessThan(60);
      await vault.restart();
      await provision();
      up = true;
    } finally {
      if (!up) {
        await vault.restart();
        await provision();
      }
    }
    const issuedBefore = lines(execLog).length;
    await waitFor(() => lines(execLog).length > issuedBefore, 60_000, 'a renewal after Vault came back');
    expect(readFileSync(join(work, 'pki', 'etcd-peer', 'cert.pem'), 'utf8')).not.toBe(certBefore);
    expect((await agent.stop()).code).toBe(0);
  }, 150_000);

  it('token rotated in the token file (old one revoked): the next cycle uses the new one', async () => {
    const oldToken = readFileSync(tokenFile, 'utf8').trim();
    const config = writeConfig(SHORT.map((c) => ({ ...c, execLog })));
    const agent = startAgent(['run', '--config', config]);
    await waitFor(() => lines(execLog).length >= 2, 20_000, 'first issue');
    const fresh = await createToken(vault, { policies: ['node'], period: '1h' });
    writeFileSync(tokenFile, `${fresh}\n`, { mode: 0o600 });
    await revokeToken(vault, oldToken);
    const before = lines(execLog).length;
    await waitFor(() => lines(execLog).length >= before + 2, 40_000, 'renewals with the new token');
    const result = await agent.stop();
    expect(result.stderr).toMatch(/token file changed: using the new token/);
    expect(result.stderr).not.toMatch(/token expired or revoked/);
    expect(result.stderr + result.stdout).not.toContain(fresh);
    expect(result.stderr + result.stdout).not.toContain(oldToken);
  }, 90_000);

  it('a token file caught half-written (two words) is not used: the current token stays, a warning names why', async () => {
    const config = writeConfig(SHORT.map((c) => ({ ...c, execLog })));
    const agent = startAgent(['run', '--config', config]);
    await waitFor(() => lines(execLog).length >= 2, 20_000, 'first issue');
    const fresh = await createToken(vault, { policies: ['node'], period: '1h' });
    writeFileSync(tokenFile, `${fresh} ${fresh}\n`, { mode: 0o600 });
    const before = lines(execLog).length;
    await waitFor(() => lines(execLog).length >= before + 2, 40_000, 'renewals with the current token');
    const result = await agent.stop();
    expect(result.stderr).toMatch(
      /token file cannot be used; keeping the current token.*holds more than one word/,
    );
    expect(result.stderr).not.toMatch(/token file changed/);
    expect(result.stderr + result.stdout).not.toContain(fresh);
  }, 90_000);

  it('a periodic renewable token is renewed (TTL reset) and outlives its period', async () => {
    const token = await createToken(vault, { policies: ['node'], period: '6s' });
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const config = writeConfig(SHORT.map((c) => ({ ...c, execLog })));
    const agent = startAgent(['run', '--config', config]);
    await waitFor(
      () => (agent.stderr().match(/vault token renewed/g) ?? []).length >= 3,
      30_000,
      '3 token renewals',
    );
    // Alive well past its 6 s period, with a reset TTL.
    const info = await vault.api('POST', 'auth/token/lookup', { token });
    expect(Number(info.body.data?.ttl)).toBeGreaterThan(0);
    expect(Number(info.body.data?.ttl)).toBeLessThanOrEqual(6);
    expect((await agent.stop()).code).toBe(0);
  }, 60_000);
});

describe('token lifecycle at start', () => {
  it('a token that cannot be renewed and expires before the next renewal is reported at once', async () => {
    writeFileSync(tokenFile, await createToken(vault, { policies: ['node'], ttl: '5m', renewable: false }), {
      mode: 0o600,
    });
    const config = writeConfig([{ ...SHORT[0]!, ttl: '2h' }]);
    const agent = startAgent(['run', '--config', config]);
    await waitFor(
      () => /expires before the next certificate renewal/.test(agent.stderr()),
      20_000,
      'the warning',
    );
    expect(agent.stderr()).toMatch(/vault token is not renewable/);
    expect((await agent.stop()).code).toBe(0);
  });

  it('a response-wrapped token is unwrapped once, stored 0600, and not unwrapped again', async () => {
    const wrapping = await createToken(vault, { policies: ['node'], period: '1h', wrapTtl: '5m' });
    writeFileSync(tokenFile, wrapping, { mode: 0o600 });
    const config = writeConfig([SHORT[0]!], { wrappedToken: true });
    vault.markAudit();
    const first = await runAgent(['bootstrap', '--config', config]);
    expect(first.code).toBe(0);
    const stored = readFileSync(tokenFile, 'utf8').trim();
    expect(stored).not.toBe(wrapping);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(count(vault.auditedPaths(), 'sys/wrapping/unwrap')).toBe(1);
    vault.markAudit();
    const second = await runAgent(['bootstrap', '--config', config]);
    expect(second.code).toBe(0);
    expect(count(vault.auditedPaths(), 'sys/wrapping/unwrap')).toBe(0);
    expect(second.stderr).toMatch(/already unwrapped/);
    expect(first.stderr + second.stderr).not.toContain(stored);
  });
});

describe('health-checked actions', () => {
  it('a failing health check restores the previous generation, re-runs the action, exits 6, shows in status and metrics', async () => {
    const flag = join(work, 'unhealthy');
    const health = [
      process.execPath,
      '-e',
      `process.exit(require("fs").existsSync(${JSON.stringify(flag)}) ? 1 : 0)`,
    ];
    const cert = { name: 'etcd-peer', preset: 'etcd-peer', execLog, healthCommand: health };
    let config = writeConfig([cert], { metrics: true });
    expect((await runAgent(['bootstrap', '--config', config])).code).toBe(0);
    const good = readFileSync(join(work, 'pki', 'etcd-peer', 'cert.pem'), 'utf8');
    writeFileSync(flag, '');
    config = writeConfig([{ ...cert, altNames: ['extra.c1.example.internal'] }], { metrics: true });
    const run = await runAgent(['bootstrap', '--config', config]);
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/health check failed/);
    expect(readFileSync(join(work, 'pki', 'etcd-peer', 'cert.pem'), 'utf8')).toBe(good);
    // First bootstrap once, then the failed switch once and the rollback once.
    expect(count(lines(execLog), 'etcd-peer')).toBe(3);
    const status = await runAgent(['status', '--config', config, '--json']);
    const report = JSON.parse(status.stdout) as {
      certificates: { name: string; lastResult: string; rollbacks: number }[];
    };
    expect(report.certificates[0]).toMatchObject({
      name: 'etcd-peer',
      lastResult: 'rolled-back',
      rollbacks: 1,
    });
    const metrics = readFileSync(join(work, 'metrics', 'vault-pki-agent.prom'), 'utf8');
    expect(metrics).toMatch(
      /vault_pki_agent_certificate_rollbacks_total\{[^}]*certificate="etcd-peer"[^}]*\} 1/,
    );
  });
});
