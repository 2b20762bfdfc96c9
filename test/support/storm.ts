/**
 * Fleet boot storm: N independent agent processes (each its own token, config, state and output
 * directory) bootstrap a four-certificate node at the same moment against one OpenBao, optionally
 * behind a rate-limit quota. Every agent talks to OpenBao through its own listener of a recording proxy
 * (wire-recorder.ts), so requests, 429s and Retry-After are counted on the wire, beside OpenBao's audit
 * log and each agent's own `vault_requests=` / `retries=`.
 *
 * The harness for `bench/storm.ts` (full size, in `npm run bench`) and test/load/storm.test.ts (CI-sized).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AGENT_BIN } from './agent.js';
import { nodeConfig, type TestCert } from './node-config.js';
import { REPO_ROOT, type TestVault } from './openbao.js';
import { createToken, provisionTestPki, writePolicy } from './vault-pki.js';
import {
  checkRetryAfter,
  type RetryAfterCheck,
  startWireRecorder,
  type WireRecord,
} from './wire-recorder.js';

const CHILD = join(REPO_ROOT, 'test', 'support', 'storm-child.mjs');
export const FOUR_CERTS: TestCert[] = [
  { name: 'etcd-server', preset: 'etcd-server' },
  { name: 'etcd-peer', preset: 'etcd-peer' },
  { name: 'apiserver', preset: 'apiserver' },
  { name: 'kubelet-client', preset: 'kubelet-client' },
];
const CERT_FILES = ['cert.pem', 'key.pem', 'ca.pem'];
export const STORM_POLICY = 'storm-node';

/** PKI mounts (cluster c1, as node-config.ts writes) and the policy every storm token gets. */
export async function prepareStormVault(vault: TestVault): Promise<void> {
  const pki = await provisionTestPki(vault, 'c1');
  await writePolicy(vault, STORM_POLICY, [
    `${pki.etcdMount}/member`,
    `${pki.k8sMount}/apiserver`,
    `${pki.k8sMount}/kubelet-client`,
  ]);
}

export interface RetryLog {
  path: string;
  attempt: number;
  delayMs: number;
  error: string;
}

export interface AgentOutcome {
  index: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the release to the process's exit. */
  ms: number;
  /** All twelve files (cert, key, CA of four sets) present. */
  filesOk: boolean;
  /** From the agent's `bootstrap finished` line. */
  vaultRequests?: number;
  retries?: number;
  retryLogs: RetryLog[];
  /** The agent stopped retrying ("gave up after N attempts: deadline reached"). */
  gaveUp: boolean;
  /** Last error line, for the report when it failed. */
  lastError?: string;
  /** The whole process (Node start-up excluded: it ran before the release), from storm-child.mjs. */
  cpuMs?: number;
  maxRssKb?: number;
}

export interface StormReport {
  agents: number;
  quota?: { rate: number; interval: string };
  succeeded: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Release of the first to release of the last agent. */
  releaseSpreadMs: number;
  /** Requests OpenBao's audit device recorded (requests refused by the quota are not audited). */
  auditedRequests: number;
  /** HTTP requests the agents sent, counted by the proxy, and how many got 429. */
  wireRequests: number;
  wire429: number;
  /** Sums of the agents' own `vault_requests=` and `retries=`. */
  agentRequests: number;
  agentRetries: number;
  gaveUp: number;
  /** Agents that gave up while their --timeout had not run out yet. */
  gaveUpBeforeDeadline: number;
  retryAfter: RetryAfterCheck;
  /** Largest Retry-After OpenBao sent, seconds. */
  maxRetryAfterS: number;
  timeoutMs: number;
  /** CPU seconds of all agents together, and of OpenBao, during the storm. */
  agentsCpuS: number;
  vaultCpuS: number;
  /** Median and largest peak RSS of one agent process. */
  medianRssMb: number;
  maxRssMb: number;
  /** Retries counted by cause (the agents' log lines, paths elided). */
  retryCauses: Record<string, number>;
  outcomes: AgentOutcome[];
  wire: WireRecord[];
}

