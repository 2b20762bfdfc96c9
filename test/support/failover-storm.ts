/**
 * Boot storm with the leader killed: N agents (each its own token, config and output directory) bootstrap
 * a four-certificate node at the same moment against a real three-node OpenBao cluster (Raft, TLS;
 * test/support/openbao-ha.ts). Every agent lists the three addresses with the active node first (the worst
 * case: everyone starts on the node that dies). `killAfterMs` after the release the active node is SIGKILLed.
 * Measured: success, time to certificates, who gave up before its deadline, retries by cause, which address
 * served, and the failover time: active killed -> first successful sign on the cluster, by a probe that
 * tries the surviving nodes every 50 ms.
 *
 * The harness for `bench/failover-storm.ts` (full size, in `npm run bench`) and
 * test/load/failover-storm.test.ts (CI-sized).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeConfig } from './node-config.js';
import type { HaTestVault } from './openbao-ha.js';
import {
  type AgentOutcome,
  FOUR_CERTS,
  parseAgentLog,
  parseDurationMs,
  percentile,
  spawnHeld,
} from './storm.js';
import { createToken, provisionTestPki, writePolicy } from './vault-pki.js';

const POLICY = 'failover-node';

export interface FailoverStormOptions {
  agents: number;
  /** Kill the active node this long after the release. */
  killAfterMs: number;
  /** Agent --timeout (default 5m). */
  timeout?: string;
  progress?: (line: string) => void;
}

export interface FailoverStormReport {
  agents: number;
  succeeded: number;
  p50Ms: number;
  maxMs: number;
  timeoutMs: number;
  gaveUpBeforeDeadline: number;
  killedNode: string;
  /** From the release. */
  killedAtMs: number;
  /** Active killed -> first successful sign by the probe, ms. */
  failoverMs: number;
  /** Agents that had finished before the kill (the rest met it mid-bootstrap). */
  finishedBeforeKill: number;
  retriesByCause: Record<string, number>;
  /** One full message per retry cause. */
  retrySamples: string[];
  /** "vault address failed, trying the next" lines, summed over the agents. */
  failoverLogs: number;
  outcomes: (AgentOutcome & { stderr: string })[];
}

export async function prepareFailoverVault(ha: HaTestVault): Promise<void> {
  const pki = await provisionTestPki(ha, 'c1');
  await writePolicy(ha, POLICY, [
    `${pki.etcdMount}/member`,
    `${pki.k8sMount}/apiserver`,
    `${pki.k8sMount}/kubelet-client`,
  ]);
  // A role the probe signs with: any name, the mount of the storm.
  await ha.api('POST', `${pki.etcdMount}/roles/probe`, { allow_any_name: true, key_type: 'ec', ttl: '1h' });
}

/** Time until a sign succeeds on any node that is still running, trying them in turn every 50 ms. */
async function probeFailover(ha: HaTestVault, from: number, deadline: number): Promise<number> {
  for (let i = 0; performance.now() < deadline; i++) {
    const running = ha.nodes.filter((n) => n.running());
    const node = running[i % running.length]!;
    const r = await ha
      .api('POST', 'etcd/c1/pki/issue/probe', { common_name: 'probe', ttl: '1m' }, { node, allowError: true })
      .catch(() => undefined);
    if (r && r.status === 200) return performance.now() - from;
    await new Promise((res) => setTimeout(res, 50));
  }
  return Number.NaN;
}

export async function runFailoverStorm(
  ha: HaTestVault,
  opts: FailoverStormOptions,
): Promise<FailoverStormReport> {
  const progress = opts.progress ?? (() => {});
  const timeout = opts.timeout ?? '5m';
  const timeoutMs = parseDurationMs(timeout);
  const work = join(tmpdir(), `vpa-failover-${process.pid}-${Date.now()}`);
  mkdirSync(work, { recursive: true });
  const active = await ha.active();
  const addresses = [active, ...ha.nodes.filter((n) => n !== active)].map((n) => n.address);
  const children: ReturnType<typeof spawnHeld>[] = [];
  try {
    progress(`failover storm: ${opts.agents} tokens and configs`);
    const dirs: string[] = [];
    for (let i = 0; i < opts.agents; i++) {
      const dir = join(work, `agent-${i}`);
      mkdirSync(dir, { recursive: true });
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, await createToken(ha, { policies: [POLICY], period: '24h' }), { mode: 0o600 });
      const config = nodeConfig({ address: addresses[0]!, tokenFile, work: dir, certs: FOUR_CERTS })
        .replace(`  address: ${addresses[0]}`, `  address: [${addresses.join(', ')}]\n  caCert: ${ha.caFile}`)
        .replace('  name: node-1', `  name: node-${i}`)
        .replace('  ip: 10.0.0.10', `  ip: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      writeFileSync(join(dir, 'config.yaml'), config);
      dirs.push(dir);
    }
    for (let i = 0; i < opts.agents; i++) {
      const args = ['bootstrap', '--config', join(dirs[i]!, 'config.yaml'), '--log-format', 'json'];
      children.push(spawnHeld(i, [...args, '--timeout', timeout]));
    }
    await Promise.all(children.map((c) => c.ready));
    progress(
      `failover storm: releasing ${opts.agents} agents, killing ${active.id} after ${opts.killAfterMs} ms`,
    );
    const t0 = performance.now();
    for (const c of children) process.kill(c.pid, 'SIGUSR2');
    const exits = children.map((c) => c.exited);
    await new Promise((r) => setTimeout(r, opts.killAfterMs));
    const killedAt = performance.now();
    await ha.kill(active);
    const failoverMs = await probeFailover(ha, killedAt, killedAt + 120_000);
    const guard = setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
    }, timeoutMs + 60_000);
    const done = await Promise.all(exits);
    clearTimeout(guard);
    const outcomes = done.map((e, i) => {
      const dir = join(dirs[i]!, 'pki');
      const filesOk = FOUR_CERTS.every((c) =>
        ['cert.pem', 'key.pem', 'ca.pem'].every((f) => existsSync(join(dir, c.name, f))),
      );
      return {
        index: i,
        code: e.code,
        signal: e.signal,
        ms: e.at - t0,
        filesOk,
        stderr: e.stderr,
        ...parseAgentLog(e.stderr),
      };
    });
    const ok = outcomes.filter((o) => o.code === 0 && o.filesOk);
    const times = ok.map((o) => o.ms).sort((a, b) => a - b);
    const retriesByCause: Record<string, number> = {};
    const retrySamples: Record<string, string> = {};
    for (const l of outcomes.flatMap((o) => o.retryLogs)) {
      const cause = l.error
        .replace(/https:\/\/\S+/g, '…')
        .replace(/\S*\/\S*/g, '…')
        .slice(0, 80);
      retriesByCause[cause] = (retriesByCause[cause] ?? 0) + 1;
      retrySamples[cause] ??= l.error;
    }
    return {
      agents: opts.agents,
      succeeded: ok.length,
      p50Ms: percentile(times, 50),
      maxMs: times.at(-1) ?? Number.NaN,
      timeoutMs,
      gaveUpBeforeDeadline: outcomes.filter((o) => o.gaveUp && o.ms < timeoutMs).length,
      killedNode: active.id,
      killedAtMs: killedAt - t0,
      failoverMs,
      finishedBeforeKill: outcomes.filter((o) => o.ms < killedAt - t0).length,
      retriesByCause,
      retrySamples: Object.values(retrySamples),
      failoverLogs: outcomes.reduce((n, o) => n + (o.stderr.match(/trying the next/g)?.length ?? 0), 0),
      outcomes,
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
  }
}
