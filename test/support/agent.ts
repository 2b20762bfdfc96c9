/** Runs the built agent (dist/vault-pki-agent.cjs) as a separate process, the way systemd or cloud-init would. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './openbao.js';
import { recordAgentOutput } from './secret-scan.js';

/** Every agent's output goes to the run's secret scan (secret-scan.ts). */
function record(args: readonly string[], run: AgentRun): AgentRun {
  recordAgentOutput(args, 'stdout', run.stdout);
  recordAgentOutput(args, 'stderr', run.stderr);
  return run;
}

export const AGENT_BIN = join(REPO_ROOT, 'dist', 'vault-pki-agent.cjs');

export interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningAgent {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<AgentRun>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<AgentRun>;
}

export interface AgentOptions {
  /** Added to PATH and HOME: the agent's whole environment, like a unit's. */
  env?: Record<string, string | undefined>;
  /** Prefixes the command (e.g. setpriv with fewer capabilities). */
  wrap?: string[];
  /** Called once the process is spawned (to signal it at a chosen moment). */
  onSpawn?: (pid: number) => void;
}

/** Starts the agent in the background (for `run`). */
export function startAgent(args: string[], opts: AgentOptions = {}): RunningAgent {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...opts.env,
  };
  const argv = [...(opts.wrap ?? []), process.execPath, AGENT_BIN, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), { env: env as NodeJS.ProcessEnv });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<AgentRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(record(args, { code, signal, stdout, stderr })));
  });
  if (child.pid !== undefined) opts.onSpawn?.(child.pid);
  return {
    pid: child.pid ?? -1,
    stdout: () => stdout,
    stderr: () => stderr,
    kill: (signal) => child.kill(signal),
    stop: async (signal = 'SIGTERM') => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.kill(signal);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    exited,
  };
}

/** Runs the agent to completion (killed after `timeoutMs`, default 60 s). */
export interface RunAgentOptions extends AgentOptions {
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
}

export async function runAgent(args: string[], opts: RunAgentOptions = {}): Promise<AgentRun> {
  const agent = startAgent(args, opts);
  const timer = setTimeout(() => agent.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  try {
    return await agent.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until `predicate` holds or the time runs out. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
