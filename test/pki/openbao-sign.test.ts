/**
 * Our keys, CSRs and set assembly against a real OpenBao PKI engine: what Vault actually returns
 * for sign/issue (ca_chain shape, CN copied into SANs, key formats) must pass our verification,
 * and our "does the set still match" check must not ask for a re-issue of what Vault just gave.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeySpec } from '../../src/config/types.js';
import { WriteError } from '../../src/errors.js';
import { prepareCertificateSet } from '../../src/pki/assemble.js';
import { checkCertificateSet, type ExpectedCertificate, reissueFinding } from '../../src/pki/check-set.js';
import { createCsr } from '../../src/pki/csr.js';
import { describeCertificate, inspectCertificate } from '../../src/pki/inspect.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCertificates } from '../../src/pki/pem.js';
import { createVaultClient } from '../../src/vault/client.js';
import type { VaultClient } from '../../src/vault/vault-client.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { makeTempDir, opensslStatus } from '../support/openssl-ca.js';

const ROOT_MOUNT = 'etcd/c1/pki';
const INTER_MOUNT = 'k8s/c1/pki';
let vault: TestVault;
/** The agent's own client: answers reach assemble the way they do in a pass (shape checked once, by the adapter). */
let client: VaultClient;
const tmp = makeTempDir();
const names = (pem: string) => parseCertificates(pem, 'bundle').map((c) => describeCertificate(c).commonName);

async function caPem(mount: string): Promise<string> {
  const res = await fetch(`${vault.address}/v1/${mount}/ca/pem`);
  expect(res.status).toBe(200);
  return res.text();
}

const ROLE = {
  allow_any_name: true,
  enforce_hostnames: false,
  allow_ip_sans: true,
  allow_localhost: true,
  key_type: 'any',
  ttl: '24h',
  max_ttl: '72h',
};

