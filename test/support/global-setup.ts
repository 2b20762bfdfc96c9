/**
 * Runs once per `vitest run`: names the OpenBao version the suite runs against, and afterwards
 * fails the run if any OpenBao or etcd server started by the suite is still alive.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { RUN_ID_VAR, SERVER_MARK_VAR } from './guarded-process.js';
import { REPO_ROOT, RUN_DIR, vaultBinary, vaultVersion } from './openbao.js';
import { secretScanFailure } from './secret-scan.js';

// Every server the suite starts carries this run's id in its environment (spawnGuarded adds it), so the
// check below finds exactly this run's servers, not those of another run on the same machine.
const RUN_ID = `${process.pid}-${randomBytes(4).toString('hex')}`;

function leftovers(): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!environ.includes(`${SERVER_MARK_VAR}=${RUN_ID}`)) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      found.push({ pid: Number(entry), cmd: cmd.slice(0, 120) });
    } catch {
      // process went away
    }
  }
  return found;
}

export function setup(): void {
  mkdirSync(RUN_DIR, { recursive: true });
  // Tests run the agent the way a node does: the bundled single file, built from the current sources.
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO_ROOT, stdio: 'inherit' });
  process.env[RUN_ID_VAR] = RUN_ID;
  console.log(`[vault-pki-agent tests] OpenBao: ${vaultVersion()} (${vaultBinary()})`);
}

export async function teardown(): Promise<void> {
  // No token a helper minted and no private key in any agent output (docs/SECURITY.md "Logs").
  const secretLeak = secretScanFailure(RUN_ID);
  // Guards need a moment to reap their servers after the workers exit.
  let left = leftovers();
  for (let i = 0; i < 50 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = leftovers();
  }
  if (left.length > 0) {
    for (const p of left) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {}
    }
    throw new Error(
      `servers left running after the suite: ${left.map((p) => `${p.pid} ${p.cmd}`).join('; ')}`,
    );
  }
  console.log('[vault-pki-agent tests] no OpenBao/etcd server left running');
  if (secretLeak) throw new Error(secretLeak);
}
