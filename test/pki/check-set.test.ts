/**
 * The one set check (findings) and its two policies: "must it be re-issued?" (the first finding a new
 * certificate cures; renewal is plan/renewal.ts) and "may it be exposed?" (the gate before a switch).
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { KeySpec } from '../../src/config/types.js';
import { WriteError } from '../../src/errors.js';
import { isIssuedBy } from '../../src/pki/chain.js';
import {
  assertMayExpose,
  checkCertificateSet,
  type ExpectedCertificate,
  type FindingCode,
  reissueFinding,
  type SetCheckInput,
  type SetFiles,
} from '../../src/pki/check-set.js';
import { type CsrSubject, createCsr } from '../../src/pki/csr.js';
import { generateKey } from '../../src/pki/keys.js';
import { joinPem, parseCertificates } from '../../src/pki/pem.js';
import {
  createTestCa,
  makeTempDir,
  opensslTime,
  type SignOptions,
  signCsr,
  type TestCa,
} from '../support/openssl-ca.js';

const tmp = makeTempDir();
afterAll(() => tmp.cleanup());

let root: TestCa;
let intermediate: TestCa;
let newRoot: TestCa;

const SPEC: ExpectedCertificate = {
  commonName: 'etcd-1',
  dnsSans: ['etcd-1', 'localhost'],
  ipSans: ['10.0.1.5', '127.0.0.1', '::1'],
  key: { type: 'ec', bits: 256 },
  usages: ['server', 'client'],
  mode: 'sign',
};

// Whole seconds: certificates carry no sub-second precision.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const DAY = 86400_000;
const ago = (ms: number) => opensslTime(new Date(NOW.getTime() - ms));
const ahead = (ms: number) => opensslTime(new Date(NOW.getTime() + ms));

beforeAll(() => {
  root = createTestCa(tmp.dir, 'etcd-ca');
  intermediate = createTestCa(tmp.dir, 'etcd-intermediate', { parent: root });
  newRoot = createTestCa(tmp.dir, 'etcd-ca');
});

interface Made {
  cert: string;
  key: string;
  ca: string;
}

/** A set signed by `ca`, valid from 1 day ago for 30 days unless told otherwise. */
async function makeSet(
  options: SignOptions & { ca?: TestCa; keySpec?: KeySpec; cn?: string; dns?: string[]; ip?: string[] } = {},
): Promise<Made> {
  const ca = options.ca ?? root;
  const key = await generateKey(options.keySpec ?? { type: 'ec', bits: 256 });
  const csr = createCsr(key, {
    commonName: options.cn ?? SPEC.commonName,
    dnsSans: options.dns ?? SPEC.dnsSans,
    ipSans: options.ip ?? SPEC.ipSans,
  });
  const cert = signCsr(ca, csr, {
    startDate: options.startDate ?? ago(DAY),
    endDate: options.endDate ?? ahead(29 * DAY),
    eku: options.eku,
  });
  return { cert, key: key.privateKeyPem, ca: ca.certPem };
}

/** The re-issue policy's answer for a set on disk (what the old `findReissueReason` gave, renewal aside). */
function findReissueReason(input: {
  current: SetFiles;
  spec: ExpectedCertificate;
  now: Date;
  mountCaPem?: string;
  clockSkewToleranceSeconds?: number;
}) {
  const { current, spec, ...rest } = input;
  return reissueFinding(checkCertificateSet({ files: current, expected: spec, ...rest }));
}

let good: Made;
beforeAll(async () => {
  good = await makeSet();
});

