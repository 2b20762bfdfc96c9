/**
 * A real second user for attacks on the files the root agent writes (issue 13): `vpa-attacker`, created once
 * with useradd (kept: parallel test files share it), and ways to run code as that user: a one-shot script or
 * a loop that keeps going (a race) until stopped. Needs root; `attacker()` is undefined otherwise.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';

export interface Attacker {
  name: string;
  uid: number;
  gid: number;
}

export const ATTACKER = 'vpa-attacker';

function lookup(name: string): Attacker | undefined {
  const line = spawnSync('getent', ['passwd', name], { encoding: 'utf8' }).stdout.trim();
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { name, uid: Number(uid), gid: Number(gid) };
}

/** The attacker user (created when missing); undefined when the tests do not run as root. */
export function attacker(): Attacker | undefined {
  if (process.geteuid?.() !== 0) return undefined;
  for (let i = 0; i < 20; i++) {
    const found = lookup(ATTACKER);
    if (found) return found;
    // useradd fails while another process holds /etc/passwd's lock: try again shortly.
    const made = spawnSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', ATTACKER],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) execFileSync('sleep', ['0.2']);
  }
  throw new Error(`cannot create the user ${ATTACKER}`);
}

const asUser = (who: Attacker) => ['--reuid', String(who.uid), '--regid', String(who.gid), '--clear-groups'];

/**
 * Run `script` (JavaScript, CommonJS, `fs` and `path` in scope, `args` = the extra arguments) as the
 * attacker; returns its stdout, throws with its stderr when it fails.
 */
export function runAsAttacker(who: Attacker, script: string, ...args: string[]): string {
  const result = spawnSync(
    'setpriv',
    [...asUser(who), process.execPath, '-e', PRELUDE + script, '--', ...args],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (result.status !== 0) throw new Error(`attacker script failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

export interface AttackLoop {
  /** Stops the loop; resolves with how many rounds it made (it prints the count on SIGTERM). */
  stop(): Promise<number>;
}

/**
 * Run `body` (JavaScript; may throw: errors are counted and ignored) as the attacker over and over, until
 * stop() or `maxMs`, whichever comes first.
 */
export function startAttackLoop(who: Attacker, body: string, maxMs: number, ...args: string[]): AttackLoop {
  const script = `${PRELUDE}
let rounds = 0;
const until = Date.now() + ${maxMs};
process.on('SIGTERM', () => { process.stdout.write(String(rounds)); process.exit(0); });
function round() { try { ${body} } catch {} rounds++; }
(function spin() {
  const end = Date.now() + 20;
  while (Date.now() < end) round();
  if (Date.now() < until) setImmediate(spin); else { process.stdout.write(String(rounds)); process.exit(0); }
})();`;
  const child: ChildProcess = spawn(
    'setpriv',
    [...asUser(who), process.execPath, '-e', script, '--', ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const done = new Promise<number>((resolve) => child.on('close', () => resolve(Number(out) || 0)));
  return {
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return done;
    },
  };
}

const PRELUDE =
  "const fs = require('fs'); const path = require('path'); const args = process.argv.slice(1);\n";
