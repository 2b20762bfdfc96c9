import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WriteError } from '../../src/errors.js';
import { isIssuedBy } from '../../src/pki/chain.js';
import { type CsrSubject, createCsr } from '../../src/pki/csr.js';
import { generateKey } from '../../src/pki/keys.js';
import { joinPem, parseCertificates } from '../../src/pki/pem.js';
import {
  assertCertificateSetValid,
  type ExpectedCertificate,
  type VerificationCode,
  verifyCertificateSet,
} from '../../src/pki/verify.js';
import {
  createTestCa,
  makeTempDir,
  opensslTime,
  type SignOptions,
  signCsr,
  type TestCa,
} from '../support/openssl-ca.js';

const tmp = makeTempDir();
let root: TestCa;
let intermediate: TestCa;
let otherRoot: TestCa;

const SUBJECT: CsrSubject = {
  commonName: 'etcd-1',
  dnsSans: ['etcd-1', 'localhost'],
  ipSans: ['10.0.1.5', '127.0.0.1', '::1'],
};
const EXPECTED: ExpectedCertificate = {
  commonName: 'etcd-1',
  dnsSans: ['etcd-1', 'localhost'],
  // Non-canonical spellings on purpose: they must compare equal to the certificate's.
  ipSans: ['10.0.1.5', '127.0.0.1', '0:0:0:0:0:0:0:1'],
  usages: ['server', 'client'],
};

beforeAll(() => {
  root = createTestCa(tmp.dir, 'verify-root');
  intermediate = createTestCa(tmp.dir, 'verify-intermediate', { parent: root });
  otherRoot = createTestCa(tmp.dir, 'other-root', { keyType: 'rsa' });
});
afterAll(() => tmp.cleanup());

async function issue(ca: TestCa, subject: CsrSubject = SUBJECT, options: SignOptions = {}) {
  const key = await generateKey({ type: 'ec', bits: 256 });
  const cert = signCsr(ca, createCsr(key, subject), options);
  return { cert, key: key.privateKeyPem };
}

function codes(result: { problems: { code: VerificationCode }[] }): VerificationCode[] {
  return result.problems.map((p) => p.code);
}