describe('must it be re-issued? (reissueFinding over checkCertificateSet)', () => {
  it('nothing is found in a set that matches the spec', () => {
    const result = checkCertificateSet({ files: good, expected: SPEC, now: NOW, mountCaPem: root.certPem });
    expect(result.findings).toEqual([]);
    expect(reissueFinding(result)).toBeUndefined();
    expect(result.leaf?.commonName).toBe('etcd-1');
  });

  it('missing: names the files that are absent', () => {
    expect(findReissueReason({ current: { cert: good.cert }, spec: SPEC, now: NOW })).toEqual({
      code: 'missing',
      message: 'certificate files are missing: key.pem, ca.pem',
    });
  });

  it.each([
    ['cert', 'garbage'],
    ['key', 'garbage'],
    ['ca', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
  ] as const)('unreadable: %s.pem that does not parse', (file, content) => {
    const verdict = findReissueReason({ current: { ...good, [file]: content }, spec: SPEC, now: NOW });
    expect(verdict?.code).toBe('unreadable');
    expect(verdict?.message).toContain(`${file}.pem`);
  });

  it('key-mismatch: key.pem from another set', async () => {
    const other = await makeSet();
    expect(findReissueReason({ current: { ...good, key: other.key }, spec: SPEC, now: NOW })?.code).toBe(
      'key-mismatch',
    );
  });

  it('ca-changed: the mount has a new CA (same name, new key), or ca.pem no longer signs cert.pem', () => {
    const verdict = findReissueReason({ current: good, spec: SPEC, now: NOW, mountCaPem: newRoot.certPem });
    expect(verdict?.code).toBe('ca-changed');
    expect(verdict?.message).toContain('ca.pem does not contain the mount CA "etcd-ca"');
    expect(findReissueReason({ current: { ...good, ca: newRoot.certPem }, spec: SPEC, now: NOW })?.code).toBe(
      'ca-changed',
    );
    // A malformed mount CA is not the set's fault: a typed error, not a verdict.
    expect(() => findReissueReason({ current: good, spec: SPEC, now: NOW, mountCaPem: 'nope' })).toThrow(
      /mount CA: no PEM certificate found/,
    );
  });

  it('an intermediate mount: ca.pem with the chain is fine', async () => {
    const set = await makeSet({ ca: intermediate });
    const current = { ...set, ca: joinPem([intermediate.certPem, root.certPem]) };
    expect(
      findReissueReason({ current, spec: SPEC, now: NOW, mountCaPem: intermediate.certPem }),
    ).toBeUndefined();
  });

  it('cn-changed', () => {
    const verdict = findReissueReason({ current: good, spec: { ...SPEC, commonName: 'etcd-2' }, now: NOW });
    expect(verdict).toEqual({
      code: 'cn-changed',
      message: 'the common name differs from the spec: "etcd-1" -> "etcd-2"',
    });
  });

  it('sans-changed: exact set compare, order- and spelling-insensitive, CN copied by Vault tolerated', async () => {
    const reordered = {
      ...SPEC,
      dnsSans: ['LOCALHOST', 'etcd-1'],
      ipSans: ['0:0:0:0:0:0:0:1', '10.0.1.5', '127.0.0.1'],
    };
    expect(findReissueReason({ current: good, spec: reordered, now: NOW })).toBeUndefined();

    const added = findReissueReason({
      current: good,
      spec: { ...SPEC, ipSans: [...SPEC.ipSans, '10.0.1.6'] },
      now: NOW,
    });
    expect(added).toEqual({
      code: 'sans-changed',
      message: 'the subject alternative names differ from the spec: missing 10.0.1.6',
      missingSans: ['10.0.1.6'],
    });
    const removed = findReissueReason({ current: good, spec: { ...SPEC, dnsSans: ['etcd-1'] }, now: NOW });
    expect(removed?.message).toBe(
      'the subject alternative names differ from the spec: not requested localhost',
    );

    // Vault adds the CN as a DNS SAN when the request did not: not a change.
    const withCn = await makeSet({ dns: ['localhost', 'etcd-1'] });
    expect(
      findReissueReason({ current: withCn, spec: { ...SPEC, dnsSans: ['localhost'] }, now: NOW }),
    ).toBeUndefined();
  });

  it('key-type-changed in sign mode, ignored in issue mode (the role picks the key there)', () => {
    const spec = { ...SPEC, key: { type: 'rsa', bits: 2048 } as KeySpec };
    expect(findReissueReason({ current: good, spec, now: NOW })).toEqual({
      code: 'key-type-changed',
      message: 'the key type or size differs from the spec: ec/256 -> rsa/2048',
    });
    expect(findReissueReason({ current: good, spec: { ...spec, mode: 'issue' }, now: NOW })).toBeUndefined();
    expect(
      findReissueReason({ current: good, spec: { ...SPEC, key: { type: 'ec', bits: 384 } }, now: NOW })?.code,
    ).toBe('key-type-changed');
  });

  it('usage-missing: the spec needs clientAuth, the certificate has only serverAuth', async () => {
    const serverOnly = await makeSet({ eku: 'serverAuth' });
    expect(findReissueReason({ current: serverOnly, spec: SPEC, now: NOW })).toEqual({
      code: 'usage-missing',
      message: 'the certificate lacks a required extended key usage: clientAuth (has serverAuth)',
    });
    expect(
      findReissueReason({ current: serverOnly, spec: { ...SPEC, usages: ['server'] }, now: NOW }),
    ).toBeUndefined();
  });

  it('expired and not-yet-valid follow the clock (renewal-due: test/plan/renewal.test.ts)', async () => {
    const expired = await makeSet({ startDate: ago(10 * DAY), endDate: ago(DAY) });
    expect(findReissueReason({ current: expired, spec: SPEC, now: NOW })?.code).toBe('expired');

    const future = await makeSet({ startDate: ahead(120_000), endDate: ahead(30 * DAY) });
    const early = findReissueReason({ current: future, spec: SPEC, now: NOW });
    expect(early?.code).toBe('not-yet-valid');
    expect(early?.message).toContain('120s ahead');
    expect(
      findReissueReason({ current: future, spec: SPEC, now: NOW, clockSkewToleranceSeconds: 300 }),
    ).toBeUndefined();
  });

  it('reports the most specific reason first (ca-changed before cn-changed before expired)', async () => {
    const expiredOther = await makeSet({
      ca: newRoot,
      cn: 'etcd-9',
      startDate: ago(10 * DAY),
      endDate: ago(DAY),
    });
    const current = { ...expiredOther, ca: root.certPem };
    expect(findReissueReason({ current, spec: SPEC, now: NOW })?.code).toBe('ca-changed');
    const sameCa = { ...expiredOther };
    expect(findReissueReason({ current: sameCa, spec: SPEC, now: NOW })?.code).toBe('cn-changed');
  });

  it('every finding has its own human description, and broken files give a finding, not an exception', async () => {
    const serverOnly = await makeSet({ eku: 'serverAuth' });
    const expired = await makeSet({ startDate: ago(10 * DAY), endDate: ago(DAY) });
    const future = await makeSet({ startDate: ahead(120_000), endDate: ahead(30 * DAY) });
    const other = await makeSet();
    const DAYS = 86400_000;
    const outlived = await makeSet({ endDate: ahead(3700 * DAYS) });
    const first = (files: SetFiles, expected = SPEC, extra: Partial<SetCheckInput> = {}) =>
      checkCertificateSet({ files, expected, now: NOW, ...extra }).findings[0];
    const found = [
      first({ cert: good.cert }),
      first({ ...good, key: 'garbage' }),
      first({ ...good, key: other.key }),
      first({ ...good, fullchain: other.cert }),
      first(good, SPEC, { mountCaPem: newRoot.certPem }),
      first(outlived, SPEC, { now: new Date(NOW.getTime() + 3660 * DAYS) }),
      first(good, { ...SPEC, commonName: 'etcd-2' }),
      first(good, { ...SPEC, dnsSans: ['etcd-1'] }),
      first(good, { ...SPEC, key: { type: 'rsa', bits: 2048 } }),
      first(serverOnly),
      first(expired),
      first(future),
    ];
    const codes: FindingCode[] = [
      'missing',
      'unreadable',
      'key-mismatch',
      'chain-invalid',
      'ca-changed',
      'ca-expired',
      'cn-changed',
      'sans-changed',
      'key-type-changed',
      'usage-missing',
      'expired',
      'not-yet-valid',
    ];
    expect(found.map((f) => f?.code)).toEqual(codes);
    const texts = found.map((f) => f?.message.split(': ')[0] ?? '');
    for (const text of texts) expect(text).toMatch(/^[a-z].{5,}/);
    expect(new Set(texts).size).toBe(codes.length);
    for (const bad of [
      '',
      '-----BEGIN CERTIFICATE-----',
      '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----',
    ]) {
      let error: unknown;
      try {
        findReissueReason({ current: { cert: bad, key: bad, ca: bad }, spec: SPEC, now: NOW });
      } catch (e) {
        error = e;
      }
      expect(error).toBeUndefined();
    }
  });
});

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

async function issue(ca: TestCa, subject: CsrSubject = SUBJECT, options: SignOptions = {}) {
  const key = await generateKey({ type: 'ec', bits: 256 });
  const cert = signCsr(ca, createCsr(key, subject), options);
  return { cert, key: key.privateKeyPem };
}

function codes(result: { findings: { code: FindingCode }[] }): FindingCode[] {
  return result.findings.map((p) => p.code);
}

/** The check as the pass runs it on a freshly assembled set (the old verifyCertificateSet's input). */
function verifyCertificateSet(
  input: Omit<SetCheckInput, 'files' | 'name'> & { name: string; pems: SetFiles },
) {
  const { pems, ...rest } = input;
  return checkCertificateSet({ files: pems, ...rest });
}

describe('checkCertificateSet before exposing, against openssl-made certificates', () => {
  let root: TestCa;
  let intermediate: TestCa;
  let otherRoot: TestCa;
  beforeAll(() => {
    root = createTestCa(tmp.dir, 'verify-root');
    intermediate = createTestCa(tmp.dir, 'verify-intermediate', { parent: root });
    otherRoot = createTestCa(tmp.dir, 'other-root', { keyType: 'rsa' });
  });

  it('accepts a good set from a root CA', async () => {
    const { cert, key } = await issue(root);
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem, fullchain: cert },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(result.findings).toEqual([]);
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
    expect(viaFullchain.findings).toEqual([]);
    const viaCa = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: joinPem([intermediate.certPem, root.certPem]) },
      expected: EXPECTED,
      mountCaPem: intermediate.certPem,
      now: new Date(),
    });
    expect(viaCa.findings).toEqual([]);
    // Without the intermediate anywhere, the chain cannot be built.
    const broken = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem, fullchain: cert },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(broken)).toEqual(['ca-changed']);
    expect(broken.findings[0]!.message).toContain('issuer "verify-intermediate"');
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
    expect(codes(result)).toEqual(['ca-changed']);
    expect(result.findings[0]!.message).toContain('issuer "other-root"');
    expect(result.findings[0]!.message).toContain('"verify-root"');

    const good = await issue(root);
    const stale = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { ...good, ca: root.certPem },
      expected: EXPECTED,
      mountCaPem: otherRoot.certPem,
      now: new Date(),
    });
    expect(codes(stale)).toEqual(['ca-changed', 'ca-changed']);
    expect(stale.findings.map((f) => f.message)).toEqual([
      'the CA changed: ca.pem does not contain the mount CA "other-root"',
      'the CA changed: intermediate "verify-root" (issuer "verify-root") is not signed by the mount CA "other-root"',
    ]);
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
    expect(codes(result)).toEqual(['cn-changed', 'sans-changed']);
    expect(result.findings.map((p) => p.message)).toEqual([
      'the common name differs from the spec: "etcd-2" -> "etcd-1"',
      'the subject alternative names differ from the spec: missing localhost, 127.0.0.1, ::1',
    ]);
    expect(result.findings[1]!.missingSans).toEqual(['localhost', '127.0.0.1', '::1']);
  });

  it('catches a missing EKU (etcd needs serverAuth + clientAuth)', async () => {
    const { cert, key } = await issue(root, SUBJECT, { eku: 'serverAuth' });
    const result = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(),
    });
    expect(codes(result)).toEqual(['usage-missing']);
    expect(result.findings[0]!.message).toBe(
      'the certificate lacks a required extended key usage: clientAuth (has serverAuth)',
    );
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
    expect(result.findings[0]!.message).toContain('clock skew');
    const tolerated = verifyCertificateSet({ ...input, clockSkewToleranceSeconds: 120 });
    expect(tolerated.findings).toEqual([]);
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
    expect(codes(result)).toEqual(['unreadable', 'unreadable']);
    expect(result.findings[0]!.message).toBe(
      'certificate files cannot be parsed: etcd-peer key.pem: no PEM private key found',
    );
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
    expect(result.findings[0]!.message).toBe(
      'fullchain.pem does not fit the certificate: it does not start with the certificate in cert.pem',
    );
  });

  it('assertMayExpose throws a WriteError naming the certificate and every problem', async () => {
    const { cert, key } = await issue(otherRoot, SUBJECT, { eku: 'clientAuth' });
    let error: unknown;
    try {
      assertMayExpose(
        'etcd-peer',
        verifyCertificateSet({
          name: 'etcd-peer',
          pems: { cert, key, ca: root.certPem },
          expected: EXPECTED,
          now: new Date(),
        }),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WriteError);
    const w = error as WriteError;
    expect(w.code).toBe('verification-failed');
    expect(w.exitCode).toBe(6);
    expect(w.message).toMatch(
      /^certificate "etcd-peer" failed verification: .*not signed by the CA in ca\.pem.*required extended key usage: serverAuth/,
    );
    expect(w.details.problems).toBe('ca-changed,usage-missing');
    expect(w.message).not.toContain('PRIVATE KEY');
  });

  it('may expose a set with names besides the requested ones, not one that lacks a requested name', async () => {
    const { cert, key } = await issue(root, {
      ...SUBJECT,
      dnsSans: ['etcd-1', 'localhost', 'extra.example'],
    });
    const extra = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(),
    });
    // Re-issued (the spec no longer asks for it) but not a reason to refuse a fresh set.
    expect(codes(extra)).toEqual(['sans-changed']);
    expect(reissueFinding(extra)?.message).toBe(
      'the subject alternative names differ from the spec: not requested extra.example',
    );
    expect(() => assertMayExpose('etcd-peer', extra)).not.toThrow();
    const lacking = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: { ...EXPECTED, dnsSans: [...EXPECTED.dnsSans, 'etcd-1.internal'] },
      now: new Date(),
    });
    expect(() => assertMayExpose('etcd-peer', lacking)).toThrow(
      /missing etcd-1\.internal; not requested extra\.example/,
    );
  });

  it('an expired CA stops exposure but is no reason to re-issue (the mount would sign with the same CA)', async () => {
    // The test CA lives 3650 days; a leaf signed past that (openssl lets it) outlives its CA.
    const DAY_MS = 86400_000;
    const { cert, key } = await issue(root, SUBJECT, {
      endDate: opensslTime(new Date(Date.now() + 3700 * DAY_MS)),
    });
    const check = verifyCertificateSet({
      name: 'etcd-peer',
      pems: { cert, key, ca: root.certPem },
      expected: EXPECTED,
      now: new Date(Date.now() + 3660 * DAY_MS),
    });
    expect(codes(check)).toEqual(['ca-expired']);
    expect(() => assertMayExpose('etcd-peer', check)).toThrow(
      /a CA of the chain has expired: CA "verify-root" expired at/,
    );
    expect(reissueFinding(check)).toBeUndefined();
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
          }).findings,
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