export interface StormOptions {
  vault: TestVault;
  agents: number;
  /** Scratch directory (created, removed afterwards unless keep). */
  work: string;
  quota?: { rate: number; interval: string };
  /** Agent --timeout, a duration (default 5m, the agent's default). */
  timeout?: string;
  keep?: boolean;
  progress?: (line: string) => void;
}

export const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number);

export function parseDurationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`bad duration ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** The agent's JSON log lines (values are strings). */
function logLines(stderr: string): Record<string, string>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, string>];
      } catch {
        return [];
      }
    });
}

export function parseAgentLog(
  stderr: string,
): Pick<
  AgentOutcome,
  'vaultRequests' | 'retries' | 'retryLogs' | 'gaveUp' | 'lastError' | 'cpuMs' | 'maxRssKb'
> {
  const lines = logLines(stderr);
  const finished = lines.find((l) => l.msg === 'bootstrap finished');
  const errors = lines.filter((l) => l.level === 'error');
  const usage = lines.find((l) => l.msg === 'storm-child usage') as
    | { user_us: number; sys_us: number; max_rss_kb: number }
    | undefined;
  return {
    cpuMs: usage ? (usage.user_us + usage.sys_us) / 1000 : undefined,
    maxRssKb: usage?.max_rss_kb,
    vaultRequests: finished ? Number(finished.vault_requests) : undefined,
    retries: finished ? Number(finished.retries) : undefined,
    retryLogs: lines
      .filter((l) => l.msg === 'vault request failed, retrying')
      .map((l) => ({
        path: String(l.path),
        attempt: Number(l.attempt),
        delayMs: Number(l.delay_ms),
        error: String(l.error),
      })),
    gaveUp: /gave up after \d+ attempts?/.test(stderr),
    lastError: errors.at(-1)?.msg,
  };
}

/** utime + stime of a process, seconds (Linux /proc, USER_HZ = 100). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function setQuota(vault: TestVault, quota: { rate: number; interval: string }): Promise<void> {
  await vault.api('POST', 'sys/quotas/config', { enable_rate_limit_response_headers: true });
  await vault.api('POST', 'sys/quotas/rate-limit/storm', { path: '', ...quota });
}

/** The quota also limits the root token: wait out 429s while removing it. */
async function removeQuota(vault: TestVault): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const res = await vault.api('DELETE', 'sys/quotas/rate-limit/storm', undefined, { allowError: true });
    if (res.status < 300) return;
    if (res.status !== 429) throw new Error(`cannot remove the storm quota: HTTP ${res.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('cannot remove the storm quota: still rate limited');
}

export interface Child {
  index: number;
  pid: number;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number; stderr: string }>;
  kill(signal: NodeJS.Signals): void;
}

