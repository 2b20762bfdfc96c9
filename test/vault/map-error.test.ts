import { describe, expect, it } from 'vitest';
import { VaultRefusedError, VaultUnavailableError } from '../../src/errors.js';
import {
  mapHttpFailure,
  mapTransportError,
  parseRetryAfter,
  permissionDeniedError,
  tokenInvalidError,
} from '../../src/vault/map-error.js';

const ADDRESS = 'https://vault.internal:8200';

describe('parseRetryAfter', () => {
  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('takes the first of repeated headers and never returns a negative wait', () => {
    expect(parseRetryAfter(['2', '9'])).toBe(2000);
    expect(parseRetryAfter(new Date(1000).toUTCString(), 5000)).toBe(0);
  });
});

describe('mapTransportError', () => {
  it('words each errno and says whether a retry may help', () => {
    const refused = mapTransportError('ECONNREFUSED', 'connect ECONNREFUSED', ADDRESS, 'sys/health');
    expect(refused).toBeInstanceOf(VaultUnavailableError);
    expect(refused).toMatchObject({ code: 'vault-unavailable', retryable: true });
    expect(refused.message).toBe(`Vault at ${ADDRESS} unreachable: connection refused (ECONNREFUSED)`);
    expect(mapTransportError('ENOTFOUND', 'x', ADDRESS, 'p').message).toContain('its name does not resolve');
    expect(mapTransportError('ETIMEDOUT', 'x', ADDRESS, 'p').message).toContain('no answer in time');
    expect(mapTransportError('EPIPE', 'broken pipe', ADDRESS, 'p').message).toContain(
      'unreachable: broken pipe',
    );

    const tls = mapTransportError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed', ADDRESS, 'p');
    expect(tls).toMatchObject({ code: 'vault-tls', retryable: false });
    expect(tls.message).toMatch(/give its CA with vault.caCert or VAULT_CACERT$/);
    expect(mapTransportError('EOTHER', 'SSL routines failed', ADDRESS, 'p').code).toBe('vault-tls');

    expect(mapTransportError('ETOOLARGE', 'over 1 MB', ADDRESS, 'p')).toMatchObject({
      code: 'vault-bad-response',
      retryable: false,
    });
    expect(mapTransportError('EDEADLINE', 'cut', ADDRESS, 'p')).toMatchObject({
      code: 'vault-unavailable',
      retryable: true,
    });
  });
});

describe('mapHttpFailure', () => {
  const failure = (status: number, errors: string[] = [], path = 'pki/sign/etcd-peer') => ({
    status,
    errors,
    path,
  });

  it('maps the statuses a retry can heal to retryable unavailability', () => {
    expect(mapHttpFailure({ ...failure(429, ['slow down']), retryAfterMs: 2000 }, ADDRESS)).toMatchObject({
      code: 'vault-rate-limited',
      retryable: true,
      details: { retryAfterMs: 2000 },
    });
    expect(mapHttpFailure(failure(503, ['Vault is sealed']), ADDRESS)).toMatchObject({
      code: 'vault-sealed',
      retryable: true,
      message: `Vault at ${ADDRESS} is sealed`,
    });
    expect(mapHttpFailure(failure(500, ['internal']), ADDRESS)).toMatchObject({
      code: 'vault-unavailable',
      retryable: true,
      message: 'Vault error on pki/sign/etcd-peer: internal',
    });
    expect(mapHttpFailure(failure(412), ADDRESS).message).toBe('Vault error on pki/sign/etcd-peer: HTTP 412');
    const redirect = mapHttpFailure({ ...failure(307), location: 'https://evil:8200/v1/x' }, ADDRESS);
    expect(redirect).toMatchObject({ code: 'vault-unavailable', retryable: true });
    expect(redirect.message).toContain(
      'to https://evil:8200/v1/x, which is not in vault.address: not followed',
    );
  });

  it('names the role and certificate a 400 on issue/sign rejects', () => {
    const error = mapHttpFailure(failure(400, ['common name  not allowed']), ADDRESS, {
      certName: 'etcd-peer',
    });
    expect(error).toBeInstanceOf(VaultRefusedError);
    expect(error).toMatchObject({
      code: 'role-rejected',
      retryable: false,
      details: { mount: 'pki', role: 'etcd-peer' },
    });
    expect(error.message).toBe(
      'Vault role pki/roles/etcd-peer rejected certificate "etcd-peer": common name not allowed',
    );
  });

  it('maps a 404 and other refusals to a bad request', () => {
    expect(mapHttpFailure(failure(404, [], 'kv/data/x'), ADDRESS).message).toBe(
      'Vault has nothing at kv/data/x (HTTP 404): is the mount or role provisioned?',
    );
    expect(mapHttpFailure(failure(400, ['bad'], 'sys/mounts'), ADDRESS)).toMatchObject({
      code: 'vault-bad-request',
      message: 'Vault refused sys/mounts: bad',
    });
  });
});

describe('token errors', () => {
  it('words an invalid token and a missing policy', () => {
    expect(tokenInvalidError('auth/token/lookup-self')).toMatchObject({ code: 'token-invalid' });
    expect(tokenInvalidError('p').message).toContain('vault-pki-agent token create');
    expect(permissionDeniedError('pki/sign/x', ['default', 'etcd']).message).toBe(
      "permission denied on pki/sign/x: the token's policies (default, etcd) do not allow it",
    );
    expect(permissionDeniedError('p', []).message).toContain('(none)');
  });
});
