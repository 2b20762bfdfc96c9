/**
 * `npm run bench`: figures for docs/PERFORMANCE.md, printed as Markdown.
 * 1. start-up: `node dist/vault-pki-agent.cjs --version` beside `node -e 0`;
 * 2. an EC P-256 key + CSR on the host;
 *    bootstrap of a four-certificate node (from nothing) vs bench/baseline-curl-jq.sh, same local OpenBao,
 *    alternating runs, medians and ratio.
 * 3. bench/peers.ts: vault-pki-agent, curl+jq and OpenBao Agent side by side (wall, CPU, RSS, Vault requests);
 * 4. bench/storm.ts: fleet boot storm of STORM_AGENTS (300) agents, without and with a rate-limit quota;
 * 5. bench/failover-storm.ts: FAILOVER_AGENTS (300) agents against a three-node cluster whose active node is killed;
 * 6. bench/fleet.ts: Vault CPU and storage per 1,000 renewals on a three-node Raft cluster, stored vs unstored.
 * Environment: BENCH_RUNS (default 21), STORM_AGENTS (300), STORM_RATE (50 requests/s); BENCH_QUICK=1 stops after 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCsr } from '../src/pki/csr.js';
import { generateKey } from '../src/pki/keys.js';
import { REPO_ROOT, startOpenBao, vaultVersion } from '../test/support/openbao.js';
import { writeBenchNode } from './bench-node.js';
import { runFailoverBench } from './failover-storm.js';
import { printFleetResults, runFleetBench } from './fleet.js';
import { runPeerBench } from './peers.js';
// @ts-expect-error plain ESM helper without types
import { measureStartup } from './startup.mjs';
import { runStormBench, stopVault } from './storm.js';

const runs = Number(process.env.BENCH_RUNS ?? 21);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const agent = join(REPO_ROOT, 'dist', 'vault-pki-agent.cjs');

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

console.log(`# vault-pki-agent bench (${new Date().toISOString()})`);
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model}, node ${process.version}, ${vaultVersion().split(' (')[0]}\n`,
);

const startup = measureStartup(runs);
console.log('## Start-up (median wall time, alternating runs)');
for (const [k, v] of Object.entries(startup) as [string, { median: number; runs: number }][]) {
  console.log(`- ${k}: ${v.median.toFixed(1)} ms (${v.runs} runs)`);
}

// Key + CSR on the host (what each `sign` set costs before its request), in this process.
{
  const n = 200;
  const subject = {
    commonName: 'etcd-1',
    dnsSans: ['etcd-1', 'localhost'],
    ipSans: ['10.0.0.10', '127.0.0.1'],
  };
  createCsr(await generateKey({ type: 'ec', bits: 256 }), subject); // warm-up
  const start = performance.now();
  for (let i = 0; i < n; i++) createCsr(await generateKey({ type: 'ec', bits: 256 }), subject);
  console.log(
    `\n## EC P-256 key + CSR\n- ${((performance.now() - start) / n).toFixed(3)} ms each (${n} in a row)\n`,
  );
}

const vault = await startOpenBao({ name: 'bench' });
try {
  const work = mkdtempSync(join(tmpdir(), 'vpa-bench-'));
  const { token, out, configFile } = await writeBenchNode(vault, work);
  const env = { PATH: process.env.PATH, VAULT_ADDR: vault.address, VAULT_TOKEN: token };
  const agentTimes: number[] = [];
  const baseTimes: number[] = [];
  const noopTimes: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    rmSync(out, { recursive: true, force: true });
    const a = timed(
      process.execPath,
      [agent, 'bootstrap', '--config', configFile, '--log-level', 'warn'],
      env,
    );
    const n = timed(
      process.execPath,
      [agent, 'bootstrap', '--config', configFile, '--log-level', 'warn'],
      env,
    );
    const baseOut = join(work, 'baseline-out');
    rmSync(baseOut, { recursive: true, force: true });
    const b = timed(
      'bash',
      [
        join(REPO_ROOT, 'bench/baseline-curl-jq.sh'),
        baseOut,
        'bench',
        'node-1',
        '10.0.0.10',
        'api.bench.example.internal',
      ],
      env,
    );
    if (i === 0) continue; // warm-up round
    agentTimes.push(a);
    noopTimes.push(n);
    baseTimes.push(b);
  }
  rmSync(work, { recursive: true, force: true });
  const ma = median(agentTimes);
  const mb = median(baseTimes);
  console.log(
    '\n## Bootstrap of a four-certificate node (etcd-server, etcd-peer, apiserver, kubelet-client)',
  );
  console.log(`- vault-pki-agent bootstrap, from nothing: median ${ma.toFixed(0)} ms (${runs} runs)`);
  console.log(
    `- bench/baseline-curl-jq.sh (curl + jq per file, nothing verified): median ${mb.toFixed(0)} ms`,
  );
  console.log(`- ratio agent / baseline: ${(ma / mb).toFixed(2)}x`);
  console.log(
    `- vault-pki-agent bootstrap, nothing due (second run): median ${median(noopTimes).toFixed(0)} ms`,
  );
} finally {
  // stopVault keeps the event loop alive until OpenBao is gone (its guard is unref'd: a bare
  // `await vault.stop()` at top level ends the process with exit code 13 before what follows).
  await stopVault(vault);
}

// Side by side with curl+jq and OpenBao Agent, then the fleet boot storm (each on its own OpenBao).
if (!process.env.BENCH_QUICK) {
  console.log(await runPeerBench(runs));
  console.log(await runStormBench());
  console.log(await runFailoverBench());
  const keepAlive = setInterval(() => {}, 1000);
  printFleetResults(await runFleetBench());
  clearInterval(keepAlive);
}
