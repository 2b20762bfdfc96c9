/**
 * `check` and `status` (through inspect-local), `bootstrap`'s pass and `run`'s pass and sleep agree, for any
 * host seed, renewAt and clock reading, on whether a set is due and on the moment it renews: they all ask
 * plan/renewal.ts with the host's schedule. A set on disk written by the real writer, read by the real reader.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCertificatePass } from '../../src/app/certificate-pass.js';
import { inspectLocally, scheduleFor } from '../../src/app/inspect-local.js';
import { loadState, saveState } from '../../src/app/state.js';
import { buildStatusReport } from '../../src/app/status-report.js';
import { parseConfig } from '../../src/config/index.js';
import type { AgentConfig } from '../../src/config/types.js';
import { readCertificateSet } from '../../src/files/read-set.js';
import { writeCertificateSet } from '../../src/files/write-set.js';
import { createCsr } from '../../src/pki/csr.js';
import { generateKey } from '../../src/pki/keys.js';
import { nextWake, withReissueInterval } from '../../src/plan/renewal.js';
import type { VaultClient } from '../../src/vault/vault-client.js';
import { createMemoryLogger } from '../support/memory-logger.js';
import { nodeConfig } from '../support/node-config.js';
import { createTestCa, makeTempDir, opensslTime, signCsr, type TestCa } from '../support/openssl-ca.js';

const HOUR = 3_600_000;
let work: string;
const tmp = makeTempDir();
let ca: TestCa;
let config: AgentConfig;
let issuedAt: number;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'vpa-agree-'));
  ca = createTestCa(tmp.dir, 'etcd-ca');
  config = parseConfig(
    nodeConfig({
      address: 'http://127.0.0.1:1',
      tokenFile: join(work, 'unused'),
      work,
      certs: [{ name: 'etcd-peer', preset: 'etcd-peer', ttl: '24h' }],
    }),
    { host: { hostname: 'node-1', fqdn: 'node-1', ipv4: '10.0.0.10' }, env: {} },
  );
  const spec = config.certificates[0]!;
  const key = await generateKey(spec.key);
  issuedAt = Math.floor(Date.now() / 1000) * 1000 - HOUR;
  const cert = signCsr(
    ca,
    createCsr(key, { commonName: spec.commonName, dnsSans: spec.dnsSans, ipSans: spec.ipSans }),
    { startDate: opensslTime(new Date(issuedAt)), endDate: opensslTime(new Date(issuedAt + 24 * HOUR)) },
  );
  await writeCertificateSet(spec.files, { cert, key: key.privateKeyPem, ca: ca.certPem, fullchain: cert });
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  tmp.cleanup();
});

describe('check, status, bootstrap and run agree on the renewal of a set', () => {
  it('property: same verdict, same renewal moment, and run wakes no later than it', async () => {
    const vault = { readCaChain: async () => [ca.certPem] } as unknown as VaultClient;
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1 }),
        fc.double({ min: 0.1, max: 0.95, noNaN: true }),
        fc.integer({ min: 0, max: 23 * HOUR }),
        async (seed, renewAt, offset) => {
          const { state: loaded } = await loadState(config.stateDir);
          await saveState(config.stateDir, { ...loaded, seed });
          const spec = { ...config.certificates[0]!, renewAt };
          const cfg = { ...config, certificates: [spec] };
          const now = new Date(issuedAt + offset);

          // check and status
          const { state, results } = await inspectLocally(cfg, now);
          expect(state.seed).toBe(seed);
          const local = results[0]!.inspection;
          expect(local.leaf).toBeDefined();
          const status = buildStatusReport(results, state, now).certificates[0]!;
          expect(status.nextRenewal).toBe(local.renewalTime!.toISOString());
          expect(status.state).toBe(local.verdict ? `due: ${local.verdict.reason}` : 'ok');
          if (local.verdict) expect(local.verdict.reason).toBe('renewal-due');

          // bootstrap's pass (the plain host schedule) and run's (with the re-issue interval, nothing issued yet)
          for (const schedule of [
            scheduleFor(cfg, state),
            withReissueInterval(scheduleFor(cfg, state), () => undefined),
          ]) {
            const pass = await runCertificatePass(
              cfg,
              {
                vault,
                store: {
                  read: readCertificateSet,
                  write: () => Promise.reject(new Error('dry run writes nothing')),
                  rollback: async () => false,
                },
                runActions: async () => [],
                log: createMemoryLogger('error'),
                now: () => now,
              },
              { renewalTime: schedule, dryRun: true },
            );
            const outcome = pass.outcomes[0]!;
            if (local.verdict) {
              expect(outcome).toMatchObject({ action: 'would-issue', verdict: local.verdict });
            } else {
              expect(outcome).toMatchObject({ action: 'up-to-date', renewalTime: local.renewalTime });
              // run sleeps until that moment, or 15 minutes, whichever comes first
              const wake = nextWake([outcome.renewalTime], now).getTime();
              expect(wake).toBe(Math.min(local.renewalTime!.getTime(), now.getTime() + 15 * 60_000));
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
