/** An http:// Vault address is warned about (issue 13); on the loopback interface a milder note; https: nothing. */
import { describe, expect, it } from 'vitest';
import { cleartextAddressNotice } from '../../src/vault/settings.js';

describe('cleartextAddressNotice', () => {
  it.each([
    'http://vault.internal:8200',
    'http://10.0.0.5:8200',
    'http://[fd00::1]:8200',
    'http://127.example:8200',
  ])('%s: a warning naming the clear text', (address) => {
    const notice = cleartextAddressNotice(address);
    expect(notice?.level).toBe('warn');
    expect(notice?.message).toMatch(/not https:\/\/: the token .* cross the network in clear text/);
    expect(notice?.fields.address).toBe(address);
  });

  it.each(['http://127.0.0.1:8200', 'http://127.1.2.3:8200', 'http://localhost:8200', 'http://[::1]:8200'])(
    '%s (loopback): an info note',
    (address) => {
      expect(cleartextAddressNotice(address)?.level).toBe('info');
    },
  );

  it('https: nothing to say', () => {
    expect(cleartextAddressNotice('https://vault.internal:8200')).toBeUndefined();
  });
});
