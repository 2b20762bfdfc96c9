import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeySpec } from '../../src/config/types.js';
import { createCsr } from '../../src/pki/csr.js';
import {
  computeRenewalTime,
  describeReissueReason,
  findReissueReason,
  inspectCertificateSet,
  type ReissueReason,
  type SetSpec,
} from '../../src/pki/inspect-set.js';
import { generateKey } from '../../src/pki/keys.js';
import { joinPem } from '../../src/pki/pem.js';
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
let newRoot: TestCa;

const SPEC: SetSpec = {
  name: 'etcd-server',
  commonName: 'etcd-1',
  dnsSans: ['etcd-1', 'localhost'],
  ipSans: ['10.0.1.5', '127.0.0.1', '::1'],
  key: { type: 'ec', bits: 256 },
  usages: ['server', 'client'],
  renewAt: 2 / 3,
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
afterAll(() => tmp.cleanup());

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

let good: Made;
beforeAll(async () => {
  good = await makeSet();
});

describe('findReissueReason', () => {
  it('is undefined for a set that matches the spec, and gives the renewal time', () => {
    const result = inspectCertificateSet({ current: good, spec: SPEC, now: NOW, mountCaPem: root.certPem });
    expect(result.verdict).toBeUndefined();
    expect(result.leaf?.commonName).toBe('etcd-1');
    // 1 day in of 30: renewal at 20 days after notBefore.
    expect(result.renewalTime?.toISOString()).toBe(new Date(NOW.getTime() - DAY + 20 * DAY).toISOString());
  });

  it('missing: names the files that are absent', () => {
    expect(findReissueReason({ current: { cert: good.cert }, spec: SPEC, now: NOW })).toEqual({
      reason: 'missing',
      message: 'certificate files are missing: key.pem, ca.pem',
    });
  });

  it.each([
    ['cert', 'garbage'],
    ['key', 'garbage'],
    ['ca', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
  ] as const)('unreadable: %s.pem that does not parse', (file, content) => {
    const verdict = findReissueReason({ current: { ...good, [file]: content }, spec: SPEC, now: NOW });
    expect(verdict?.reason).toBe('unreadable');
    expect(verdict?.message).toContain(`${file}.pem`);
  });

  it('key-mismatch: key.pem from another set', async () => {
    const other = await makeSet();
    expect(findReissueReason({ current: { ...good, key: other.key }, spec: SPEC, now: NOW })?.reason).toBe(
      'key-mismatch',
    );
  });

  it('ca-changed: the mount has a new CA (same name, new key), or ca.pem no longer signs cert.pem', () => {
    const verdict = findReissueReason({ current: good, spec: SPEC, now: NOW, mountCaPem: newRoot.certPem });
    expect(verdict?.reason).toBe('ca-changed');
    expect(verdict?.message).toContain('ca.pem does not contain the mount CA etcd-ca');
    expect(
      findReissueReason({ current: { ...good, ca: newRoot.certPem }, spec: SPEC, now: NOW })?.reason,
    ).toBe('ca-changed');
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
      reason: 'cn-changed',
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
      reason: 'sans-changed',
      message: 'the subject alternative names differ from the spec: missing 10.0.1.6',
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
      reason: 'key-type-changed',
      message: 'the key type or size differs from the spec: ec/256 -> rsa/2048',
    });
    expect(findReissueReason({ current: good, spec: { ...spec, mode: 'issue' }, now: NOW })).toBeUndefined();
    expect(
      findReissueReason({ current: good, spec: { ...SPEC, key: { type: 'ec', bits: 384 } }, now: NOW })
        ?.reason,
    ).toBe('key-type-changed');
  });

  it('usage-missing: the spec needs clientAuth, the certificate has only serverAuth', async () => {
    const serverOnly = await makeSet({ eku: 'serverAuth' });
    expect(findReissueReason({ current: serverOnly, spec: SPEC, now: NOW })).toEqual({
      reason: 'usage-missing',
      message: 'the certificate lacks a required extended key usage: clientAuth',
    });
    expect(
      findReissueReason({ current: serverOnly, spec: { ...SPEC, usages: ['server'] }, now: NOW }),
    ).toBeUndefined();
  });

  it('expired, not-yet-valid and renewal-due follow the clock', async () => {
    const expired = await makeSet({ startDate: ago(10 * DAY), endDate: ago(DAY) });
    expect(findReissueReason({ current: expired, spec: SPEC, now: NOW })?.reason).toBe('expired');

    const future = await makeSet({ startDate: ahead(120_000), endDate: ahead(30 * DAY) });
    const early = findReissueReason({ current: future, spec: SPEC, now: NOW });
    expect(early?.reason).toBe('not-yet-valid');
    expect(early?.message).toContain('120s ahead');
    expect(
      findReissueReason({ current: future, spec: SPEC, now: NOW, clockSkewToleranceSeconds: 300 }),
    ).toBeUndefined();

    // 30-day certificate that started 20 days + 1 s ago: 2/3 of its life is over.
    const old = await makeSet({ startDate: ago(20 * DAY + 1000), endDate: ahead(10 * DAY - 1000) });
    const due = findReissueReason({ current: old, spec: SPEC, now: NOW });
    expect(due?.reason).toBe('renewal-due');
    // ... but not yet at 3/4, and it is due at once with a planner-provided (jittered) time in the past.
    expect(findReissueReason({ current: old, spec: { ...SPEC, renewAt: 0.75 }, now: NOW })).toBeUndefined();
    expect(
      findReissueReason({ current: good, spec: SPEC, now: NOW, renewAtTime: new Date(NOW.getTime() - 1) })
        ?.reason,
    ).toBe('renewal-due');
  });

  it('reports the most specific reason first (ca-changed before cn-changed before expired)', async () => {
    const expiredOther = await makeSet({
      ca: newRoot,
      cn: 'etcd-9',
      startDate: ago(10 * DAY),
      endDate: ago(DAY),
    });
    const current = { ...expiredOther, ca: root.certPem };
    expect(findReissueReason({ current, spec: SPEC, now: NOW })?.reason).toBe('ca-changed');
    const sameCa = { ...expiredOther };
    expect(findReissueReason({ current: sameCa, spec: SPEC, now: NOW })?.reason).toBe('cn-changed');
  });

  it('every reason has its own human description, and broken files give a verdict, not an exception', () => {
    const reasons: ReissueReason[] = [
      'missing',
      'unreadable',
      'key-mismatch',
      'ca-changed',
      'cn-changed',
      'sans-changed',
      'key-type-changed',
      'usage-missing',
      'expired',
      'not-yet-valid',
      'renewal-due',
    ];
    const texts = reasons.map((r) => describeReissueReason(r));
    for (const text of texts) expect(text).toMatch(/^[a-z].{5,}/);
    expect(new Set(texts).size).toBe(reasons.length);
    expect(describeReissueReason('renewal-due')).toBe('renewal is due');
    expect(computeRenewalTime(new Date(0), new Date(300_000), 2 / 3).getTime()).toBe(200_000);
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
