import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteError } from '../../src/errors.js';
import {
  derToPem,
  joinPem,
  malformedInput,
  parseCertificates,
  parsePrivateKey,
  privateKeyToPem,
  splitPemBundle,
} from '../../src/pki/pem.js';
import { createTestCa, makeTempDir } from '../support/openssl-ca.js';

const temp = makeTempDir('vpa-pem-');
let first: string;
let second: string;

beforeAll(() => {
  const root = createTestCa(temp.dir, 'Pem Root');
  first = root.certPem;
  second = createTestCa(temp.dir, 'Pem Intermediate', { parent: root }).certPem;
});
afterAll(() => temp.cleanup());

/** The message of what `fn` throws, checked to be a WriteError that names the input. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WriteError);
    expect((error as WriteError).code).toBe('verification-failed');
    return (error as Error).message;
  }
  throw new Error('did not throw');
}

describe('parseCertificates', () => {
  it('returns every certificate of a bundle in order, text between blocks ignored', () => {
    const certs = parseCertificates(`subject=CN = Pem Root\n${first}\nnoise\r\n${second}`, 'ca.pem');
    expect(certs.map((c) => c.subject)).toEqual(['CN=Pem Root', 'CN=Pem Intermediate']);
  });

  it('refuses empty text, other blocks, truncated and mismatched blocks, bad base64 and bad DER', () => {
    expect(failure(() => parseCertificates('  ', 'ca.pem'))).toBe('ca.pem: empty');
    expect(failure(() => parseCertificates('just text', 'ca.pem'))).toBe('ca.pem: no PEM certificate found');
    const key = privateKeyToPem(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    expect(failure(() => parseCertificates(key, 'ca.pem'))).toBe(
      'ca.pem: unexpected PEM block "PRIVATE KEY" (expected CERTIFICATE)',
    );
    expect(failure(() => parseCertificates(first + first.slice(0, 100), 'x'))).toBe('x: truncated PEM block');
    expect(failure(() => parseCertificates(first.slice(0, -30), 'x'))).toBe('x: truncated PEM block');
    expect(failure(() => parseCertificates(first.replace('END CERTIFICATE', 'END X509 CRL'), 'x'))).toBe(
      'x: PEM block BEGIN CERTIFICATE ends with END X509 CRL',
    );
    expect(failure(() => parseCertificates(`${first}${second.replace(/\n(.)/, '\n*$1')}`, 'x'))).toBe(
      'x: certificate #2 is not valid base64',
    );
    expect(failure(() => parseCertificates(derToPem('CERTIFICATE', Buffer.from('not der')), 'x'))).toBe(
      'x: certificate #1 cannot be parsed',
    );
  });
});

describe('PEM text forms', () => {
  it('splitPemBundle and joinPem give canonical PEM, one certificate after another', () => {
    const crlf = `${first.replace(/\n/g, '\r\n')}${second}`;
    const parts = splitPemBundle(crlf, 'fullchain.pem');
    expect(parts).toEqual([new X509Certificate(first).toString(), new X509Certificate(second).toString()]);
    expect(joinPem(parts)).toBe(parts.join(''));
    expect(joinPem([new X509Certificate(first), `${second.trimEnd()}\n\n\n`])).toBe(parts.join(''));
  });

  it('derToPem wraps base64 at 64 columns and round-trips', () => {
    const der = new X509Certificate(first).raw;
    const pem = derToPem('CERTIFICATE', der);
    const lines = pem.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines.at(-1)).toBe('-----END CERTIFICATE-----');
    expect(lines.slice(1, -2).every((l) => l.length === 64)).toBe(true);
    expect(parseCertificates(pem, 'x')[0]?.raw.equals(der)).toBe(true);
  });
});

describe('parsePrivateKey', () => {
  it('reads PKCS#8, PKCS#1 and SEC1 and writes PKCS#8', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const sec1 = ec.export({ type: 'sec1', format: 'pem' }) as string;
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    expect(privateKeyToPem(parsePrivateKey(sec1, 'key.pem'))).toBe(privateKeyToPem(ec));
    expect(privateKeyToPem(parsePrivateKey(pkcs1, 'key.pem'))).toBe(privateKeyToPem(rsa));
    expect(privateKeyToPem(ec)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(parsePrivateKey(privateKeyToPem(ec), 'key.pem').asymmetricKeyType).toBe('ec');
  });

  it('refuses empty, missing, encrypted and broken keys without quoting them', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const encrypted = ec.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'pw',
    }) as string;
    expect(failure(() => parsePrivateKey('', 'key.pem'))).toBe('key.pem: empty');
    expect(failure(() => parsePrivateKey(first, 'key.pem'))).toBe('key.pem: no PEM private key found');
    expect(failure(() => parsePrivateKey(encrypted, 'key.pem'))).toBe(
      'key.pem: the private key is encrypted',
    );
    const broken = privateKeyToPem(ec).replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA');
    const message = failure(() => parsePrivateKey(broken, 'key.pem'));
    expect(message).toMatch(/^key\.pem: private key cannot be parsed \(/);
    expect(message).not.toContain('AAAAAAAAAA');
  });
});

describe('malformedInput', () => {
  it('is a verification failure naming the input', () => {
    const error = malformedInput('etcd-peer cert.pem', 'expired');
    expect(error).toBeInstanceOf(WriteError);
    expect(error).toMatchObject({ code: 'verification-failed', details: { input: 'etcd-peer cert.pem' } });
    expect(error.message).toBe('etcd-peer cert.pem: expired');
  });
});
