/**
 * Soak of `run`: 20 short-lived certificates renewed for at least SOAK_CYCLES cycles each against a real
 * OpenBao. Reports peak RSS (VmHWM of the agent process), Vault requests per renewal by kind (from
 * OpenBao's own audit log) and whether any certificate was ever found expired.
 * Environment: SOAK_CYCLES (default 100), SOAK_CERTS (default 20), SOAK_TTL (default 14s), SOAK_NODE_OPTIONS.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, waitFor } from '../test/support/agent.js';
import { nodeConfig, type TestCert } from '../test/support/node-config.js';
import { startOpenBao, vaultVersion } from '../test/support/openbao.js';
import { createToken, provisionTestPki, writePolicy } from '../test/support/vault-pki.js';
import { stopVault } from './storm.js';

const cycles = Number(process.env.SOAK_CYCLES ?? 100);
const certCount = Number(process.env.SOAK_CERTS ?? 20);
const ttl = process.env.SOAK_TTL ?? '14s';

const vault = await startOpenBao({ name: 'soak', audit: true });
const work = mkdtempSync(join(tmpdir(), 'vpa-soak-'));
try {
  const pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, 'node', [`${pki.etcdMount}/client`]);
  const tokenFile = join(work, 'token');
  // A periodic token shorter than the soak, so token upkeep (renew-self) is part of what is measured.
  writeFileSync(tokenFile, await createToken(vault, { policies: ['node'], period: '2m' }), { mode: 0o600 });
  const execLog = join(work, 'exec.log');
  const certs: TestCert[] = Array.from({ length: certCount }, (_, i) => ({
    name: `client-${i}`,
    preset: 'etcd-client',
    commonName: `client-${i}`,
    ttl,
    renewAt: '2/3',
    execLog,
  }));
  const config = join(work, 'config.yaml');
  writeFileSync(config, nodeConfig({ address: vault.address, tokenFile, work, certs }));
  const issued = () => {
    const counts = new Map<string, number>();
    for (const line of readFileSync(execLog, 'utf8').split('\n').filter(Boolean)) {
      counts.set(line, (counts.get(line) ?? 0) + 1);
    }
    return counts;
  };
  vault.markAudit();
  // SOAK_NODE_OPTIONS (e.g. --max-old-space-size=48) tells how much of the RSS is live heap.
  const agent = startAgent(['run', '--config', config, '--log-level', 'warn'], {
    env: { NODE_OPTIONS: process.env.SOAK_NODE_OPTIONS },
  });
  const t0 = Date.now();
  let peakKb = 0;
  const sampler = setInterval(() => {
    try {
      const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {}
  }, 1000);
  await waitFor(
    () => {
      try {
        const c = issued();
        return c.size === certCount && Math.min(...c.values()) >= cycles + 1;
      } catch {
        return false;
      }
    },
    60 * 60_000,
    `${cycles} renewals of every certificate`,
  );
  clearInterval(sampler);
  const status = readFileSync(`/proc/${agent.pid}/status`, 'utf8');
  peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
  const rssNowKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const result = await agent.stop();
  const minutes = (Date.now() - t0) / 60_000;
  const paths = vault.auditedPaths();
  const byKind = new Map<string, number>();
  for (const p of paths) {
    const kind = /\/(sign|issue)\//.test(p) ? 'sign/issue' : p.replace(/^etcd\/c1\/pki\//, '<mount>/');
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  const renewals = [...issued().values()].reduce((a, b) => a + b, 0);
  console.log(`## Soak of \`run\` (${new Date().toISOString()}, ${vaultVersion().split(' (')[0]})`);
  console.log(
    `- ${certCount} certificates, ttl ${ttl}, renewAt 2/3; ${renewals} issues (≥ ${cycles + 1} per certificate) in ${minutes.toFixed(1)} min`,
  );
  console.log(
    `- peak RSS (VmHWM) ${(peakKb / 1024).toFixed(1)} MB; RSS at the end ${(rssNowKb / 1024).toFixed(1)} MB`,
  );
  console.log(
    `- Vault requests: ${paths.length} in total, ${(paths.length / renewals).toFixed(3)} per issued certificate`,
  );
  for (const [kind, n] of [...byKind.entries()].sort((a, b) => b[1] - a[1])) console.log(`  - ${kind}: ${n}`);
  console.log(
    `- expired certificate seen by the agent: ${/reason=expired/.test(result.stderr) ? 'YES' : 'no'}; exit ${result.code}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
  // stopVault keeps the event loop alive until the server has stopped (a bare vault.stop() let Node exit 13:
  // the guard's handles are unref'd, so the top-level await was left unsettled).
  await stopVault(vault);
}