export function spawnHeld(index: number, args: string[]): Child {
  const child = spawn(process.execPath, [CHILD, AGENT_BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => {};
  let fail: (e: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    fail = reject;
  });
  child.stdout.on('data', (d) => {
    stdout += d;
    if (stdout.startsWith('ready\n')) markReady();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    at: number;
    stderr: string;
  }>((resolve) => {
    child.on('exit', (code, signal) => {
      const at = performance.now();
      fail(new Error(`storm agent ${index} exited before it was released: ${stderr.slice(-300)}`));
      // 'close' follows once the pipes are drained: the log is complete then.
      child.on('close', () => resolve({ code, signal, at, stderr }));
    });
  });
  return { index, pid: child.pid ?? -1, ready, exited, kill: (s) => child.kill(s) };
}

export async function runStorm(opts: StormOptions): Promise<StormReport> {
  const { vault, agents } = opts;
  const progress = opts.progress ?? (() => {});
  const timeout = opts.timeout ?? '5m';
  const timeoutMs = parseDurationMs(timeout);
  mkdirSync(opts.work, { recursive: true });
  const wire = await startWireRecorder(vault.address, agents);
  const children: Child[] = [];
  try {
    progress(`storm: minting ${agents} tokens and configs`);
    const dirs: string[] = [];
    for (let i = 0; i < agents; i++) {
      const dir = join(opts.work, `agent-${i}`);
      mkdirSync(dir, { recursive: true });
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, await createToken(vault, { policies: [STORM_POLICY], period: '24h' }), {
        mode: 0o600,
      });
      // Each agent its own node name and address, as a fleet would have.
      const config = nodeConfig({
        address: wire.addresses[i] as string,
        tokenFile,
        work: dir,
        certs: FOUR_CERTS,
      })
        .replace('  name: node-1', `  name: node-${i}`)
        .replace('  ip: 10.0.0.10', `  ip: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      writeFileSync(join(dir, 'config.yaml'), config);
      dirs.push(dir);
    }
    progress(`storm: starting ${agents} held agent processes`);
    for (let i = 0; i < agents; i++) {
      children.push(
        spawnHeld(i, [
          'bootstrap',
          '--config',
          join(dirs[i] as string, 'config.yaml'),
          '--log-format',
          'json',
          '--timeout',
          timeout,
        ]),
      );
    }
    await Promise.all(children.map((c) => c.ready));
    if (opts.quota) await setQuota(vault, opts.quota);
    vault.markAudit();
    progress(
      `storm: releasing ${agents} agents${opts.quota ? ` (quota ${opts.quota.rate}/${opts.quota.interval})` : ''}`,
    );
    const t0 = performance.now();
    for (const c of children) process.kill(c.pid, 'SIGUSR2');
    const releaseSpreadMs = performance.now() - t0;
    const vaultCpu0 = cpuSecondsOf(vault.pid());
    const guard = setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
    }, timeoutMs + 60_000);
    const exits = await Promise.all(children.map((c) => c.exited));
    clearTimeout(guard);
    const vaultCpuS = cpuSecondsOf(vault.pid()) - vaultCpu0;
    const auditedRequests = vault.auditedPaths().length;
    if (opts.quota) await removeQuota(vault);

    const outcomes: AgentOutcome[] = exits.map((e, i) => {
      const dir = join(dirs[i] as string, 'pki');
      const filesOk = FOUR_CERTS.every((c) => CERT_FILES.every((f) => existsSync(join(dir, c.name, f))));
      return { index: i, code: e.code, signal: e.signal, ms: e.at - t0, filesOk, ...parseAgentLog(e.stderr) };
    });
    const ok = outcomes.filter((o) => o.code === 0 && o.filesOk);
    const times = ok.map((o) => o.ms).sort((a, b) => a - b);
    const records = [...wire.records];
    const rss = outcomes.map((o) => (o.maxRssKb ?? 0) / 1024).sort((a, b) => a - b);
    const retryCauses: Record<string, number> = {};
    for (const l of outcomes.flatMap((o) => o.retryLogs)) {
      const cause = l.error.replace(/\S*\/\S*/g, '…').slice(0, 80);
      retryCauses[cause] = (retryCauses[cause] ?? 0) + 1;
    }
    return {
      agentsCpuS: outcomes.reduce((sum, o) => sum + (o.cpuMs ?? 0), 0) / 1000,
      vaultCpuS,
      medianRssMb: percentile(rss, 50),
      maxRssMb: rss.at(-1) ?? Number.NaN,
      retryCauses,
      agents,
      quota: opts.quota,
      succeeded: ok.length,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      maxMs: times.at(-1) ?? Number.NaN,
      releaseSpreadMs,
      auditedRequests,
      wireRequests: records.length,
      wire429: records.filter((r) => r.status === 429).length,
      agentRequests: outcomes.reduce((s, o) => s + (o.vaultRequests ?? 0), 0),
      agentRetries: outcomes.reduce((s, o) => s + (o.retries ?? 0), 0),
      gaveUp: outcomes.filter((o) => o.gaveUp).length,
      gaveUpBeforeDeadline: outcomes.filter((o) => o.gaveUp && o.ms < timeoutMs).length,
      retryAfter: checkRetryAfter(records),
      maxRetryAfterS: Math.max(0, ...records.map((r) => r.retryAfterS ?? 0)),
      timeoutMs,
      outcomes,
      wire: records,
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await wire.close();
    if (!opts.keep) rmSync(opts.work, { recursive: true, force: true });
  }
}
