import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
// FAKE systemctl: many bootstrap cases as host processes; real ordering and restarts: test/system/systemd.test.ts.
import { FAKE_SYSTEMCTL } from '../support/fake-systemctl/index.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { createToken, provisionTestPki, type TestPki, writePolicy } from '../support/vault-pki.js';

let vault: TestVault;
let pki: TestPki;
let work: string;
let tokenFile: string;
let systemctlLog: string;
let execLog: string;

const SETS = ['etcd-server', 'etcd-peer', 'apiserver', 'kubelet-client'] as const;

function config(overrides: { apiserverAltNames?: string[]; ttl?: string } = {}): string {
  const dir = (name: string) => join(work, 'pki', name);
  return `cluster: c1
vault:
  address: ${vault.address}
  tokenFile: ${tokenFile}
stateDir: ${join(work, 'state')}
defaults:
  ttl: ${overrides.ttl ?? '2h'}
node:
  name: node-1
  ip: 10.0.0.10
  loadBalancer: api.c1.example.internal
certificates:
  etcd-server:
    preset: etcd-server
    files: { dir: ${dir('etcd-server')} }
    actions:
      - systemd: { unit: etcd.service, action: restart }
  etcd-peer:
    preset: etcd-peer
    files: { dir: ${dir('etcd-peer')} }
    actions:
      - systemd: { unit: etcd.service, action: restart }
  apiserver:
    preset: apiserver
    altNames: [${(overrides.apiserverAltNames ?? []).join(', ')}]
    files: { dir: ${dir('apiserver')} }
    actions:
      - systemd: { unit: kube-apiserver.service, action: restart }
  kubelet-client:
    preset: kubelet-client
    mode: issue
    files: { dir: ${dir('kubelet-client')} }
    actions:
      - exec: ['${process.execPath}', '-e', 'require("fs").appendFileSync(process.argv[1], process.env.VPA_CERT_NAME + " " + process.env.VPA_CERT_DIR + String.fromCharCode(10))', '${execLog}']
`;
}

async function bootstrap(extra: string[] = [], env: Record<string, string> = {}) {
  return runAgent(['bootstrap', '--config', join(work, 'config.yaml'), ...extra], {
    env: {
      VPA_SYSTEMCTL: FAKE_SYSTEMCTL,
      FAKE_SYSTEMCTL_LOG: systemctlLog,
      FAKE_SYSTEMCTL_ACTIVE: 'etcd.service,kube-apiserver.service',
      ...env,
    },
  });
}

const lines = (file: string) => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};
const issuing = (paths: string[]) => paths.filter((p) => /\/(sign|issue)\//.test(p));

beforeAll(async () => {
  vault = await startOpenBao({ name: 'bootstrap', audit: true });
  pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'node', [
    `${pki.etcdMount}/member`,
    `${pki.k8sMount}/apiserver`,
    `${pki.k8sMount}/kubelet-client`,
  ]);
});

afterAll(async () => {
  await vault?.stop();
});

beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'vpa-bootstrap-'));
  tokenFile = join(work, 'token');
  systemctlLog = join(work, 'systemctl.log');
  execLog = join(work, 'exec.log');
  writeFileSync(tokenFile, `${await createToken(vault, { policies: ['node'], period: '1h' })}\n`, {
    mode: 0o600,
  });
  writeFileSync(join(work, 'config.yaml'), config());
  return () => rmSync(work, { recursive: true, force: true });
});

