import { describe, expect, it } from 'vitest';
import { AgentError, ConfigError } from '../../src/errors.js';
import { resolveVaultSettings } from '../../src/vault/settings.js';

describe('Vault settings: flags > VAULT_* environment > config > defaults', () => {
  it('uses the config when no environment is set', () => {
    const s = resolveVaultSettings({ address: 'https://vault.internal:8200/', caCert: '/etc/ca.pem' }, {});
    expect(s).toMatchObject({
      address: 'https://vault.internal:8200',
      caCertFile: '/etc/ca.pem',
      skipVerify: false,
    });
  });

  it('environment overrides config, flags override environment', () => {
    const env = {
      VAULT_ADDR: 'https://env:8200',
      VAULT_CACERT: '/env/ca.pem',
      VAULT_CAPATH: '/env/cas',
      VAULT_NAMESPACE: 'team-a',
      VAULT_CLIENT_TIMEOUT: '7s',
    };
    const s = resolveVaultSettings({ address: 'https://cfg:8200', caCert: '/cfg/ca.pem' }, env);
    expect(s).toMatchObject({
      address: 'https://env:8200',
      caCertFile: '/env/ca.pem',
      caPath: '/env/cas',
      namespace: 'team-a',
      requestTimeoutMs: 7000,
    });
    expect(resolveVaultSettings({}, env, { address: 'http://flag:1' }).address).toBe('http://flag:1');
  });

  it('a configured list is the failover order; VAULT_ADDR and --vault-addr stay one address', () => {
    const list = { address: ['https://v1:8200/', 'https://v2:8200', 'https://v1:8200'] };
    expect(resolveVaultSettings(list, {})).toMatchObject({
      address: 'https://v1:8200',
      addresses: ['https://v1:8200', 'https://v2:8200'],
    });
    expect(resolveVaultSettings(list, { VAULT_ADDR: 'https://env:8200' }).addresses).toEqual([
      'https://env:8200',
    ]);
    expect(resolveVaultSettings(list, {}, { address: 'https://flag:8200' }).addresses).toEqual([
      'https://flag:8200',
    ]);
    expect(() => resolveVaultSettings({ address: ['https://v1:8200', 'ftp://v2'] }, {})).toThrow(
      /vault address "ftp:\/\/v2" must use http or https/,
    );
  });

  it('refuses VAULT_SKIP_VERIFY unless --tls-skip-verify confirms it', () => {
    const err = (() => {
      try {
        resolveVaultSettings({}, { VAULT_SKIP_VERIFY: 'true' });
      } catch (e) {
        return e;
      }
    })();
    expect(AgentError.is(err) && err.exitCode).toBe(2);
    expect(resolveVaultSettings({}, { VAULT_SKIP_VERIFY: '1' }, { tlsSkipVerify: true }).skipVerify).toBe(
      true,
    );
  });

  it('rejects a bad address or timeout as a config error (exit 3)', () => {
    expect(() => resolveVaultSettings({ address: 'not a url' }, {})).toThrow(/not a URL/);
    expect(() => resolveVaultSettings({}, { VAULT_CLIENT_TIMEOUT: 'soon' })).toThrow(/VAULT_CLIENT_TIMEOUT/);
  });

  it('refuses user:password in VAULT_ADDR or --vault-addr, as the config does, without repeating it', () => {
    for (const [env, flags] of [
      [{ VAULT_ADDR: 'https://ops:hunter2@vault.example:8200' }, {}],
      [{}, { address: 'https://ops:hunter2@vault.example:8200' }],
    ] as const) {
      let message = '';
      try {
        resolveVaultSettings({}, env, flags);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message).toMatch(/must not contain user:password/);
      expect(message).not.toContain('hunter2');
    }
  });
});
