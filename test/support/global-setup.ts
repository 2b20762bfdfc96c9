/**
 * Runs once per `vitest run`: names the OpenBao version the suite runs against, and afterwards
 * fails the run if any OpenBao or etcd server started by the suite is still alive.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { RUN_DIR, vaultBinary, vaultVersion } from './openbao.js';

function leftovers(): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (
        cmd.includes(RUN_DIR) ||
        (cmd.includes('server -dev') && cmd.includes('-dev-root-token-id=root-'))
      ) {
        if (Number(entry) !== process.pid) found.push({ pid: Number(entry), cmd: cmd.slice(0, 120) });
      }
    } catch {
      // process went away
    }
  }
  return found;
}

export function setup(): void {
  mkdirSync(RUN_DIR, { recursive: true });
  console.log(`[vault-pki-agent tests] OpenBao: ${vaultVersion()} (${vaultBinary()})`);
}

export async function teardown(): Promise<void> {
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
}
