import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError, ExitCode } from '../../src/errors.js';
import { createVaultClient, type VaultClientOptions } from '../../src/vault/client.js';
import { resolveVaultSettings } from '../../src/vault/settings.js';
import { createMemoryLogger } from '../support/memory-logger.js';
import { startOpenBao, type TestVault, vaultVersion } from '../support/openbao.js';
import {
  createToken,
  provisionTestPki,
  revokeToken,
  type TestPki,
  writePolicy,
} from '../support/vault-pki.js';

let vault: TestVault;
let pki: TestPki;
const log = createMemoryLogger();
const tokens: string[] = [];

function clientFor(token: string, extra: Partial<VaultClientOptions> = {}) {
  tokens.push(token);
  return createVaultClient({
    settings: resolveVaultSettings({ address: vault.address }, {}),
    token,
    timeoutMs: 15_000,
    backoff: { baseMs: 50, capMs: 400 },
    log,
    ...extra,
  });
}

async function caught(p: Promise<unknown>): Promise<AgentError> {
  try {
    await p;
  } catch (e) {
    if (AgentError.is(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  console.log(`running against ${vaultVersion()}`);
  vault = await startOpenBao({ name: 'client' });
  pki = await provisionTestPki(vault, 'c1', { maxTtl: '72h' });
  await writePolicy(vault, 'etcd-member', [`${pki.etcdMount}/member`, `${pki.etcdMount}/restricted`]);
  await vault.api('PUT', `sys/policies/acl/pki-read`, {
    policy: `path "${pki.etcdMount}/roles/*" { capabilities = ["read"] }`,
  });
});

afterAll(async () => {
  await vault?.stop();
  // No token ever reached a log line.
  const all = log.lines.join('\n');
  for (const t of [...tokens, vault.rootToken].filter(Boolean)) expect(all).not.toContain(t);
});

describe('VaultClient against a real OpenBao', () => {
  it('looks up its own token', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'], period: '1h' });
    const info = await clientFor(token).lookupSelf();
    expect(info.policies).toContain('etcd-member');
    expect(info.periodSeconds).toBe(3600);
    expect(info.renewable).toBe(true);
    expect(info.ttlSeconds).toBeGreaterThan(3500);
  });

  it('renews a periodic token (TTL reset to the period)', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'], period: '1h' });
    const c = clientFor(token);
    const renewed = await c.renewSelf();
    expect(renewed.renewable).toBe(true);
    expect(renewed.leaseDurationSeconds).toBe(3600);
  });

  it('signs a CSR and issues with a Vault-generated key; warnings are returned', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'] });
    const c = clientFor(token);
    const issued = await c.issue(pki.etcdMount, 'member', {
      commonName: 'etcd-1',
      keyType: 'ec',
      altNames: ['etcd-1', 'localhost'],
      ipSans: ['10.0.0.5', '127.0.0.1'],
      ttl: '1h',
    });
    expect(issued.data.privateKey).toMatch(/PRIVATE KEY/);
    const cert = new X509Certificate(issued.data.certificate);
    expect(cert.subjectAltName).toContain('IP Address:10.0.0.5');
    expect(cert.checkIssued(new X509Certificate(pki.ca.etcd))).toBe(true);
    expect(issued.data.caChain.length).toBeGreaterThan(0);
    expect(issued.data.serialNumber).toMatch(/^[0-9a-f:]+$/);
  });

  it('signs a CSR made on the host (openssl): CN and SANs come from the CSR', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'] });
    const csr = execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        '/dev/null',
        '-subj',
        '/CN=etcd-3',
        '-addext',
        'subjectAltName=DNS:etcd-3,IP:10.0.0.7',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const signed = await clientFor(token).sign(pki.etcdMount, 'member', csr, {
      commonName: 'etcd-3',
      ttl: '1h',
    });
    expect(signed.data.privateKey).toBeUndefined();
    const cert = new X509Certificate(signed.data.certificate);
    expect(cert.subject).toContain('CN=etcd-3');
    expect(cert.subjectAltName).toContain('IP Address:10.0.0.7');
  });

  it('reads the CA chain of a mount and a role', async () => {
    const token = await createToken(vault, { policies: ['pki-read'] });
    const c = clientFor(token);
    const chain = await c.readCaChain(pki.etcdMount);
    expect(chain[0]?.trim()).toBe(pki.ca.etcd.trim());
    const role = await c.readRole(pki.etcdMount, 'member');
    expect(role?.allow_ip_sans).toBe(true);
    expect(await c.readRole(pki.etcdMount, 'nope')).toBeUndefined();
  });

  it('TTL above max_ttl: issued, clamped to max_ttl, warning surfaced', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'] });
    const before = log.lines.length;
    const issued = await clientFor(token).issue(
      pki.etcdMount,
      'member',
      { commonName: 'etcd-2', ttl: '8760h', keyType: 'ec' },
      { certName: 'etcd-server' },
    );
    expect(issued.warnings.join(' ')).toMatch(/longer than permitted maxTTL/);
    const lifetimeH = (issued.data.expiration * 1000 - Date.now()) / 3_600_000;
    expect(lifetimeH).toBeGreaterThan(71);
    expect(lifetimeH).toBeLessThanOrEqual(72.01);
    expect(log.lines.slice(before).join('\n')).toMatch(/vault warning.*certificate=etcd-server.*maxTTL/);
  });

  it('expired token -> token-invalid, exit 4', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'], ttl: '1s' });
    await new Promise((r) => setTimeout(r, 2100));
    const err = await caught(
      clientFor(token).issue(pki.etcdMount, 'member', { commonName: 'etcd-1', keyType: 'ec' }),
    );
    expect(err.code).toBe('token-invalid');
    expect(err.exitCode).toBe(ExitCode.vaultRefused);
    expect(err.message).toMatch(/token expired or revoked/);
    expect(err.message).not.toContain(token);
  });

  it('revoked token -> token-invalid, exit 4', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'] });
    await revokeToken(vault, token);
    const err = await caught(clientFor(token).lookupSelf());
    expect(err.code).toBe('token-invalid');
    expect(err.exitCode).toBe(4);
  });

  it('valid token without the policy -> permission-denied naming the path', async () => {
    const token = await createToken(vault, { policies: ['default'] });
    const err = await caught(
      clientFor(token).issue(pki.k8sMount, 'apiserver', { commonName: 'kube-apiserver', keyType: 'ec' }),
    );
    expect(err.code).toBe('permission-denied');
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain(`${pki.k8sMount}/issue/apiserver`);
  });

  it('role rejecting a common name -> role-rejected with Vault words and the certificate name', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'] });
    const err = await caught(
      clientFor(token).issue(
        pki.etcdMount,
        'restricted',
        { commonName: 'evil.example.com', keyType: 'ec' },
        { certName: 'etcd-peer' },
      ),
    );
    expect(err.code).toBe('role-rejected');
    expect(err.exitCode).toBe(4);
    expect(err.message).toContain('common name evil.example.com not allowed by this role');
    expect(err.message).toContain('etcd-peer');
    expect(err.message).toContain(`${pki.etcdMount}/roles/restricted`);
  });

  it('IP SAN on a role with allow_ip_sans=false -> role-rejected', async () => {
    const token = await createToken(vault, { policies: ['etcd-member'] });
    const err = await caught(
      clientFor(token).issue(
        pki.etcdMount,
        'restricted',
        { commonName: 'a.example.internal', ipSans: ['10.1.2.3'], keyType: 'ec' },
        { certName: 'etcd-peer' },
      ),
    );
    expect(err.code).toBe('role-rejected');
    expect(err.message).toMatch(/IP Subject Alternative Names are not allowed in this role/);
  });

  it('response-wrapped token: unwraps once; a second unwrap is a clear interception error', async () => {
    const wrapping = await createToken(vault, { policies: ['etcd-member'], period: '1h', wrapTtl: '5m' });
    const isTokenCreate = (p: string) => p.startsWith('auth/token/create');
    const c = clientFor('');
    const token = await c.unwrapToken(wrapping, isTokenCreate);
    expect(token).not.toBe(wrapping);
    c.setToken(token);
    expect((await c.lookupSelf()).policies).toContain('etcd-member');
    const again = await caught(clientFor('').unwrapToken(wrapping, isTokenCreate));
    expect(again.code).toBe('wrapping-token-invalid');
    expect(again.exitCode).toBe(4);
    expect(again.message).toMatch(/already used or expired — possible interception/);
  });

  it('refuses to unwrap a wrapping token created by an unexpected path', async () => {
    const wrapped = await vault.api(
      'POST',
      `${pki.etcdMount}/issue/member`,
      { common_name: 'x', key_type: 'ec' },
      { wrapTtl: '5m' },
    );
    const wrapping = String((wrapped.body.wrap_info as { token: string }).token);
    const err = await caught(clientFor('').unwrapToken(wrapping, (p) => p.startsWith('auth/token/create')));
    expect(err.code).toBe('wrapping-path-mismatch');
    expect(err.message).toContain(`${pki.etcdMount}/issue/member`);
  });
});

