/**
 * A throwaway Debian "instance" with real systemd as PID 1: an overlayfs copy of the cached root that
 * `scripts/install-test-tools` builds with debootstrap (outside the clone), booted by
 * `systemd-nspawn --boot --register=no --keep-unit --console=passive` (the host's PID 1 is not systemd,
 * see shared/reference/kubernetes-and-systemd-in-tests.md). No private network: the container shares the
 * host's network, so the suite's OpenBao on 127.0.0.1 is reachable from inside. Commands run inside with
 * `nsenter -t <container's systemd> -a` (machinectl does not work here).
 *
 * Guarded like guarded-process.ts: a small `sh` mounts the overlay, starts nspawn and reads a pipe from the
 * test process; when the test process ends for any reason (SIGKILL included) the pipe closes and the guard
 * stops the container (SIGTERM = orderly poweroff, SIGKILL after 30 s), unmounts the overlay and removes it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_ID_VAR, SERVER_MARK_VAR } from './guarded-process.js';
import { REPO_ROOT, RUN_DIR } from './openbao.js';

/** Where install-test-tools builds the root: the same recipe line, the same hash. */
export function nspawnRootPath(): string {
  const script = readFileSync(join(REPO_ROOT, 'scripts', 'install-test-tools'), 'utf8');
  const vars = Object.fromEntries(
    [...script.matchAll(/^(NSPAWN_[A-Z]+)=(?:"([^"]*)"|(\S+))$/gm)].map((m) => [m[1], m[2] ?? m[3] ?? '']),
  );
  const recipe = vars.NSPAWN_RECIPE;
  if (!recipe) throw new Error('install-test-tools has no NSPAWN_RECIPE line');
  const text = recipe.replace(/\$(NSPAWN_[A-Z]+)/g, (_all: string, name: string) => vars[name] ?? '');
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return join(process.env.VPA_NSPAWN_CACHE ?? '/var/cache/vault-pki-agent-tests', `nspawn-root-${hash}`);
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Why containers cannot run here, or undefined when they can. */
export function nspawnUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  for (const cmd of ['systemd-nspawn', 'nsenter', 'mount', 'umount'])
    if (!has(cmd)) return `${cmd} missing (run scripts/install-test-tools as root)`;
  const root = nspawnRootPath();
  if (!existsSync(join(root, '.vpa-root-complete')))
    return `no nspawn root at ${root} (run scripts/install-test-tools as root)`;
  return undefined;
}

// $1 lower dir, $2 scratch dir, $3 log file, then the nspawn command (without -D). Reads commands from the
// test process: "boot" starts the container (its nspawn pid goes to fd 3), "halt" stops it (keeping the
// overlay, so the next "boot" is a reboot), end of input stops it and removes the overlay's upper and work
// dirs with the scratch dir.
const GUARD = `
lower=$1 base=$2 log=$3; shift 3
mkdir -p "$base/upper" "$base/work" "$base/merged"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$base/upper,workdir=$base/work" "$base/merged" || exit 1
echo "$base/merged" >&3
pid=
halt() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid"
  pid=
}
while read -r cmd; do
  case "$cmd" in
    boot) "$@" -D "$base/merged" >>"$log" 2>&1 </dev/null & pid=$!; echo "$pid" >&3 ;;
    halt) halt; echo halted >&3 ;;
  esac
done
halt
umount "$base/merged" 2>/dev/null || umount -l "$base/merged"
rm -rf "$base"
`;

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Container {
  /** The container's file system as the host sees it (the merged overlay). */
  readonly root: string;
  /** Host PID of the container's systemd (its PID 1). */
  pid(): number;
  /** Runs argv inside the container (all its namespaces, a clean environment). */
  exec(
    argv: string[],
    opts?: { input?: string; timeoutMs?: number; env?: Record<string, string> },
  ): ExecResult;
  /** exec without blocking the event loop (an in-process server, e.g. the fault proxy, keeps serving). */
  execAsync(argv: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** exec that throws unless the exit code is 0; returns stdout. */
  sh(script: string, opts?: { timeoutMs?: number }): string;
  systemctl(...args: string[]): ExecResult;
  /** `systemctl show -p NAME --value UNIT` */
  show(unit: string, property: string): string;
  /** Boots systemd (once the files are in place); resolves when the system is running (or degraded). */
  boot(): Promise<void>;
  /** Orderly poweroff; the file system stays, so boot() again is a reboot. */
  halt(): Promise<void>;
  /** Stops the container and removes the overlay. */
  stop(): Promise<void>;
}

export interface ContainerOptions {
  name: string;
  /** Read-only bind mounts host:container (e.g. the host's node binary). */
  bindRo?: [string, string][];
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Mounts a fresh overlay of the cached root (files can then be put into `root` from the host) and returns
 * the container, not yet booted: call boot().
 */
export async function createContainer(opts: ContainerOptions): Promise<Container> {
  mkdirSync(RUN_DIR, { recursive: true });
  const scratch = mkdtempSync(join('/var/tmp', `vpa-nspawn-${opts.name}-`));
  const logFile = join(RUN_DIR, `nspawn-${opts.name}-${process.pid}.log`);
  const machine = `vpa-${opts.name}-${process.pid}`.slice(0, 60);
  const nspawn = [
    'systemd-nspawn',
    '--boot',
    '--register=no',
    '--keep-unit',
    '--console=passive',
    `--machine=${machine}`,
    ...(opts.bindRo ?? []).map(([h, c]) => `--bind-ro=${h}:${c}`),
  ];
  const log = openSync(logFile, 'a');
  const child: ChildProcess = spawn(
    'sh',
    ['-c', GUARD, 'vpa-nspawn-guard', nspawnRootPath(), scratch, logFile, ...nspawn],
    {
      stdio: ['pipe', log, log, 'pipe'],
      env: { PATH, [SERVER_MARK_VAR]: process.env[RUN_ID_VAR] ?? 'standalone' },
    },
  );
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
    for (const w of waiters.splice(0)) w();
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const w of waiters.splice(0)) w();
  });
  const line = async (n: number, what: string): Promise<string> => {
    while (lines.length <= n) {
      if (gone) throw new Error(`nspawn guard exited before ${what} (log: ${logFile})`);
      await new Promise<void>((r) => waiters.push(r));
    }
    return lines[n] as string;
  };
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdio[3] as unknown as { unref?: () => void }).unref?.();

  const root = await line(0, 'mounting the overlay');
  let systemdPid = 0;
  let nextLine = 1;

  const nsenterArgs = (argv: string[], env: Record<string, string> = {}) => {
    if (!systemdPid) throw new Error('container not booted');
    const envArgs = Object.entries({ PATH, LANG: 'C.UTF-8', SYSTEMD_PAGER: '', ...env }).map(
      ([k, v]) => `${k}=${v}`,
    );
    return ['-t', String(systemdPid), '-a', 'env', '-i', ...envArgs, ...argv];
  };
  const exec: Container['exec'] = (argv, o = {}) => {
    const r = spawnSync('nsenter', nsenterArgs(argv, o.env), {
      encoding: 'utf8',
      input: o.input,
      timeout: o.timeoutMs ?? 120_000,
      env: { PATH },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };

  const execAsync: Container['execAsync'] = (argv, o = {}) =>
    new Promise((resolve, reject) => {
      const p = spawn('nsenter', nsenterArgs(argv), { env: { PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => {
        stdout += d;
      });
      p.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 180_000);
      p.on('error', reject);
      p.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  const container: Container = {
    root,
    pid: () => systemdPid,
    exec,
    execAsync,
    sh: (script, o = {}) => {
      const r = exec(['sh', '-euc', script], o);
      if (r.code !== 0) throw new Error(`in container: ${script}\nexit ${r.code}\n${r.stdout}${r.stderr}`);
      return r.stdout;
    },
    systemctl: (...args) => exec(['systemctl', '--no-pager', ...args]),
    show: (unit, property) => exec(['systemctl', 'show', '-p', property, '--value', unit]).stdout.trim(),
    boot: async () => {
      child.stdin?.write('boot\n');
      const nspawnPid = Number(await line(nextLine++, 'starting systemd-nspawn'));
      systemdPid = 0;
      // nspawn's child in the new PID namespace is the container's systemd.
      const deadline = Date.now() + 180_000;
      while (!systemdPid) {
        if (gone || Date.now() > deadline)
          throw new Error(`systemd-nspawn did not start systemd (log: ${logFile})`);
        try {
          const kids = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8')
            .trim()
            .split(/\s+/);
          for (const kid of kids.filter(Boolean)) {
            if (readFileSync(`/proc/${kid}/comm`, 'utf8').trim() === 'systemd') systemdPid = Number(kid);
          }
        } catch {
          // not there yet
        }
        if (!systemdPid) await new Promise((r) => setTimeout(r, 50));
      }
      // `is-system-running --wait` needs the container's bus: retry until it answers.
      while (Date.now() < deadline) {
        // Not exec(): a unit starting now may need a server in this very process (the event loop must run).
        const r = await execAsync(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 120_000 });
        const state = r.stdout.trim();
        if (state === 'running' || state === 'degraded') return;
        if (gone) break;
        await new Promise((r2) => setTimeout(r2, 200));
      }
      throw new Error(`container did not reach "running" (log: ${logFile})`);
    },
    halt: async () => {
      child.stdin?.write('halt\n');
      await line(nextLine++, 'halting');
      systemdPid = 0;
    },
    stop: async () => {
      child.stdin?.end();
      await exited;
    },
  };
  return container;
}