describe('bootstrap against a real OpenBao', () => {
  it('issues, verifies and writes every set, then runs each unit once in config order', async () => {
    vault.markAudit();
    const run = await bootstrap();
    expect(run.stderr).not.toMatch(/level=error/);
    expect(run.code).toBe(0);
    for (const name of SETS) {
      const dir = join(work, 'pki', name);
      // Independent check with openssl: the chain verifies to the mount's CA.
      const caFile = join(work, `${name}-mount-ca.pem`);
      writeFileSync(caFile, name === 'etcd-server' || name === 'etcd-peer' ? pki.ca.etcd : pki.ca.k8s);
      const out = execFileSync('openssl', ['verify', '-CAfile', caFile, join(dir, 'cert.pem')], {
        encoding: 'utf8',
      });
      expect(out.trim()).toBe(`${join(dir, 'cert.pem')}: OK`);
      expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, 'ca.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(readFileSync(join(dir, 'fullchain.pem'), 'utf8')).toContain(
        readFileSync(join(dir, 'cert.pem'), 'utf8').trim(),
      );
    }
    // From nothing: one sign/issue per set and nothing else: no token lookup (the first request proves the
    // token) and no CA read (each set is verified against the CA in Vault's own answer).
    expect(vault.auditedPaths().filter((p) => !/\/(sign|issue)\//.test(p))).toEqual([]);
    // Four sets issued: exactly one sign/issue request each.
    expect(issuing(vault.auditedPaths()).sort()).toEqual(
      [
        `${pki.etcdMount}/sign/member`,
        `${pki.etcdMount}/sign/member`,
        `${pki.k8sMount}/sign/apiserver`,
        `${pki.k8sMount}/issue/kubelet-client`,
      ].sort(),
    );
    // etcd.service is fed by two sets but restarted once, after both; then kube-apiserver.
    const restarts = lines(systemctlLog).filter((l) => !l.includes('is-active'));
    expect(restarts).toEqual(['restart etcd.service', 'restart kube-apiserver.service']);
    expect(lines(execLog)).toEqual([`kubelet-client ${join(work, 'pki', 'kubelet-client')}`]);
  });

  it('the apiserver certificate carries every SAN of the reference table', async () => {
    expect((await bootstrap()).code).toBe(0);
    const cert = new X509Certificate(readFileSync(join(work, 'pki', 'apiserver', 'cert.pem')));
    const sans = (cert.subjectAltName ?? '').split(', ').sort();
    for (const want of [
      'DNS:node-1',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
      'DNS:api.c1.example.internal',
      'IP Address:10.96.0.1',
      'IP Address:10.0.0.10',
    ]) {
      expect(sans).toContain(want);
    }
    expect(cert.subject).toContain('CN=kube-apiserver');
    const etcd = new X509Certificate(readFileSync(join(work, 'pki', 'etcd-peer', 'cert.pem')));
    for (const want of [
      'DNS:node-1',
      'DNS:localhost',
      'IP Address:10.0.0.10',
      'IP Address:127.0.0.1',
      'IP Address:0:0:0:0:0:0:0:1',
    ]) {
      expect(etcd.subjectAltName?.split(', ')).toContain(want);
    }
  });

  it('a second run with nothing due: zero sign/issue requests, files untouched, no action', async () => {
    expect((await bootstrap()).code).toBe(0);
    const before = SETS.flatMap((n) =>
      ['cert.pem', 'key.pem', 'ca.pem', 'fullchain.pem'].map((f) => {
        const st = statSync(join(work, 'pki', n, f));
        return `${n}/${f}:${st.ino}:${st.mtimeMs}`;
      }),
    );
    const actionsBefore = [
      lines(systemctlLog).filter((l) => !l.includes('is-active')).length,
      lines(execLog).length,
    ];
    vault.markAudit();
    const second = await bootstrap();
    expect(second.code).toBe(0);
    expect(issuing(vault.auditedPaths())).toEqual([]);
    const after = SETS.flatMap((n) =>
      ['cert.pem', 'key.pem', 'ca.pem', 'fullchain.pem'].map((f) => {
        const st = statSync(join(work, 'pki', n, f));
        return `${n}/${f}:${st.ino}:${st.mtimeMs}`;
      }),
    );
    expect(after).toEqual(before);
    const restarts = () => lines(systemctlLog).filter((l) => !l.includes('is-active')).length;
    expect([restarts(), lines(execLog).length]).toEqual(actionsBefore);
    expect(second.stdout).toMatch(/etcd-server\s+up-to-date/);
  });

  it('changing one SAN re-issues only that set, logs the reason, runs its unit once', async () => {
    expect((await bootstrap()).code).toBe(0);
    writeFileSync(join(work, 'config.yaml'), config({ apiserverAltNames: ['api2.c1.example.internal'] }));
    const restartsBefore = lines(systemctlLog).filter((l) => !l.includes('is-active')).length;
    vault.markAudit();
    const run = await bootstrap();
    expect(run.code).toBe(0);
    expect(issuing(vault.auditedPaths())).toEqual([`${pki.k8sMount}/sign/apiserver`]);
    expect(run.stderr).toMatch(
      /certificate=apiserver.*reason=sans-changed|reason=sans-changed.*certificate=apiserver/,
    );
    expect(run.stderr).toContain('api2.c1.example.internal');
    const restarts = lines(systemctlLog)
      .filter((l) => !l.includes('is-active'))
      .slice(restartsBefore);
    expect(restarts).toEqual(['restart kube-apiserver.service']);
  });

  it('a failing systemctl gives exit 6 naming the unit; the sets are still in place', async () => {
    const run = await bootstrap([], { FAKE_SYSTEMCTL_FAIL: 'kube-apiserver.service' });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain('kube-apiserver.service');
    expect(readFileSync(join(work, 'pki', 'apiserver', 'cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it('--dry-run decides and prints the plan without issuing or writing', async () => {
    vault.markAudit();
    const run = await bootstrap(['--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/etcd-server\s+would-issue\s+reason: certificate files are missing/);
    expect(issuing(vault.auditedPaths())).toEqual([]);
    expect(() => statSync(join(work, 'pki', 'etcd-server', 'cert.pem'))).toThrow();
  });

  it('--only limits the run; an unknown name is a usage error', async () => {
    const run = await bootstrap(['--only', 'etcd-peer']);
    expect(run.code).toBe(0);
    expect(() => statSync(join(work, 'pki', 'etcd-server', 'cert.pem'))).toThrow();
    expect(statSync(join(work, 'pki', 'etcd-peer', 'cert.pem')).isFile()).toBe(true);
    const bad = await bootstrap(['--only', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--only names no configured certificate: nope/);
  });

  it('an expired token: exit 4 with "token expired or revoked", nothing written, token not printed', async () => {
    const token = await createToken(vault, { policies: ['node'], ttl: '1s' });
    writeFileSync(tokenFile, token, { mode: 0o600 });
    await new Promise((r) => setTimeout(r, 1500));
    const run = await bootstrap();
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/token expired or revoked/);
    expect(run.stderr + run.stdout).not.toContain(token);
    expect(() => statSync(join(work, 'pki', 'etcd-server'))).toThrow();
  });

  it('under DEBUG=* every stderr line is still one of the agent JSON log lines', async () => {
    // A bundled package's `debug` (node-vault's, until it was dropped) would print its own lines into a JSON log stream.
    const run = await bootstrap(['--only', 'etcd-peer', '--log-format', 'json', '--log-level', 'debug'], {
      DEBUG: '*',
    });
    expect(run.code).toBe(0);
    const stderr = run.stderr.split('\n').filter(Boolean);
    expect(stderr.length).toBeGreaterThan(3);
    for (const line of stderr) expect(() => JSON.parse(line), line).not.toThrow();
  });
});
