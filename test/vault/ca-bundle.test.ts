/** The Vault CA file (vault.caCert / VAULT_CACERT) is read like the config: a device or FIFO is refused at once. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { ResolvedVaultSettings } from '../../src/vault/settings.js';
import { createTransport } from '../../src/vault/transport.js';

/** The transport reads the CA bundle when it is made, before any request. */
const transportWith = (caCertFile: string) => () =>
  createTransport({
    settings: { address: 'https://vault.example:8200', caCertFile } as ResolvedVaultSettings,
  });

describe('the Vault CA bundle', () => {
  it('VAULT_CACERT=/dev/zero or a FIFO: a config error naming the file, at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpa-ca-'));
    try {
      const fifo = join(dir, 'ca.pem');
      execFileSync('mkfifo', [fifo]);
      for (const [file, kind] of [
        ['/dev/zero', 'a character device'],
        [fifo, 'a FIFO (named pipe)'],
      ] as const) {
        expect(transportWith(file)).toThrow(ConfigError);
        expect(transportWith(file)).toThrow(
          `cannot read the Vault CA certificate ${file} (vault.caCert / VAULT_CACERT): is ${kind}, not a regular file`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