beforeAll(async () => {
  vault = await startOpenBao({ name: 'pki-sign' });
  client = createVaultClient({
    settings: { address: vault.address, requestTimeoutMs: 10_000, skipVerify: false },
    token: vault.rootToken,
    timeoutMs: 10_000,
  });
  await vault.api('POST', `sys/mounts/${ROOT_MOUNT}`, { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await vault.api('POST', `${ROOT_MOUNT}/root/generate/internal`, {
    common_name: 'etcd-ca',
    ttl: '8760h',
    key_type: 'ec',
  });
  await vault.api('POST', `${ROOT_MOUNT}/roles/member`, ROLE);
  await vault.api('POST', `${ROOT_MOUNT}/roles/member-issue`, { ...ROLE, key_type: 'ec', key_bits: 256 });
  await vault.api('POST', `${ROOT_MOUNT}/roles/client`, { ...ROLE, server_flag: false });

  // An intermediate mount signed by the root mount.
  await vault.api('POST', `sys/mounts/${INTER_MOUNT}`, { type: 'pki', config: { max_lease_ttl: '8760h' } });
  const csr = await vault.api('POST', `${INTER_MOUNT}/intermediate/generate/internal`, {
    common_name: 'k8s-intermediate',
    key_type: 'ec',
  });
  const signed = await vault.api('POST', `${ROOT_MOUNT}/root/sign-intermediate`, {
    csr: csr.body.data?.csr,
    common_name: 'k8s-intermediate',
    ttl: '4380h',
  });
  // Import the parent with the intermediate: OpenBao only reports (in ca_chain) the issuers the
  // mount knows, so a set-signed with the intermediate alone gives a ca_chain without the root.
  await vault.api('POST', `${INTER_MOUNT}/intermediate/set-signed`, {
    certificate: `${signed.body.data?.certificate}\n${signed.body.data?.issuing_ca}`,
  });
  await vault.api('POST', `${INTER_MOUNT}/roles/apiserver`, { ...ROLE, client_flag: false });
}, 60_000);

afterAll(async () => {
  await vault?.stop();
  tmp.cleanup();
});

async function sign(mount: string, role: string, spec: KeySpec, subject: ExpectedCertificate) {
  const key = await generateKey(spec);
  const csr = createCsr(key, subject);
  const res = await client.sign(mount, role, csr, { commonName: subject.commonName, ttl: '24h' });
  return { key, data: res.data };
}

const ETCD: ExpectedCertificate = {
  commonName: 'etcd-1.internal',
  // The CN is deliberately not listed: Vault copies it into the DNS SANs.
  dnsSans: ['localhost'],
  ipSans: ['10.0.1.5', '127.0.0.1', '::1'],
  usages: ['server', 'client'],
};

describe('sets from a real OpenBao', () => {
  it.each([[{ type: 'ec', bits: 256 }], [{ type: 'ec', bits: 384 }], [{ type: 'rsa', bits: 2048 }]] as [
    KeySpec,
  ][])('root mount, sign with a %o key: verifies, openssl agrees, nothing to re-issue', async (spec) => {
    const { key, data } = await sign(ROOT_MOUNT, 'member', spec, ETCD);
    expect(Array.isArray(data.caChain)).toBe(true);
    const now = new Date();
    const set = prepareCertificateSet({
      name: 'etcd-server',
      data,
      privateKeyPem: key.privateKeyPem,
      expected: ETCD,
      now,
    });
    expect(set.leaf.serial).toBe(data.serialNumber);
    expect(set.leaf.dnsSans.sort()).toEqual(['etcd-1.internal', 'localhost']);
    expect(set.leaf.ipSans).toEqual(['10.0.1.5', '127.0.0.1', '::1']);
    expect(set.leaf.extKeyUsages).toEqual(['serverAuth', 'clientAuth']);
    expect(set.leaf.key).toMatchObject({ type: spec.type, bits: spec.bits });
    expect(names(set.pems.ca)).toEqual(['etcd-ca']);
    expect(set.pems.fullchain).toBe(set.pems.cert);
    expect(set.mountCa).toBe(inspectCertificate(await caPem(ROOT_MOUNT)).pem);

    const caPath = join(tmp.dir, `root-ca-${spec.type}${spec.bits}.pem`);
    const certPath = join(tmp.dir, `root-cert-${spec.type}${spec.bits}.pem`);
    writeFileSync(caPath, set.pems.ca);
    writeFileSync(certPath, set.pems.cert);
    expect(opensslStatus(['verify', '-CAfile', caPath, certPath]).output).toContain(': OK');

    const reason = reissueFinding(
      checkCertificateSet({
        files: set.pems,
        expected: { ...ETCD, key: spec, mode: 'sign' },
        now,
        mountCaPem: await caPem(ROOT_MOUNT),
      }),
    );
    expect(reason).toBeUndefined();
  });

  it('intermediate mount: ca.pem = intermediate + root, fullchain = leaf + intermediate, both verify', async () => {
    const subject: ExpectedCertificate = {
      commonName: 'kube-apiserver',
      dnsSans: ['kubernetes', 'kubernetes.default.svc.cluster.local'],
      ipSans: ['10.96.0.1'],
      usages: ['server'],
    };
    const { key, data } = await sign(INTER_MOUNT, 'apiserver', { type: 'ec', bits: 256 }, subject);
    const set = prepareCertificateSet({
      name: 'apiserver',
      data,
      privateKeyPem: key.privateKeyPem,
      expected: subject,
      now: new Date(),
    });
    expect(names(set.pems.ca)).toEqual(['k8s-intermediate', 'etcd-ca']);
    expect(names(set.pems.fullchain)).toEqual(['kube-apiserver', 'k8s-intermediate']);
    expect(set.leaf.extKeyUsages).toEqual(['serverAuth']);

    const paths = Object.fromEntries(
      Object.entries({ ...set.pems, root: await caPem(ROOT_MOUNT) }).map(([k, v]) => {
        const p = join(tmp.dir, `inter-${k}.pem`);
        writeFileSync(p, v);
        return [k, p];
      }),
    ) as Record<string, string>;
    expect(opensslStatus(['verify', '-CAfile', paths.ca!, paths.cert!]).output).toContain(': OK');
    expect(
      opensslStatus(['verify', '-CAfile', paths.root!, '-untrusted', paths.fullchain!, paths.cert!]).output,
    ).toContain(': OK');

    const reason = reissueFinding(
      checkCertificateSet({
        files: set.pems,
        expected: { ...subject, key: { type: 'ec', bits: 256 } },
        now: new Date(),
        mountCaPem: await caPem(INTER_MOUNT),
      }),
    );
    expect(reason).toBeUndefined();
  });

  it('issue mode: Vault generates the key; key.pem comes out PKCS#8 and matches', async () => {
    const { data } = await client.issue(ROOT_MOUNT, 'member-issue', {
      commonName: ETCD.commonName,
      altNames: [...ETCD.dnsSans],
      ipSans: [...ETCD.ipSans],
      ttl: '1h',
    });
    expect(String(data.privateKey)).toMatch(/BEGIN (EC )?PRIVATE KEY/);
    const set = prepareCertificateSet({ name: 'etcd-server', data, expected: ETCD, now: new Date() });
    expect(set.pems.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(
      reissueFinding(
        checkCertificateSet({
          files: set.pems,
          expected: { ...ETCD, key: { type: 'rsa', bits: 2048 }, mode: 'issue' },
          now: new Date(),
        }),
      ),
    ).toBeUndefined();
  });

  it('a role without serverAuth fails verification for an etcd server certificate', async () => {
    const { key, data } = await sign(ROOT_MOUNT, 'client', { type: 'ec', bits: 256 }, ETCD);
    expect(() =>
      prepareCertificateSet({
        name: 'etcd-server',
        data,
        privateKeyPem: key.privateKeyPem,
        expected: ETCD,
        now: new Date(),
      }),
    ).toThrow(WriteError);
    expect(() =>
      prepareCertificateSet({
        name: 'etcd-server',
        data,
        privateKeyPem: key.privateKeyPem,
        expected: ETCD,
        now: new Date(),
      }),
    ).toThrow(/lacks a required extended key usage: serverAuth/);
  });

  it('a CA rotated on the mount is detected as ca-changed', async () => {
    const { key, data } = await sign(ROOT_MOUNT, 'member', { type: 'ec', bits: 256 }, ETCD);
    const set = prepareCertificateSet({
      name: 'etcd-server',
      data,
      privateKeyPem: key.privateKeyPem,
      expected: ETCD,
      now: new Date(),
    });
    // A second root on the mount, made the default issuer.
    const rotated = await vault.api('POST', `${ROOT_MOUNT}/root/rotate/internal`, {
      common_name: 'etcd-ca',
      ttl: '8760h',
      key_type: 'ec',
    });
    await vault.api('POST', `${ROOT_MOUNT}/config/issuers`, { default: rotated.body.data?.issuer_id });
    const reason = reissueFinding(
      checkCertificateSet({
        files: set.pems,
        expected: { ...ETCD, key: { type: 'ec', bits: 256 } },
        now: new Date(),
        mountCaPem: await caPem(ROOT_MOUNT),
      }),
    );
    expect(reason?.code).toBe('ca-changed');
  });
});
