/**
 * Several "hosts" with their own IP addresses on one machine, for tests where the source address of a
 * connection matters (etcd checks a peer's source IP against its certificate's IP SANs).
 *
 * `createTestNetwork(n)` makes a bridge, n network namespaces each with one veth into the bridge and an
 * address from a random 10.213.x.0/24, and gives the bridge itself the .254 address so that the test
 * process (root namespace) reaches every member directly. Nothing outlives the test process:
 *  - a guard `sh` (stdin piped from us, like guarded-process.ts) deletes everything once our process ends
 *    for any reason, SIGKILL included;
 *  - a state file in NETNS_STATE_DIR (machine-wide) records the owner PID first, and every new network first deletes
 *    leftovers with our prefixes whose owner is dead (e.g. the guard itself was killed).
 * Names: bridge `vpab<id>`, namespaces `vpa-<id>-<i>`, host veth ends `vpav<id>-<i>` (`id` = 6 hex),
 * temp dirs `/tmp/vpa-net-<id>-*`, state file `/tmp/vpa-netns-owners/netns-<id>.json`.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from './guarded-process.js';

const BRIDGE_RE = /^vpab([0-9a-f]{6})$/;
const VETH_RE = /^vpav([0-9a-f]{6})-\d+$/;
const NS_RE = /^vpa-([0-9a-f]{6})-\d+$/;
const TMP_RE = /^vpa-net-([0-9a-f]{6})-/;
const STATE_PREFIX = 'netns-';
/**
 * Owner records live machine-wide (not in one clone's .cache/test-run): namespaces and bridges are
 * machine-wide, and a run in another clone or worktree must see that a network is still owned, or its
 * cleanStaleNetworks() takes a live network for a leftover and deletes it under the running test.
 */
export const NETNS_STATE_DIR = join(tmpdir(), 'vpa-netns-owners');

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestNetwork {
  readonly id: string;
  readonly bridge: string;
  /** Namespace names, index = member index. */
  readonly namespaces: readonly string[];
  /** Address of each namespace (same index). */
  readonly ips: readonly string[];
  /** Address of the bridge in the root namespace (the test process's address on this network). */
  readonly hostIp: string;
  /** e.g. `10.213.57.0/24`. */
  readonly subnet: string;
  /** Runs argv inside namespace `nsIndex` (`ip netns exec`); never throws on a non-zero exit. */
  exec(
    nsIndex: number,
    argv: string[],
    opts?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
  ): Promise<ExecResult>;
  /**
   * A fresh temp dir (`/tmp/vpa-net-<id>-<label>-XXXXXX`) that goes away with the network, even when
   * the test process is SIGKILLed (the guard and the stale cleanup remove `/tmp/vpa-net-<id>-*`).
   */
  makeTempDir(label: string): string;
  /** Deletes namespaces, veths, bridge and the network's temp dirs. Idempotent. */
  destroy(): Promise<void>;
}

/** Why netns-based tests cannot run here, or undefined when they can. */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the suite as root)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe' });
  } catch {
    return '`ip netns` (iproute2) is not available';
  }
  return undefined;
}

export function runCommand(
  argv: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      argv[0]!,
      argv.slice(1),
      { timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr) || (err && !stderr ? err.message : ''),
        });
      },
    );
  });
}

function ipOk(args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function ipQuiet(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'pipe' });
  } catch {
    // already gone
  }
}

function listNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

function listLinks(): string[] {
  const out = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  // "7: vpav1a2b3c-0@if6: <...>" -> "vpav1a2b3c-0"
  return out
    .split('\n')
    .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
    .filter(Boolean);
}

function statePath(id: string): string {
  return join(NETNS_STATE_DIR, `${STATE_PREFIX}${id}.json`);
}

function ownerAlive(id: string): boolean {
  try {
    const state = JSON.parse(readFileSync(statePath(id), 'utf8')) as { pid: number };
    return isAlive(state.pid);
  } catch {
    return false;
  }
}

/** Deletes every namespace/bridge/veth with our prefixes whose owning process is gone. */
export function cleanStaleNetworks(): string[] {
  const removed: string[] = [];
  const owners = new Map<string, boolean>();
  const stale = (id: string) => {
    if (!owners.has(id)) owners.set(id, !ownerAlive(id));
    return owners.get(id)!;
  };
  for (const ns of listNamespaces()) {
    const id = NS_RE.exec(ns)?.[1];
    if (id && stale(id)) {
      ipQuiet(['netns', 'del', ns]);
      removed.push(ns);
    }
  }
  for (const link of listLinks()) {
    const id = BRIDGE_RE.exec(link)?.[1] ?? VETH_RE.exec(link)?.[1];
    if (id && stale(id)) {
      ipQuiet(['link', 'del', link]);
      removed.push(link);
    }
  }
  if (existsSync(NETNS_STATE_DIR)) {
    for (const f of readdirSync(NETNS_STATE_DIR)) {
      const id = f.startsWith(STATE_PREFIX) ? f.slice(STATE_PREFIX.length, -'.json'.length) : undefined;
      if (id && stale(id)) rmSync(join(NETNS_STATE_DIR, f), { force: true });
    }
  }
  for (const f of readdirSync(tmpdir())) {
    const id = TMP_RE.exec(f)?.[1];
    if (id && stale(id)) {
      rmSync(join(tmpdir(), f), { recursive: true, force: true });
      removed.push(join(tmpdir(), f));
    }
  }
  return removed;
}

