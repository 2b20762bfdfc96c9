/**
 * The logger's last line of defence (src/log.ts `redact`): whatever a caller passes — a message, a
 * field, an Error — a registered secret, a Vault-shaped token or a private-key PEM block never
 * reaches the written line, in text or JSON format. The tests feed the secrets in every position a
 * careless caller could put them.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, redact, registerSecret } from '../../src/log.js';

const REGISTERED = 'root-0123456789abcdef01234567';
const SHAPED = 'hvs.CAESIJ8abcdefghijklmnopqrstuvwxyz012345';
const LEGACY = 's.Az8u6WHNk9nwL8SegQr2h0Z3';
const KEY =
  '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5\n-----END EC PRIVATE KEY-----';
const CUT_KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg';

describe('log redaction', () => {
  registerSecret(REGISTERED);
  const secrets = [
    REGISTERED,
    SHAPED,
    LEGACY,
    'MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5',
    'MIGHAgEAMBMGByqGSM49',
  ];

  it('redact() removes registered tokens, token-shaped values and key blocks (also cut-off ones)', () => {
    const out = redact(`a ${REGISTERED} b ${SHAPED} c ${LEGACY} d ${KEY} e ${CUT_KEY}`);
    for (const s of secrets) expect(out).not.toContain(s);
    expect(out).toContain('[redacted private key]');
    expect(out).toMatch(/^a \[redacted\] b \[redacted token\] c \[redacted token\] d /);
  });

  it.each(['text', 'json'] as const)(
    '%s lines: message, fields, nested objects and Errors are redacted',
    (format) => {
      const lines: string[] = [];
      const log = createLogger({ format, level: 'debug', write: (l) => lines.push(l) }).child({
        bound: REGISTERED,
      });
      log.error(`token ${REGISTERED} failed`, {
        token: SHAPED,
        nested: { deeper: [LEGACY, KEY] },
        error: new Error(`request with ${REGISTERED} and ${CUT_KEY}`),
      });
      log.debug(KEY);
      expect(lines).toHaveLength(2);
      for (const line of lines) for (const s of secrets) expect(line).not.toContain(s);
      expect(lines.join('\n')).not.toContain('PRIVATE KEY-----\n');
    },
  );

  it('short values are not registered (they would redact ordinary words)', () => {
    registerSecret('abc');
    expect(redact('abc def')).toBe('abc def');
  });
});
