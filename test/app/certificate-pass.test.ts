/**
 * The pass decides "renewal due" with the schedule it is given (the fleet-jittered one `run`, `check` and
 * `bootstrap` share), not with the nominal renewAt moment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCertificatePass } from '../../src/app/certificate-pass.js';
import { createPassPorts } from '../../src/app/wiring.js';
import { parseConfig } from '../../src/config/index.js';
import { hostSchedule } from '../../src/plan/renewal.js';
import { createVaultClient } from '../../src/vault/client.js';
import { resolveVaultSettings } from '../../src/vault/settings.js';
import { createMemoryLogger } from '../support/memory-logger.js';
import { nodeConfig } from '../support/node-config.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { provisionTestPki } from '../support/vault-pki.js';

let vault: TestVault;
let work: string;

beforeAll(async () => {
  vault = await startOpenBao({ name: 'pass', audit: true });
  await provisionTestPki(vault, 'c1');
  work = mkdtempSync(join(tmpdir(), 'vpa-pass-'));
});
afterAll(async () => {
  await vault?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('runCertificatePass', () => {
  it('uses the given schedule for "renewal due" and reports it', async () => {
    const text = nodeConfig({
      address: vault.address,
      tokenFile: join(work, 'unused'),
      work,
      certs: [{ name: 'etcd-peer', preset: 'etcd-peer', ttl: '1h' }],
    });
    const config = parseConfig(text, {
      host: { hostname: 'node-1', fqdn: 'node-1', ipv4: '10.0.0.10' },
      env: {},
    });
    const log = createMemoryLogger();
    const client = createVaultClient({
      settings: resolveVaultSettings({ address: vault.address }, {}),
      token: vault.rootToken,
      timeoutMs: 10_000,
      log,
    });
    const ports = createPassPorts(client, log, true);
    const first = await runCertificatePass(config, ports, { renewalTime: hostSchedule('node-1', 'seed') });
    expect(first.outcomes[0]?.action).toBe('issued');

    // Nominal renewal is 40 minutes away; a schedule that says "now" (a host early in the fleet's window) wins.
    const early = new Date(Date.now() - 1000);
    const due = await runCertificatePass(config, ports, { renewalTime: () => early });
    expect(due.outcomes[0]?.action).toBe('issued');
    expect(due.outcomes[0]?.verdict?.reason).toBe('renewal-due');

    const later = new Date(Date.now() + 3_600_000);
    const calm = await runCertificatePass(config, ports, { renewalTime: () => later });
    expect(calm.outcomes[0]).toMatchObject({ action: 'up-to-date', renewalTime: later });
  });
});