function pickSubnetOctet(): number {
  const used = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  const routes = execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' });
  for (let i = 0; i < 64; i++) {
    const x = randomBytes(1)[0]!;
    const prefix = `10.213.${x}.`;
    if (!used.includes(prefix) && !routes.includes(prefix)) return x;
  }
  throw new Error('no free 10.213.x.0/24 found for a test network');
}

function teardownScript(
  id: string,
  bridge: string,
  namespaces: string[],
  veths: string[],
  state: string,
): string {
  // Give processes still inside the namespaces (their guards got EOF at the same moment) up to 5 s to
  // exit before their temp dirs are removed under them.
  const pids = namespaces.map((ns) => `ip netns pids ${ns} 2>/dev/null`).join('; ');
  const cmds = [
    `i=0; while [ $i -lt 50 ] && [ -n "$(${pids})" ]; do sleep 0.1; i=$((i+1)); done`,
    ...namespaces.map((ns) => `ip netns del ${ns}`),
    ...veths.map((v) => `ip link del ${v}`),
    `ip link del ${bridge}`,
    `rm -f ${state}`,
    `rm -rf ${join(tmpdir(), `vpa-net-${id}-`)}*`,
  ];
  return cmds.map((c) => `${c} 2>/dev/null`).join('; ');
}

export async function createTestNetwork(n: number): Promise<TestNetwork> {
  if (n < 1 || n > 50) throw new Error(`createTestNetwork: n must be 1..50, got ${n}`);
  mkdirSync(NETNS_STATE_DIR, { recursive: true });
  cleanStaleNetworks();

  let id = '';
  for (let i = 0; i < 10 && !id; i++) {
    const candidate = randomBytes(3).toString('hex');
    if (!existsSync(statePath(candidate))) id = candidate;
  }
  if (!id) throw new Error('createTestNetwork: could not pick an unused network id');
  const octet = pickSubnetOctet();
  const bridge = `vpab${id}`;
  const namespaces = Array.from({ length: n }, (_, i) => `vpa-${id}-${i}`);
  const veths = Array.from({ length: n }, (_, i) => `vpav${id}-${i}`);
  const ips = Array.from({ length: n }, (_, i) => `10.213.${octet}.${i + 1}`);
  const hostIp = `10.213.${octet}.254`;
  const state = statePath(id);
  // Owner first, so a concurrent cleanStaleNetworks() never takes our half-built network for a leftover.
  writeFileSync(state, JSON.stringify({ pid: process.pid, bridge, namespaces, veths, ips, hostIp }));

  // Cleanup guard: when our stdin pipe closes (we exit, however), delete everything.
  const script = teardownScript(id, bridge, namespaces, veths, state);
  const guard: ChildProcess = spawn('sh', ['-c', `trap "" TERM INT; cat >/dev/null; ${script}`], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true, // own process group: a Ctrl-C to the test run must not kill it before it cleans up
  });
  const guardExited = new Promise<void>((r) => guard.on('exit', () => r()));
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void }).unref?.();

  const tempDirs: string[] = [];
  let destroyed = false;
  const destroySync = () => {
    if (destroyed) return;
    destroyed = true;
    for (const ns of namespaces) ipQuiet(['netns', 'del', ns]);
    for (const v of veths) ipQuiet(['link', 'del', v]);
    ipQuiet(['link', 'del', bridge]);
    rmSync(state, { force: true });
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    guard.stdin?.end();
  };
  process.once('exit', destroySync);

  try {
    ipOk(['link', 'add', bridge, 'type', 'bridge']);
    ipOk(['addr', 'add', `${hostIp}/24`, 'dev', bridge]);
    ipOk(['link', 'set', bridge, 'up']);
    for (let i = 0; i < n; i++) {
      ipOk(['netns', 'add', namespaces[i]!]);
      ipOk(['link', 'add', veths[i]!, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespaces[i]!]);
      ipOk(['link', 'set', veths[i]!, 'master', bridge]);
      ipOk(['link', 'set', veths[i]!, 'up']);
      ipOk(['-n', namespaces[i]!, 'addr', 'add', `${ips[i]}/24`, 'dev', 'eth0']);
      ipOk(['-n', namespaces[i]!, 'link', 'set', 'eth0', 'up']);
      ipOk(['-n', namespaces[i]!, 'link', 'set', 'lo', 'up']);
    }
  } catch (err) {
    destroySync();
    process.removeListener('exit', destroySync);
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`createTestNetwork failed: ${e.stderr?.toString().trim() || e.message}`);
  }

  return {
    id,
    bridge,
    namespaces,
    ips,
    hostIp,
    subnet: `10.213.${octet}.0/24`,
    exec: (nsIndex, argv, opts) => {
      const ns = namespaces[nsIndex];
      if (!ns) throw new Error(`no namespace ${nsIndex} in network ${id}`);
      return runCommand(['ip', 'netns', 'exec', ns, ...argv], opts);
    },
    makeTempDir: (label) => {
      const dir = mkdtempSync(join(tmpdir(), `vpa-net-${id}-${label}-`));
      tempDirs.push(dir);
      return dir;
    },
    destroy: async () => {
      destroySync();
      process.removeListener('exit', destroySync);
      await guardExited;
    },
  };
}
