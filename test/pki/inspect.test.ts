import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { createCsr } from '../../src/pki/csr.js';
import { allowsUsage, describeCertificate, inspectCertificate } from '../../src/pki/inspect.js';
import { generateKey } from '../../src/pki/keys.js';
import { joinPem, parseCertificates, parsePrivateKey, splitPemBundle } from '../../src/pki/pem.js';
import {
  createTestCa,
  makeTempDir,
  openssl,
  opensslTime,
  signCsr,
  type TestCa,
} from '../support/openssl-ca.js';

const tmp = makeTempDir();
let root: TestCa;
let leafPem: string;
let leafPath: string;
const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000);
const notAfter = new Date(notBefore.getTime() + 7 * 86400_000);

beforeAll(async () => {
  root = createTestCa(tmp.dir, 'inspect-root', { keyType: 'rsa' });
  const key = await generateKey({ type: 'ec', bits: 384 });
  const csr = createCsr(key, {
    commonName: 'etcd-1',
    dnsSans: ['etcd-1', 'localhost'],
    ipSans: ['10.0.1.5', '127.0.0.1', '0:0:0:0:0:0:0:1'],
  });
  leafPem = signCsr(root, csr, {
    startDate: opensslTime(notBefore),
    endDate: opensslTime(notAfter),
    eku: 'serverAuth, clientAuth, 1.3.6.1.4.1.99999.1',
  });
  leafPath = join(tmp.dir, 'leaf.pem');
  writeFileSync(leafPath, leafPem);
});
afterAll(() => tmp.cleanup());

function caught(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (error) {
    if (AgentError.is(error)) return error;
    throw error;
  }
  throw new Error('expected a typed error');
}

describe('inspectCertificate, compared with what openssl reads', () => {
  it('reads CN, SANs, serial, validity, key, EKUs and issuer', () => {
    const info = inspectCertificate(leafPem);
    expect(info.commonName).toBe('etcd-1');
    expect(info.dnsSans).toEqual(['etcd-1', 'localhost']);
    expect(info.ipSans).toEqual(['10.0.1.5', '127.0.0.1', '::1']);
    expect(info.notBefore.toISOString()).toBe(notBefore.toISOString());
    expect(info.notAfter.toISOString()).toBe(notAfter.toISOString());
    expect(info.key).toEqual({ type: 'ec', bits: 384, curve: 'secp384r1' });
    expect(info.extKeyUsages).toEqual(['serverAuth', 'clientAuth', '1.3.6.1.4.1.99999.1']);
    expect(info.issuerCommonName).toBe('inspect-root');
    expect(info.isCa).toBe(false);
    expect(info.selfSigned).toBe(false);

    const serial = openssl(['x509', '-in', leafPath, '-noout', '-serial'])
      .trim()
      .replace(/^serial=/, '');
    expect(info.serial).toBe(serial.toLowerCase().match(/../g)!.join(':'));
    expect(info.serial).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
    const fingerprint = openssl(['x509', '-in', leafPath, '-noout', '-fingerprint', '-sha256']).trim();
    expect(fingerprint).toBe(`sha256 Fingerprint=${info.fingerprint256}`);
  });

  it('reads a self-signed RSA CA', () => {
    const info = inspectCertificate(root.certPem);
    expect(info).toMatchObject({
      commonName: 'inspect-root',
      isCa: true,
      selfSigned: true,
      key: { type: 'rsa', bits: 2048 },
    });
    expect(info.extKeyUsages).toBeUndefined();
    // No EKU extension means any usage.
    expect(allowsUsage(info, 'server')).toBe(true);
  });

  it('allowsUsage follows the EKU list', () => {
    expect(allowsUsage({ extKeyUsages: ['clientAuth'] }, 'client')).toBe(true);
    expect(allowsUsage({ extKeyUsages: ['clientAuth'] }, 'server')).toBe(false);
    expect(allowsUsage({ extKeyUsages: ['anyExtendedKeyUsage'] }, 'server')).toBe(true);
  });
});

describe('PEM bundles', () => {
  it('splits a bundle with comments between blocks and CRLF line ends into canonical PEMs', () => {
    const bundle = `subject=CN = etcd-1\r\n${leafPem.replace(/\n/g, '\r\n')}\r\nissuer=...\n${root.certPem}`;
    const parts = splitPemBundle(bundle, 'bundle');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(inspectCertificate(leafPem).pem);
    expect(parts[1]).toBe(root.certPem);
    const bundle2 = parseCertificates(joinPem(parts), 'bundle').map((c) => describeCertificate(c));
    expect(bundle2.map((c) => c.commonName)).toEqual(['etcd-1', 'inspect-root']);
  });

  it.each([
    ['empty text', '', /empty/],
    ['no PEM', 'hello', /no PEM certificate/],
    ['a truncated block', () => leafPem.slice(0, 200), /truncated/],
    [
      'a key in a certificate bundle',
      () => `${leafPem}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`,
      /unexpected PEM block "PRIVATE KEY"/,
    ],
    ['mismatched BEGIN/END', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n', /ends with END/],
    ['invalid base64', '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n', /not valid base64/],
    [
      'bytes that are not a certificate',
      '-----BEGIN CERTIFICATE-----\nAAAABBBB\n-----END CERTIFICATE-----\n',
      /cannot be parsed/,
    ],
  ])('rejects %s with a typed error naming the input', (_label, input, message) => {
    const text = typeof input === 'function' ? input() : input;
    const error = caught(() => inspectCertificate(text, 'etcd-peer cert.pem'));
    expect(error.code).toBe('verification-failed');
    expect(error.message).toMatch(/^etcd-peer cert\.pem: /);
    expect(error.message).toMatch(message);
  });

  it('parses PKCS#8, PKCS#1 and SEC1 private keys; rejects encrypted and garbage keys without echoing them', () => {
    const rsa1 = openssl(['genrsa', '2048']);
    expect(rsa1).toContain('PRIVATE KEY');
    const traditional = openssl(['pkey', '-traditional'], rsa1);
    expect(traditional).toContain('BEGIN RSA PRIVATE KEY');
    expect(parsePrivateKey(traditional, 'k').asymmetricKeyType).toBe('rsa');
    const sec1 = openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    expect(parsePrivateKey(sec1, 'k').asymmetricKeyType).toBe('ec');

    const encrypted = openssl(['pkey', '-aes256', '-passout', 'pass:secret'], rsa1);
    expect(caught(() => parsePrivateKey(encrypted, 'key.pem')).message).toBe(
      'key.pem: the private key is encrypted',
    );
    const broken = sec1.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA');
    const error = caught(() => parsePrivateKey(broken, 'key.pem'));
    expect(error.message).toMatch(/^key\.pem: private key cannot be parsed/);
    expect(error.message).not.toContain(broken.split('\n')[1]!.slice(0, 20));
    expect(caught(() => parsePrivateKey(leafPem, 'key.pem')).message).toBe(
      'key.pem: no PEM private key found',
    );
  });
});
