/**
 * A/B of two builds on a four-certificate bootstrap from nothing (the config of bench/run.ts), against one
 * OpenBao dev server: `npx tsx bench/bootstrap-ab.ts <dist A> <dist B> [runs]`, e.g. the build of `main` copied
 * to /tmp/ab/A beside this branch's `dist`. The two builds alternate run by run (the machine's speed drifts), each
 * with its own code cache directory as the units set it, in a unit's environment (PATH, HOME); the first round
 * is dropped (it writes the run caches). Prints each build's median and the median of the paired differences
 * (B − A), which a drift in the middle of the A/B does not move, for the wall time and for the CPU time (user +
 * system, from bash's `times`): on a machine loaded by other work the CPU time is the steadier of the two.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startOpenBao } from '../test/support/openbao.js';
import { writeBenchNode } from './bench-node.js';
import { stopVault } from './storm.js';

const [distA, distB, runsArg] = process.argv.slice(2);
if (!distA || !distB) throw new Error('usage: bench/bootstrap-ab.ts <dist A> <dist B> [runs]');
const runs = Number(runsArg ?? 21);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const vault = await startOpenBao({ name: 'bench-ab' });
const work = mkdtempSync(join(tmpdir(), 'vpa-bench-ab-'));
try {
  const { out, configFile } = await writeBenchNode(vault, work);
  const builds = [distA, distB].map((dist, i) => {
    const cacheDir = join(work, `cache-${i}`);
    mkdirSync(cacheDir, { mode: 0o700 });
    return {
      agent: join(resolve(dist), 'vault-pki-agent.cjs'),
      cacheDir,
      wall: [] as number[],
      cpu: [] as number[],
    };
  });
  const seconds = (t: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
  };
  const bootstrap = (b: (typeof builds)[number]): { wall: number; cpu: number } => {
    rmSync(out, { recursive: true, force: true });
    const t0 = process.hrtime.bigint();
    // bash's `times`: the CPU time of its children (the agent), to the millisecond.
    const r = spawnSync(
      'bash',
      [
        '-c',
        '"$0" "$@" >/dev/null 2>"$VPA_AB_ERR" || exit $?; times',
        process.execPath,
        b.agent,
        'bootstrap',
        '--config',
        configFile,
        '--log-level',
        'warn',
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          VPA_CODE_CACHE_DIR: b.cacheDir,
          VPA_AB_ERR: join(work, 'stderr'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const wall = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${b.agent} bootstrap exited ${r.status}`);
    const [user, system] = (r.stdout.toString().split('\n')[1] ?? '').split(' ').map(seconds);
    return { wall, cpu: ((user as number) + (system as number)) * 1000 };
  };
  for (let i = 0; i <= runs; i++) {
    // Alternate which build goes first, so neither always follows the other.
    const order = i % 2 === 0 ? builds : [...builds].reverse();
    const t = order.map((b) => bootstrap(b));
    if (i === 0) continue;
    order.forEach((b, k) => {
      b.wall.push(t[k]?.wall as number);
      b.cpu.push(t[k]?.cpu as number);
    });
  }
  const [a, b] = builds as [(typeof builds)[number], (typeof builds)[number]];
  for (const what of ['wall', 'cpu'] as const) {
    const paired = a[what].map((t, i) => (b[what][i] as number) - t);
    console.log(
      `${what}: A ${median(a[what]).toFixed(1)} ms, B ${median(b[what]).toFixed(1)} ms, ` +
        `B − A paired median ${median(paired).toFixed(1)} ms (${runs} runs each; A ${distA}, B ${distB})`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  await stopVault(vault);
}
