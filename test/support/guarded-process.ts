/**
 * Starts a long-running server so that it can never outlive the test process that started it:
 * the server runs under a tiny `sh` guard whose stdin is a pipe from us. When our process ends for
 * any reason (a normal stop, a crash, SIGKILL, a vitest timeout), the pipe closes, the guard's `cat`
 * returns, and the guard kills the server and waits for it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

const GUARD =
  'trap "" TERM INT; "$0" "$@" & pid=$!; echo "$pid" >&3; cat >/dev/null; kill $pid 2>/dev/null; wait $pid';

/** Environment variable naming the test run (set by global-setup, inherited by the test workers). */
export const RUN_ID_VAR = 'VPA_TEST_RUN_ID';
/** Marks every guarded server with the run that started it; global-setup checks none survives. */
export const SERVER_MARK_VAR = 'VPA_TEST_SERVER_OF';

export interface GuardedProcess {
  /** PID of the server itself (not of the guard). */
  readonly pid: number;
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

export async function spawnGuarded(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string },
): Promise<GuardedProcess> {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = openSync(options.logFile, 'a');
  const child: ChildProcess = spawn('sh', ['-c', GUARD, command, ...args], {
    stdio: ['pipe', log, log, 'pipe'],
    env: { ...(options.env ?? process.env), [SERVER_MARK_VAR]: process.env[RUN_ID_VAR] ?? 'standalone' },
    cwd: options.cwd,
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const pid = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) resolve(Number(buf.trim()));
    });
    child.on('error', reject);
    child.on('exit', () => reject(new Error(`${command} guard exited before starting`)));
  });
  // Never keep the event loop alive for the guard itself.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (child.stdio[3] as unknown as { unref?: () => void }).unref?.();
  return {
    pid,
    exited,
    stop: async () => {
      child.stdin?.end();
      await exited;
    },
  };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
