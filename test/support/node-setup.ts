/** A node on disk for a test: a fresh periodic token (0600 file) and a config for the given certificates. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeConfig, type TestCert } from './node-config.js';
import type { TestVault } from './openbao.js';
import { createToken } from './vault-pki.js';

export async function writeTestNode(
  vault: TestVault,
  opts: { work: string; policies: string[]; period: string; certs: TestCert[] },
): Promise<{ config: string; tokenFile: string }> {
  const tokenFile = join(opts.work, 'token');
  writeFileSync(tokenFile, await createToken(vault, { policies: opts.policies, period: opts.period }), {
    mode: 0o600,
  });
  const config = join(opts.work, 'config.yaml');
  writeFileSync(
    config,
    nodeConfig({ address: vault.address, tokenFile, work: opts.work, certs: opts.certs }),
  );
  return { config, tokenFile };
}
