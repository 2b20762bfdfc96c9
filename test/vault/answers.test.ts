import { describe, expect, it } from 'vitest';
import { VaultUnavailableError } from '../../src/errors.js';
import {
  authBlockOf,
  certificateAnswerOf,
  sectionOf,
  tokenInfoOf,
  warningsOf,
} from '../../src/vault/answers.js';

/** The message of the vault-bad-response `fn` throws. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VaultUnavailableError);
    expect((error as VaultUnavailableError).code).toBe('vault-bad-response');
    expect((error as VaultUnavailableError).retryable).toBe(false);
    return (error as Error).message;
  }
  throw new Error('did not throw');
}

describe('certificateAnswerOf', () => {
  const data = { certificate: 'CERT', issuing_ca: 'CA', serial_number: '1a:2b', expiration: 1_900_000_000 };

  it('camel-cases a sign answer, with defaults for what Vault may leave out', () => {
    expect(certificateAnswerOf({ data }, 'pki/sign/x')).toEqual({
      certificate: 'CERT',
      issuingCa: 'CA',
      caChain: [],
      privateKey: undefined,
      privateKeyType: undefined,
      serialNumber: '1a:2b',
      expiration: 1_900_000_000,
    });
    const issued = certificateAnswerOf(
      {
        data: {
          certificate: 'C',
          ca_chain: ['I', 'R'],
          private_key: 'K',
          private_key_type: 'ec',
          serial_number: 's',
          expiration: '1900000000',
        },
      },
      'pki/issue/x',
    );
    expect(issued).toMatchObject({
      issuingCa: '',
      caChain: ['I', 'R'],
      privateKey: 'K',
      expiration: 1_900_000_000,
    });
  });

  it('refuses what Vault does not send, naming the field', () => {
    expect(refusal(() => certificateAnswerOf({ data: { ...data, certificate: '' } }, 'pki/sign/x'))).toMatch(
      /^Vault's answer to pki\/sign\/x is not what Vault sends: certificate: /,
    );
    expect(
      refusal(() => certificateAnswerOf({ data: { ...data, expiration: '9'.repeat(400) } }, 'w')),
    ).toMatch(/: expiration: /);
    expect(refusal(() => certificateAnswerOf({}, 'w'))).toMatch(/not what Vault sends: \(body\): /);
    expect(refusal(() => certificateAnswerOf(undefined, 'w'))).toMatch(/\(body\)/);
  });
});

describe('tokenInfoOf and authBlockOf', () => {
  it('maps a lookup with defaults', () => {
    expect(tokenInfoOf({ data: { ttl: 60, policies: null, expire_time: null } }, 'lookup-self')).toEqual({
      accessor: undefined,
      displayName: undefined,
      policies: [],
      ttlSeconds: 60,
      renewable: false,
      periodSeconds: undefined,
      explicitMaxTtlSeconds: 0,
      numUses: 0,
      orphan: false,
      expireTime: undefined,
      creationPath: undefined,
    });
    expect(refusal(() => tokenInfoOf({ data: { ttl: '60' } }, 'lookup-self'))).toMatch(/: ttl: /);
  });

  it('takes an auth block with a printable token only', () => {
    const auth = { client_token: 'hvs.abc', lease_duration: 3600, renewable: true };
    expect(authBlockOf({ auth }, 'renew-self')).toEqual(auth);
    expect(refusal(() => authBlockOf({ auth: { ...auth, client_token: 'a b' } }, 'unwrap'))).toMatch(
      /client_token: is not a token \(empty, or not printable ASCII\)$/,
    );
    expect(refusal(() => authBlockOf({ auth: { ...auth, client_token: '' } }, 'unwrap'))).toMatch(
      /is not a token/,
    );
  });
});

describe('sectionOf and warningsOf', () => {
  it('accepts an object or nothing, refuses other values', () => {
    expect(sectionOf({ a: 1 }, 'x')).toEqual({ a: 1 });
    expect(sectionOf(null, 'x')).toBeUndefined();
    expect(sectionOf(undefined, 'x')).toBeUndefined();
    expect(refusal(() => sectionOf([1], 'sys/x'))).toBe("Vault's answer to sys/x has a malformed section");
    expect(refusal(() => sectionOf('text', 'sys/x'))).toMatch(/malformed section/);
  });

  it('keeps the string warnings only', () => {
    expect(warningsOf({ warnings: ['a', 2, null, 'b'] })).toEqual(['a', 'b']);
    expect(warningsOf({ warnings: 'a' })).toEqual([]);
    expect(warningsOf(undefined)).toEqual([]);
  });
});
