import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { renderStatusTable, type StatusReport } from '../../src/app/status-report.js';
import { runAgent } from '../support/agent.js';
// FAKE systemctl: check/status call no systemctl; it only keeps bootstrap's actions off the host's systemd.
import { createFakeSystemctl, type FakeSystemctl } from '../support/fake-systemctl/index.js';
import { writeTestNode } from '../support/node-setup.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { provisionTestPki, writePolicy } from '../support/vault-pki.js';

let vault: TestVault;
let work: string;
let config: string;

beforeAll(async () => {
  vault = await startOpenBao({ name: 'check-status' });
  const pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'node', [`${pki.etcdMount}/member`, `${pki.k8sMount}/kubelet-client`]);
});
afterAll(async () => {
  await vault?.stop();
});
beforeEach(async () => {
  work = mkdtempSync(join(tmpdir(), 'vpa-check-'));
  ({ config } = await writeTestNode(vault, {
    work,
    policies: ['node'],
    period: '1h',
    certs: [
      { name: 'etcd-peer', preset: 'etcd-peer', unit: 'etcd.service' },
      { name: 'kubelet-client', preset: 'kubelet-client', mode: 'issue' },
    ],
  }));
  return () => rmSync(work, { recursive: true, force: true });
});

/** The systemctl the agent calls: the project's named fake (test/support/fake-systemctl), etcd active. */
let systemctl: FakeSystemctl;
let env: Record<string, string>;
beforeEach(() => {
  systemctl = createFakeSystemctl({ active: ['etcd.service'] });
  env = { VPA_SYSTEMCTL: systemctl.binary, ...systemctl.env };
});

describe('check', () => {
  it('exit 10 while anything is due, 0 once everything is in place; no Vault calls', async () => {
    const before = await runAgent(['check', '--config', config]);
    expect(before.code).toBe(10);
    expect(before.stdout).toMatch(/etcd-peer: due \(missing\)/);
    expect((await runAgent(['bootstrap', '--config', config], { env })).code).toBe(0);
    expect(systemctl.calls()).toContain('restart etcd.service');
    // The first bootstrap issued without asking about the token: its TTL is the one thing still due.
    const tokenDue = await runAgent(['check', '--config', config]);
    expect(tokenDue.code, tokenDue.stdout).toBe(10);
    expect(tokenDue.stdout).toMatch(/^token: due \(lookup\): the token has not been checked yet$/m);
    expect(tokenDue.stdout).not.toMatch(/etcd-peer: due/);
    expect((await runAgent(['bootstrap', '--config', config], { env })).code).toBe(0);
    // Vault stopped: check must not need it.
    await vault.stop();
    try {
      const after = await runAgent(['check', '--config', config]);
      expect(after.code).toBe(0);
      expect(after.stdout).toMatch(/etcd-peer: ok, renews 20\d\d-/);
      expect(after.stdout).toMatch(/^token: ok, renews 20\d\d-/m);
      expect((await runAgent(['check', '--exec-condition', '--config', config])).code).toBe(1);
    } finally {
      await vault.restart();
      const pki = await provisionTestPki(vault, 'c1');
      await writePolicy(vault, 'node', [`${pki.etcdMount}/member`, `${pki.k8sMount}/kubelet-client`]);
    }
  });

  it('a FIFO planted as cert.pem is reported at once, not waited on (the reads are synchronous)', async () => {
    const dir = join(work, 'pki', 'etcd-peer');
    mkdirSync(dir, { recursive: true });
    execFileSync('mkfifo', [join(dir, 'cert.pem')]);
    const r = await runAgent(['check', '--config', config], { timeoutMs: 15_000 });
    expect(r.signal, 'killed after 15 s: the read waited for a writer').toBeNull();
    expect(r.code, r.stderr).toBe(10);
    expect(r.stdout).toMatch(/etcd-peer: due/);
  });

  it('--exec-condition answers systemd: 0 = due (run), 1 = nothing due (skip); broken = 0 (run and fail loudly)', async () => {
    expect((await runAgent(['check', '--exec-condition', '--config', config])).code).toBe(0);
    writeFileSync(config, 'cluster: [');
    const broken = await runAgent(['check', '--exec-condition', '--config', config]);
    expect(broken.code).toBe(0);
    expect(broken.stderr).toMatch(/check failed, letting the renewal run/);
    expect((await runAgent(['check', '--config', config])).code).toBe(3);
    expect((await runAgent(['check', '--exec-condition', '--no-such-flag'])).code).toBe(0);
  });
});

const statusSchema = z
  .object({
    generatedAt: z.iso.datetime(),
    token: z
      .object({
        ttlSeconds: z.number().int().nonnegative().nullable(),
        renewable: z.boolean(),
        checkedAt: z.iso.datetime(),
        periodSeconds: z.number().nullable(),
      })
      .strict()
      .nullable(),
    lastPass: z.object({ at: z.iso.datetime(), success: z.boolean() }).strict().nullable(),
    certificates: z.array(
      z
        .object({
          name: z.string(),
          commonName: z.string().nullable(),
          sans: z.object({ dns: z.array(z.string()), ip: z.array(z.string()) }).strict(),
          serial: z
            .string()
            .regex(/^[0-9a-f:]+$/)
            .nullable(),
          notAfter: z.iso.datetime().nullable(),
          secondsLeft: z.number().int().nullable(),
          nextRenewal: z.iso.datetime().nullable(),
          state: z.string(),
          mount: z.string(),
          role: z.string(),
          dir: z.string(),
          units: z.array(z.string()),
          lastResult: z.enum(['up-to-date', 'issued', 'failed', 'rolled-back']).nullable(),
          lastAttempt: z.iso.datetime().nullable(),
          lastSuccess: z.iso.datetime().nullable(),
          lastError: z.string().nullable(),
          issueFailures: z.number().int(),
          rollbacks: z.number().int(),
        })
        .strict(),
    ),
  })
  .strict();

