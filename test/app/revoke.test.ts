/**
 * `revoke` (decommission) against a real OpenBao: the node's current certificates are revoked by their PEM,
 * proven with their own keys (`revoke-with-key`), on roles that store no certificates; no file changes; a
 * node token cannot revoke a certificate whose key it does not hold.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgent } from '../support/agent.js';
// FAKE systemctl: revoke runs no action; the fake keeps any stray call off the host's systemd.
import { FAKE_SYSTEMCTL } from '../support/fake-systemctl/index.js';
import { writeTestNode } from '../support/node-setup.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import {
  createToken,
  provisionTestPki,
  revokeToken,
  TEST_ROLES,
  type TestPki,
} from '../support/vault-pki.js';

let vault: TestVault;
let pki: TestPki;
let work: string;
let node: { config: string; tokenFile: string };

const POLICY = 'revoke-node';

/** Serial numbers on the mount's CRL, lower-case hex without colons. */
function crlSerials(mount: string): Promise<string[]> {
  return fetch(`${vault.address}/v1/${mount}/crl/pem`)
    .then((r) => r.text())
    .then((pem) => {
      if (!pem.includes('BEGIN X509 CRL')) return [];
      const text = execFileSync('openssl', ['crl', '-noout', '-text'], { input: pem, encoding: 'utf8' });
      return [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase());
    });
}

const serialOf = (pemFile: string) =>
  execFileSync('openssl', ['x509', '-noout', '-serial', '-in', pemFile], { encoding: 'utf8' })
    .trim()
    .replace(/^serial=/, '')
    .toLowerCase();

const agent = (args: string[]) =>
  runAgent([...args, '--config', node.config], {
    env: { VPA_SYSTEMCTL: FAKE_SYSTEMCTL, FAKE_SYSTEMCTL_LOG: join(work, 'systemctl.log') },
  });

beforeAll(async () => {
  vault = await startOpenBao({ name: 'revoke' });
  pki = await provisionTestPki(vault, 'c1');
  // The roles these sets use store nothing (what provision writes): revocation must not need the store.
  for (const [kind, mount, role] of [
    ['etcd', pki.etcdMount, 'member'],
    ['k8s', pki.k8sMount, 'kubelet-client'],
  ] as const) {
    await vault.api('POST', `${mount}/roles/${role}`, {
      ...TEST_ROLES[kind][role],
      key_type: 'any',
      ttl: '1h',
      no_store: true,
      generate_lease: false,
    });
  }
  const hcl = [
    `path "${pki.etcdMount}/sign/member" { capabilities = ["update"] }`,
    `path "${pki.k8sMount}/issue/kubelet-client" { capabilities = ["update"] }`,
    `path "${pki.etcdMount}/revoke-with-key" { capabilities = ["update"] }`,
    `path "${pki.k8sMount}/revoke-with-key" { capabilities = ["update"] }`,
  ].join('\n');
  await vault.api('PUT', `sys/policies/acl/${POLICY}`, { policy: hcl });
  work = mkdtempSync(join(tmpdir(), 'vpa-revoke-'));
  node = await writeTestNode(vault, {
    work,
    policies: [POLICY],
    period: '1h',
    certs: [
      { name: 'etcd-peer', preset: 'etcd-peer' },
      { name: 'kubelet-client', preset: 'kubelet-client', mode: 'issue' },
      { name: 'never-issued', preset: 'etcd-server' },
    ],
  });
  const boot = await agent(['bootstrap', '--only', 'etcd-peer', '--only', 'kubelet-client']);
  expect(boot.code, boot.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await vault?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('revoke', () => {
  it("revokes the node's current certificates by PEM on roles that store nothing, and changes no file", async () => {
    const files = ['etcd-peer', 'kubelet-client'].map((n) => join(work, 'pki', n, 'cert.pem'));
    const serials = files.map(serialOf);
    const before = files.map((f) => ({ text: readFileSync(f, 'utf8'), mtime: statSync(f).mtimeMs }));
    expect(await crlSerials(pki.etcdMount)).not.toContain(serials[0]);

    const run = await agent(['revoke']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^etcd-peer: revoked serial [0-9a-f:]+ \(etcd\/c1\/pki\)$/m);
    expect(run.stdout).toMatch(/^kubelet-client: revoked serial /m);
    expect(run.stdout).toMatch(/^never-issued: nothing to revoke/m);
    expect(await crlSerials(pki.etcdMount)).toContain(serials[0]);
    expect(await crlSerials(pki.k8sMount)).toContain(serials[1]);
    // Nothing on disk changed (the units may still be stopping).
    files.forEach((f, i) => {
      expect(readFileSync(f, 'utf8')).toBe(before[i]!.text);
      expect(statSync(f).mtimeMs).toBe(before[i]!.mtime);
    });
    expect(run.stderr).not.toContain('PRIVATE KEY');
  });

  it('a node token cannot revoke a certificate whose key it does not hold, nor any serial', async () => {
    const victim = await vault.api('POST', `${pki.etcdMount}/issue/member`, {
      common_name: 'victim-node',
      key_type: 'ec',
      ttl: '1h',
    });
    const victimPem = String(victim.body.data?.certificate);
    const token = await createToken(vault, { policies: [POLICY], ttl: '10m' });
    const otherKey = readFileSync(join(work, 'pki', 'etcd-peer', 'key.pem'), 'utf8');
    const withWrongKey = await vault.api(
      'POST',
      `${pki.etcdMount}/revoke-with-key`,
      { certificate: victimPem, private_key: otherKey },
      { token, allowError: true },
    );
    // OpenBao answers 500 for a key that does not match the certificate.
    expect(withWrongKey.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(withWrongKey.body.errors)).toMatch(/key/i);
    const privileged = await vault.api(
      'POST',
      `${pki.etcdMount}/revoke`,
      { certificate: victimPem },
      { token, allowError: true },
    );
    expect(privileged.status).toBe(403);
    const victimSerial = String(victim.body.data?.serial_number).replaceAll(':', '');
    expect(await crlSerials(pki.etcdMount)).not.toContain(victimSerial);
  });

  it('--only limits it; a revoked token is exit 4 and names the certificate', async () => {
    const only = await agent(['revoke', '--only', 'etcd-peer']);
    expect(only.code, only.stderr).toBe(0);
    expect(only.stdout).toMatch(/^etcd-peer: revoked/m);
    expect(only.stdout).not.toContain('kubelet-client');

    const tokenFile = join(work, 'dead-token');
    const dead = await createToken(vault, { policies: [POLICY], ttl: '10m' });
    await revokeToken(vault, dead);
    writeFileSync(tokenFile, dead, { mode: 0o600 });
    const run = await runAgent(['revoke', '--config', node.config, '--token-file', tokenFile], { env: {} });
    expect(run.code).toBe(4);
    expect(run.stdout).toMatch(/^etcd-peer: not revoked: .*token/im);
    expect(run.stdout + run.stderr).not.toContain(dead);
  });
});