describe('verifyCertificateSet against openssl-made certificates', () => {
  it('accepts a good set from a root CA', async () => {
    const { cert, key } = await issue(root);
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem, fullchain: cert },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(result.problems).toEqual([]);
    expect(result.clockSkewSeconds).toBeUndefined();
    expect(result.leaf?.commonName).toBe('etcd-1');
  });

  it('accepts a set from an intermediate, with the chain in fullchain.pem or in ca.pem', async () => {
    const { cert, key } = await issue(intermediate);
    const viaFullchain = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem, fullchain: joinPem([cert, intermediate.certPem]) },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(viaFullchain.problems).toEqual([]);
    const viaCa = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: joinPem([intermediate.certPem, root.certPem]) },
      expected: EXPECTED,
      mountCaPem: intermediate.certPem,
      now: new Date(),
    });
    expect(viaCa.problems).toEqual([]);
    // Without the intermediate anywhere, the chain cannot be built.
    const broken = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem, fullchain: cert },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(broken)).toEqual(['chain-invalid']);
  });

  it('catches a key that does not belong to the certificate', async () => {
    const { cert } = await issue(root);
    const other = await generateKey({ type: 'ec', bits: 256 });
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key: other.privateKeyPem, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['key-mismatch']);
  });

  it('compares the certificate with the public key of the key it generated, without decoding key.pem again', async () => {
    const key = await generateKey({ type: 'ec', bits: 256 });
    const cert = signCsr(root, createCsr(key, SUBJECT));
    const other = await generateKey({ type: 'ec', bits: 256 });
    const verify = (keyPublicDer: Buffer, keyPem = key.privateKeyPem) =>
      codes(
        verifyCertificateSet({
          name: 'etcd-peer',
          pems: { cert, key: keyPem, ca: root.certPem },
          expected: EXPECTED,
          keyPublicDer,
          now: new Date(),
        }),
      );
    expect(verify(key.publicKeyDer)).toEqual([]);
    // The given public key is what counts: a certificate for another key is caught by it.
    expect(verify(other.publicKeyDer)).toEqual(['key-mismatch']);
    // key.pem is not decoded: the check does not depend on it.
    expect(verify(key.publicKeyDer, 'not a key')).toEqual([]);
  });

  it('catches a certificate from another CA, and a ca.pem that lacks the mount CA', async () => {
    const { cert, key } = await issue(otherRoot);
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['chain-invalid']);
    expect(result.problems[0]!.message).toContain('issuer "other-root"');
    expect(result.problems[0]!.message).toContain('"verify-root"');

    const good = await issue(root);
    const stale = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { ...good, ca: root.certPem },
      expected: EXPECTED,
      mountCaPem: otherRoot.certPem,
      now: new Date(),
    });
    expect(codes(stale)).toEqual(['ca-mismatch', 'chain-invalid']);
  });

  it('catches a missing DNS SAN, a missing IP SAN and a different CN', async () => {
    const { cert, key } = await issue(root, {
      commonName: 'etcd-2',
      dnsSans: ['etcd-1'],
      ipSans: ['10.0.1.5'],
    });
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['cn-mismatch', 'san-missing', 'san-missing']);
    expect(result.problems.map((p) => p.message)).toEqual([
      'CN is "etcd-2", expected "etcd-1"',
      'DNS SANs missing: localhost',
      'IP SANs missing: 127.0.0.1, ::1',
    ]);
  });

  it('catches a missing EKU (etcd needs serverAuth + clientAuth)', async () => {
    const { cert, key } = await issue(root, SUBJECT, { eku: 'serverAuth' });
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['eku-missing']);
    expect(result.problems[0]!.message).toBe('extended key usage lacks clientAuth (has serverAuth)');
  });

  it('reports a notBefore in the future with the clock skew in seconds, unless within tolerance', async () => {
    const now = new Date();
    const start = new Date(Math.floor(now.getTime() / 1000) * 1000 + 90_000);
    const { cert, key } = await issue(root, SUBJECT, { startDate: opensslTime(start) });
    const input = { name: 'etcd-peer', pems: { cert, key, ca: root.certPem }, expected: EXPECTED, now };
    const result = verifyCertificateSet(input);
    expect(codes(result)).toEqual(['not-yet-valid']);
    expect(result.clockSkewSeconds).toBe(Math.ceil((start.getTime() - now.getTime()) / 1000));
    expect(result.clockSkewSeconds).toBeGreaterThanOrEqual(89);
    expect(result.problems[0]!.message).toContain('clock skew');
    const tolerated = verifyCertificateSet({ ...input, clockSkewToleranceSeconds: 120 });
    expect(tolerated.problems).toEqual([]);
    expect(tolerated.clockSkewSeconds).toBe(result.clockSkewSeconds);
  });

  it('catches an expired certificate', async () => {
    const { cert, key } = await issue(root, SUBJECT, {
      startDate: opensslTime(new Date(Date.now() - 2 * 86400_000)),
      endDate: opensslTime(new Date(Date.now() - 86400_000)),
    });
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['expired']);
  });

  it('reports malformed inputs as problems instead of crashing', async () => {
    const { cert } = await issue(root);
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key: 'not a key', ca: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['malformed', 'malformed']);
    expect(result.problems[0]!.message).toBe('etcd-peer key.pem: no PEM private key found');
  });

  it('a fullchain.pem that does not start with cert.pem is a problem', async () => {
    const a = await issue(root);
    const b = await issue(root);
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { ...a, ca: root.certPem, fullchain: b.cert },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['chain-invalid']);
  });

  it('assertCertificateSetValid throws a WriteError naming the certificate and every problem', async () => {
    const { cert, key } = await issue(otherRoot, SUBJECT, { eku: 'clientAuth' });
    let error: unknown;
    try {
      assertCertificateSetValid({
        name: 'etcd-peer',
        pems: { cert, key, ca: root.certPem },
        expected: EXPECTED,
        now: new Date(),
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WriteError);
    const w = error as WriteError;
    expect(w.code).toBe('verification-failed');
    expect(w.exitCode).toBe(6);
    expect(w.message).toMatch(
      /^certificate "etcd-peer" failed verification: .*not signed by the mount CA.*lacks serverAuth/,
    );
    expect(w.details.problems).toBe('chain-invalid,eku-missing');
    expect(w.message).not.toContain('PRIVATE KEY');
  });

  it('parses a certificate once and checks a signature once, however often a pass meets them', async () => {
    const { cert, key } = await issue(root);
    const [leaf, ca] = parseCertificates(cert + root.certPem, 'bundle');
    // Another spelling of the same certificate (CRLF, other line length) is the same parsed object.
    const respelled = cert.replace(/\n/g, '\r\n');
    expect(parseCertificates(respelled, 'cert.pem')[0]).toBe(leaf);
    expect(parseCertificates(root.certPem, 'ca.pem')[0]).toBe(ca);
    const verify = vi.spyOn(X509Certificate.prototype, 'verify');
    try {
      for (let i = 0; i < 3; i++) {
        expect(
          verifyCertificateSet({
            name: 'etcd-peer',
            pems: { cert, key, ca: root.certPem },
            expected: EXPECTED,
            now: new Date(),
          }).problems,
        ).toEqual([]);
      }
      expect(isIssuedBy(leaf!, ca!)).toBe(true);
      // leaf <- root once, root <- root (self-signed) at most once: not once per call.
      expect(verify.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      verify.mockRestore();
    }
  });
});