describe('status', () => {
  it('--json follows the documented schema, before and after a bootstrap; the token is never shown', async () => {
    const empty = statusSchema.parse(
      JSON.parse((await runAgent(['status', '--json', '--config', config])).stdout),
    );
    expect(empty.certificates.map((c) => c.state)).toEqual(['due: missing', 'due: missing']);
    expect((await runAgent(['bootstrap', '--config', config], { env })).code).toBe(0);
    const run = await runAgent(['status', '--json', '--config', config]);
    const report = statusSchema.parse(JSON.parse(run.stdout));
    expect(report.certificates[0]).toMatchObject({
      name: 'etcd-peer',
      commonName: 'node-1',
      state: 'ok',
      mount: 'etcd/c1/pki',
      role: 'member',
      units: ['etcd.service'],
      lastResult: 'issued',
    });
    expect(report.certificates[0]?.sans.ip).toContain('10.0.0.10');
    // The bootstrap that issued did not look the token up (its requests proved it): no TTL known yet.
    expect(report.token).toBeNull();
    // A bootstrap with nothing to issue asks about the token and records its TTL.
    expect((await runAgent(['bootstrap', '--config', config], { env })).code).toBe(0);
    const again = statusSchema.parse(
      JSON.parse((await runAgent(['status', '--json', '--config', config])).stdout),
    );
    expect(again.token?.renewable).toBe(true);
    expect(again.token?.ttlSeconds).toBeGreaterThan(3500);
    const table = await runAgent(['status', '--config', config]);
    const token = readFileSync(join(work, 'token'), 'utf8').trim();
    expect(run.stdout + run.stderr + table.stdout + table.stderr).not.toContain(token);
    expect(table.stdout).toMatch(/^NAME\s+STATE\s+CN/);
    expect(table.stdout).toMatch(/etcd-peer\s+ok\s+node-1/);
  });

  it('renders the table (snapshot)', () => {
    const report: StatusReport = {
      generatedAt: '2026-11-24T12:00:00.000Z',
      token: {
        ttlSeconds: 3000,
        renewable: true,
        checkedAt: '2026-11-24T11:50:00.000Z',
        periodSeconds: 3600,
      },
      lastPass: { at: '2026-11-24T11:50:00.000Z', success: true },
      certificates: [
        {
          name: 'etcd-peer',
          commonName: 'node-1',
          sans: { dns: ['node-1', 'localhost'], ip: ['10.0.0.10', '127.0.0.1', '::1'] },
          serial: '3a:7f:00:11:22:33:44:55:66:77',
          notAfter: '2026-12-24T11:50:00.000Z',
          secondsLeft: 2591400,
          nextRenewal: '2026-12-14T03:10:00.000Z',
          state: 'ok',
          mount: 'etcd/c1/pki',
          role: 'member',
          dir: '/etc/etcd/pki/peer',
          units: ['etcd.service'],
          lastResult: 'issued',
          lastAttempt: '2026-11-24T11:50:00.000Z',
          lastSuccess: '2026-11-24T11:50:00.000Z',
          lastError: null,
          issueFailures: 0,
          rollbacks: 0,
        },
        {
          name: 'kubelet-client',
          commonName: null,
          sans: { dns: [], ip: [] },
          serial: null,
          notAfter: null,
          secondsLeft: null,
          nextRenewal: null,
          state: 'due: missing',
          mount: 'k8s/c1/pki',
          role: 'kubelet-client',
          dir: '/var/lib/kubelet/pki/client',
          units: [],
          lastResult: 'failed',
          lastAttempt: '2026-11-24T11:50:00.000Z',
          lastSuccess: null,
          lastError: 'permission denied on k8s/c1/pki/issue/kubelet-client',
          issueFailures: 3,
          rollbacks: 0,
        },
      ],
    };
    expect(renderStatusTable(report)).toMatchInlineSnapshot(`
      "NAME            STATE         CN      SANS                                      SERIAL       NOT AFTER             LEFT       NEXT RENEWAL          MOUNT/ROLE                 UNITS         LAST
      etcd-peer       ok            node-1  node-1,localhost,10.0.0.10,127.0.0.1,::1  44:55:66:77  2026-12-24T11:50:00Z  29d23h50m  2026-12-14T03:10:00Z  etcd/c1/pki/member         etcd.service  issued
      kubelet-client  due: missing  -       -                                         -            -                     -          -                     k8s/c1/pki/kubelet-client  -             failed: permission denied on k8s/c1/pki/issue/kubelet-client

      token: 50m left, renewable, period 1h (as of 2026-11-24T11:50:00.000Z)
      last pass: 2026-11-24T11:50:00.000Z ok
      "
    `);
  });
});
