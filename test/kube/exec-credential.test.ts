import { describe, expect, it } from 'vitest';
import { buildExecCredential, isCredentialFresh, matchesCache } from '../../src/kube/exec-credential.js';

describe('exec credential', () => {
  const notBefore = new Date('2030-01-01T00:00:00Z');
  const notAfter = new Date('2030-01-01T03:00:00Z');
  it.each([
    ['2030-01-01T00:00:01Z', true],
    ['2030-01-01T01:59:59Z', true],
    ['2030-01-01T02:00:01Z', false], // less than a third (1h) left
    ['2030-01-01T04:00:00Z', false],
  ])('at %s fresh=%s', (now, fresh) => {
    expect(isCredentialFresh({ notBefore, notAfter }, new Date(now))).toBe(fresh);
  });

  it('is a v1 ExecCredential with an RFC 3339 expiry', () => {
    expect(buildExecCredential('C', 'K', new Date('2030-01-01T03:00:00.750Z'))).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { clientCertificateData: 'C', clientKeyData: 'K', expirationTimestamp: '2030-01-01T03:00:00Z' },
    });
  });

  it('a cache entry for another Vault, mount or token is not used', () => {
    const record = {
      version: 1,
      address: 'a',
      mount: 'm',
      role: 'engineer',
      tokenHash: 't',
      certificatePem: 'c',
      keyPem: 'k',
    };
    const want = { address: 'a', mount: 'm', role: 'engineer', tokenHash: 't' };
    expect(matchesCache(record, want)).toBe(true);
    expect(matchesCache(record, { ...want, tokenHash: 'other' })).toBe(false);
    expect(matchesCache(record, { ...want, address: 'b' })).toBe(false);
    expect(matchesCache({ ...record, version: 2 }, want)).toBe(false);
    expect(matchesCache(null, want)).toBe(false);
  });
});
