import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentError, VaultUnavailableError, WriteError } from '../../src/errors.js';
import { assembleCertificateSet, prepareCertificateSet } from '../../src/pki/assemble.js';
import type { ExpectedCertificate } from '../../src/pki/check-set.js';
import { createCsr } from '../../src/pki/csr.js';
import { describeCertificate } from '../../src/pki/inspect.js';
import type { IssuedCertificate } from '../../src/pki/issued.js';
import { generateKey } from '../../src/pki/keys.js';
import { parseCertificates } from '../../src/pki/pem.js';
import { issued } from '../support/issued.js';
import {
  createTestCa,
  makeTempDir,
  openssl,
  opensslStatus,
  signCsr,
  type TestCa,
} from '../support/openssl-ca.js';

const tmp = makeTempDir();
let root: TestCa;
let intermediate: TestCa;

const EXPECTED: ExpectedCertificate = {
  commonName: 'kube-apiserver',
  dnsSans: ['kubernetes', 'kubernetes.default'],
  ipSans: ['10.96.0.1'],
  usages: ['server'],
};

beforeAll(() => {
  root = createTestCa(tmp.dir, 'k8s-root');
  intermediate = createTestCa(tmp.dir, 'k8s-intermediate', { parent: root });
});
afterAll(() => tmp.cleanup());

async function signed(ca: TestCa) {
  const key = await generateKey({ type: 'ec', bits: 256 });
  const certificate = signCsr(
    ca,
    createCsr(key, { commonName: 'kube-apiserver', dnsSans: EXPECTED.dnsSans, ipSans: EXPECTED.ipSans }),
  );
  return { key, certificate };
}

const names = (pem: string) => parseCertificates(pem, 'bundle').map((c) => describeCertificate(c).commonName);

function opensslVerify(files: Record<string, string>, args: (p: Record<string, string>) => string[]) {
  const paths: Record<string, string> = {};
  for (const [name, content] of Object.entries(files)) {
    paths[name] = join(tmp.dir, `${Math.random().toString(36).slice(2)}-${name}.pem`);
    writeFileSync(paths[name], content);
  }
  return opensslStatus(['verify', ...args(paths)]);
}

