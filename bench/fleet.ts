/**
 * Fleet economics on a real three-node OpenBao cluster (Raft, TLS; test/support/openbao-ha.ts): what 1,000
 * renewals cost the cluster when the role stores every certificate (what `provision` wrote until session 5)
 * and when it stores none (`no_store: true`, `generate_lease: false`, what it writes now).
 * Per mode: Vault CPU time of the active node (utime + stime from /proc), wall time, stored certificates
 * (LIST <mount>/certs) and the growth of a Raft snapshot of the cluster (gzip'd, what the cluster stores; raft.db itself grows
 * in preallocated steps).
 * Each renewal is what the agent sends: a fresh EC P-256 key and CSR, one POST <mount>/sign/<role>.
 * Environment: FLEET_RENEWALS (default 1000), FLEET_CONCURRENCY (default 8).
 */
import { readFileSync } from 'node:fs';
import { createCsr } from '../src/pki/csr.js';
import { generateKey } from '../src/pki/keys.js';
import { vaultVersion } from '../test/support/openbao.js';
import { startOpenBaoCluster } from '../test/support/openbao-ha.js';

const renewals = Number(process.env.FLEET_RENEWALS ?? 1000);
const concurrency = Number(process.env.FLEET_CONCURRENCY ?? 8);
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // After "pid (comm) ": state is field 0, utime field 11, stime field 12.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export interface FleetModeResult {
  mode: string;
  renewals: number;
  wallSeconds: number;
  vaultCpuSeconds: number;
  /** All three nodes (standbys apply the Raft log too). */
  clusterCpuSeconds: number;
  storedCertificates: number;
  raftGrowthBytes: number;
}

export async function runFleetBench(): Promise<FleetModeResult[]> {
  const ha = await startOpenBaoCluster({ name: 'fleet' });
  const results: FleetModeResult[] = [];
  try {
    const modes = [
      { mode: 'stored (no_store: false)', noStore: false },
      { mode: 'unstored (no_store: true, generate_lease: false)', noStore: true },
    ];
    // Keys and CSRs made up front: the figure is Vault's work, not the client's.
    const csrs: string[] = [];
    for (let i = 0; i < renewals; i++) {
      const key = await generateKey({ type: 'ec', bits: 256 });
      csrs.push(createCsr(key, { commonName: `node-${i}.fleet.example` }));
    }
    for (const [index, m] of modes.entries()) {
      const mount = `fleet${index}/pki`;
      await ha.api('POST', `sys/mounts/${mount}`, { type: 'pki', config: { max_lease_ttl: '8760h' } });
      await ha.api('POST', `${mount}/root/generate/internal`, {
        common_name: `fleet-${index}`,
        ttl: '8760h',
        key_type: 'ec',
      });
      await ha.api('POST', `${mount}/roles/node`, {
        allow_any_name: true,
        key_type: 'any',
        ttl: '720h',
        no_store: m.noStore,
        generate_lease: false,
      });
      const active = await ha.active();
      const pid = active.pid()!;
      const storedBefore = await countCerts(ha, mount);
      const bytesBefore = await ha.snapshotBytes();
      const cpuBefore = cpuSeconds(pid);
      const clusterCpu = () => ha.nodes.reduce((sum, n) => sum + (n.pid() ? cpuSeconds(n.pid()!) : 0), 0);
      const clusterBefore = clusterCpu();
      const t0 = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < renewals) {
            const i = next++;
            await ha.api('POST', `${mount}/sign/node`, {
              csr: csrs[i],
              common_name: `node-${i}.fleet.example`,
              ttl: '720h',
            });
          }
        }),
      );
      const wallSeconds = (Date.now() - t0) / 1000;
      const vaultCpuSeconds = cpuSeconds(pid) - cpuBefore;
      const clusterCpuSeconds = clusterCpu() - clusterBefore;
      results.push({
        mode: m.mode,
        renewals,
        wallSeconds,
        vaultCpuSeconds,
        clusterCpuSeconds,
        storedCertificates: (await countCerts(ha, mount)) - storedBefore,
        raftGrowthBytes: (await ha.snapshotBytes()) - bytesBefore,
      });
    }
  } finally {
    await ha.stop();
  }
  return results;
}

async function countCerts(
  ha: Awaited<ReturnType<typeof startOpenBaoCluster>>,
  mount: string,
): Promise<number> {
  const r = await ha.api('LIST', `${mount}/certs`, undefined, { allowError: true });
  return r.status === 404 ? 0 : ((r.body.data?.keys as string[] | undefined)?.length ?? 0);
}

export function printFleetResults(results: FleetModeResult[]): void {
  console.log(`\n## Fleet economics: ${renewals} renewals on a three-node OpenBao cluster (Raft, TLS)`);
  console.log(
    `${vaultVersion().split(' (')[0]}, ${concurrency} concurrent requests, EC P-256 CSRs, sign per renewal\n`,
  );
  console.log(
    '| role | wall | Vault CPU, active node | all three nodes | active node per 1,000 signs | signs/s | stored certificates | Raft snapshot growth |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.mode} | ${r.wallSeconds.toFixed(1)} s | ${r.vaultCpuSeconds.toFixed(2)} s | ${r.clusterCpuSeconds.toFixed(2)} s | ` +
        `${((r.vaultCpuSeconds * 1000) / r.renewals).toFixed(2)} s | ${(r.renewals / r.wallSeconds).toFixed(0)} | ` +
        `${r.storedCertificates} | ${(r.raftGrowthBytes / 1024).toFixed(0)} KiB |`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // The servers' guards are unref'd: keep the loop alive until they are gone.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    printFleetResults(await runFleetBench());
  } finally {
    clearInterval(keepAlive);
  }
}