describe('VaultClient when Vault is sealed, down or rate limited', () => {
  it('sealed, then unsealed within the deadline: the call succeeds after retries', async () => {
    const c = clientFor(vault.rootToken);
    await vault.seal();
    const pending = c.lookupSelf();
    await new Promise((r) => setTimeout(r, 1200));
    await vault.unseal();
    const info = await pending;
    expect(info.policies).toContain('root');
    expect(c.stats.retries).toBeGreaterThan(0);
    expect(log.lines.some((l) => /retrying.*sealed/.test(l))).toBe(true);
  });

  it('sealed past the deadline -> vault-sealed, exit 5', async () => {
    await vault.seal();
    try {
      const err = await caught(clientFor(vault.rootToken, { timeoutMs: 1500 }).lookupSelf());
      expect(err.code).toBe('vault-sealed');
      expect(err.exitCode).toBe(ExitCode.vaultUnavailable);
    } finally {
      await vault.unseal();
    }
  });

  it('429 from a rate-limit quota: retried honouring Retry-After, then success', async () => {
    await vault.api('POST', 'sys/quotas/config', { enable_rate_limit_response_headers: true });
    await vault.api('POST', 'sys/quotas/rate-limit/test-pki', {
      path: `${pki.etcdMount}/`,
      rate: 1,
      interval: '2s',
    });
    try {
      const token = await createToken(vault, { policies: ['etcd-member'] });
      const delays: number[] = [];
      const c = clientFor(token, { backoff: { baseMs: 10, capMs: 20 } });
      const seen = createMemoryLogger();
      const c2 = createVaultClient({
        settings: resolveVaultSettings({ address: vault.address }, {}),
        token,
        timeoutMs: 20_000,
        backoff: { baseMs: 10, capMs: 20 },
        log: seen,
        sleep: (ms) => {
          delays.push(ms);
          return new Promise((r) => setTimeout(r, ms));
        },
      });
      await c.issue(pki.etcdMount, 'member', { commonName: 'rl-1', keyType: 'ec' });
      const second = await c2.issue(pki.etcdMount, 'member', { commonName: 'rl-2', keyType: 'ec' });
      expect(second.data.certificate).toMatch(/BEGIN CERTIFICATE/);
      expect(c2.stats.retries).toBeGreaterThan(0);
      // Backoff alone would wait at most 20 ms; Retry-After (whole seconds) made it wait >= 1 s.
      expect(Math.max(...delays)).toBeGreaterThanOrEqual(1000);
      expect(seen.lines.join('\n')).toMatch(/rate limit/);
    } finally {
      await vault.api('DELETE', 'sys/quotas/rate-limit/test-pki');
    }
  });

  it('server down, then up within the deadline: the call succeeds', async () => {
    const c = clientFor(vault.rootToken);
    await vault.stop();
    const pending = c.lookupSelf();
    await new Promise((r) => setTimeout(r, 1000));
    await vault.restart();
    pki = await provisionTestPki(vault, 'c1', { maxTtl: '72h' });
    const info = await pending;
    expect(info.policies).toContain('root');
    expect(c.stats.retries).toBeGreaterThan(0);
  });

  it('server down past the deadline -> vault-unavailable, exit 5', async () => {
    const c = clientFor(vault.rootToken, { timeoutMs: 1500 });
    await vault.stop();
    try {
      const err = await caught(c.lookupSelf());
      expect(err.code).toBe('vault-unavailable');
      expect(err.exitCode).toBe(5);
      expect(err.message).toMatch(/connection refused.*gave up after \d+ attempts/);
    } finally {
      await vault.restart();
    }
  });
});