describe('assembleCertificateSet', () => {
  it('root mount: ca.pem is the root, fullchain.pem is the leaf alone', async () => {
    const { key, certificate } = await signed(root);
    const set = assembleCertificateSet(
      'apiserver',
      issued({ certificate, issuingCa: root.certPem, caChain: [root.certPem] }),
      key.privateKeyPem,
    );
    expect(names(set.pems.cert)).toEqual(['kube-apiserver']);
    expect(names(set.pems.ca)).toEqual(['k8s-root']);
    expect(names(set.pems.fullchain)).toEqual(['kube-apiserver']);
    expect(set.pems.key).toBe(key.privateKeyPem);
    expect(names(set.mountCa)).toEqual(['k8s-root']);
    const v = opensslVerify({ ca: set.pems.ca, cert: set.pems.cert }, (p) => ['-CAfile', p.ca!, p.cert!]);
    expect(v.output).toContain(': OK');
  });

  it('intermediate mount: ca.pem holds intermediate then root, fullchain.pem the leaf and intermediate', async () => {
    const { key, certificate } = await signed(intermediate);
    // Vault >= 1.11 lists the issuer and its parents; give them in the wrong order on purpose.
    const set = assembleCertificateSet(
      'apiserver',
      issued({ certificate, issuingCa: intermediate.certPem, caChain: [root.certPem, intermediate.certPem] }),
      key.privateKeyPem,
    );
    expect(names(set.pems.ca)).toEqual(['k8s-intermediate', 'k8s-root']);
    expect(names(set.pems.fullchain)).toEqual(['kube-apiserver', 'k8s-intermediate']);
    expect(names(set.mountCa)).toEqual(['k8s-intermediate']);
    // openssl agrees: the leaf verifies with ca.pem alone, and fullchain's intermediate completes
    // the path to the root alone.
    expect(
      opensslVerify({ ca: set.pems.ca, c: set.pems.cert }, (p) => ['-CAfile', p.ca!, p.c!]).output,
    ).toContain(': OK');
    expect(
      opensslVerify({ root: root.certPem, fc: set.pems.fullchain, c: set.pems.cert }, (p) => [
        '-CAfile',
        p.root!,
        '-untrusted',
        p.fc!,
        p.c!,
      ]).output,
    ).toContain(': OK');
    expect(
      opensslVerify({ root: root.certPem, c: set.pems.cert }, (p) => ['-CAfile', p.root!, p.c!]).output,
    ).not.toContain(': OK');
  });

  it('falls back to issuing_ca when ca_chain is missing, and reads every PEM block of a ca_chain entry', async () => {
    const { key, certificate } = await signed(intermediate);
    const a = assembleCertificateSet(
      'apiserver',
      issued({ certificate, issuingCa: intermediate.certPem }),
      key.privateKeyPem,
    );
    expect(names(a.pems.ca)).toEqual(['k8s-intermediate']);
    expect(names(a.pems.fullchain)).toEqual(['kube-apiserver', 'k8s-intermediate']);
    const b = assembleCertificateSet(
      'apiserver',
      issued({ certificate, caChain: [`${intermediate.certPem}${root.certPem}`] }),
      key.privateKeyPem,
    );
    expect(names(b.pems.ca)).toEqual(['k8s-intermediate', 'k8s-root']);
  });

  it('issue mode: converts a PKCS#1 or SEC1 key from Vault to PKCS#8', async () => {
    const { key, certificate } = await signed(root);
    const sec1 = key.privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    const set = assembleCertificateSet(
      'apiserver',
      issued({ certificate, issuingCa: root.certPem, privateKey: sec1, privateKeyType: 'ec' }),
    );
    expect(set.pems.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(openssl(['pkey', '-pubout'], set.pems.key)).toBe(openssl(['pkey', '-pubout'], sec1));
  });

  it.each([
    ['no certificate', issued({}), undefined, /field certificate: empty/],
    [
      'a certificate that is not PEM',
      issued({ certificate: 'garbage', issuingCa: 'x' }),
      'k',
      /field certificate: no PEM certificate found/,
    ],
    ['neither ca_chain nor issuing_ca', 'leaf-only', 'k', /neither ca_chain nor issuing_ca/],
    ['issue mode without private_key', 'no-key', undefined, /has no private_key/],
    ['a private key although we sent a CSR', 'extra-key', 'k', /carries a private key/],
  ])('rejects an answer with %s as vault-bad-response', async (_label, shape, keyPem, message) => {
    const { key, certificate } = await signed(root);
    const data =
      shape === 'leaf-only'
        ? issued({ certificate })
        : shape === 'no-key'
          ? issued({ certificate, issuingCa: root.certPem })
          : shape === 'extra-key'
            ? issued({ certificate, issuingCa: root.certPem, privateKey: key.privateKeyPem })
            : (shape as IssuedCertificate);
    let error: unknown;
    try {
      assembleCertificateSet('apiserver', data, keyPem === undefined ? undefined : key.privateKeyPem);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VaultUnavailableError);
    expect((error as AgentError).code).toBe('vault-bad-response');
    expect((error as Error).message).toMatch(/^certificate "apiserver": Vault answer /);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('PRIVATE KEY');
  });
});

describe('prepareCertificateSet', () => {
  it('returns verified files and the leaf facts', async () => {
    const { key, certificate } = await signed(root);
    const set = prepareCertificateSet({
      name: 'apiserver',
      data: issued({ certificate, issuingCa: root.certPem, caChain: [root.certPem] }),
      privateKeyPem: key.privateKeyPem,
      expected: EXPECTED,
      now: new Date(),
    });
    expect(set.leaf.commonName).toBe('kube-apiserver');
    expect(set.verification.findings).toEqual([]);
  });

  it('refuses a set whose chain does not lead to the issuing CA Vault named', async () => {
    const { key, certificate } = await signed(root);
    expect(() =>
      prepareCertificateSet({
        name: 'apiserver',
        data: issued({ certificate, issuingCa: intermediate.certPem }),
        privateKeyPem: key.privateKeyPem,
        expected: EXPECTED,
        now: new Date(),
      }),
    ).toThrow(WriteError);
  });

  it('refuses a set whose key is not the one we generated', async () => {
    const { certificate } = await signed(root);
    const other = await generateKey({ type: 'ec', bits: 256 });
    expect(() =>
      prepareCertificateSet({
        name: 'apiserver',
        data: issued({ certificate, issuingCa: root.certPem }),
        privateKeyPem: other.privateKeyPem,
        expected: EXPECTED,
        now: new Date(),
      }),
    ).toThrow(/certificate "apiserver" failed verification: the key does not belong to the certificate/);
  });
});
