/**
 * A real etcd cluster for tests: one member per network namespace of a TestNetwork (netns.ts), so that
 * peer connections really come from each member's own IP and etcd's peer SAN check (reference D.2) runs
 * as in production. Every member is `ip netns exec <ns> etcd ...` under spawnGuarded: `ip netns exec`
 * execs etcd in place, so the guard's kill hits etcd itself and no member outlives the test process.
 *
 * Certificates come from directories, so the same harness runs with API-issued certs (etcd-test-certs.ts)
 * or with whatever the agent wrote:
 *  - a string: one dir with cert.pem, key.pem, ca.pem used for both client port and peer port;
 *  - `{ server, peer }`: two such dirs;
 *  - a `MemberTls` with explicit file paths (e.g. kubeadm's server.crt/peer.crt/ca.crt).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type GuardedProcess, spawnGuarded } from './guarded-process.js';
import { type ExecResult, netnsUnavailableReason, runCommand, type TestNetwork } from './netns.js';
import { REPO_ROOT, RUN_DIR } from './openbao.js';

export interface MemberTls {
  cert: string;
  key: string;
  ca: string;
  peerCert: string;
  peerKey: string;
  peerCa: string;
}
export type MemberCerts = string | { server: string; peer: string } | MemberTls;

export interface ClientTls {
  cert: string;
  key: string;
  ca: string;
}
/** A dir with cert.pem, key.pem, ca.pem, or explicit paths. */
export type ClientCerts = string | ClientTls;

export function clientTls(c: ClientCerts): ClientTls {
  if (typeof c !== 'string') return c;
  return { cert: join(c, 'cert.pem'), key: join(c, 'key.pem'), ca: join(c, 'ca.pem') };
}

export function memberTls(c: MemberCerts): MemberTls {
  if (typeof c === 'string') return memberTls({ server: c, peer: c });
  if ('server' in c) {
    const s = clientTls(c.server);
    const p = clientTls(c.peer);
    return { cert: s.cert, key: s.key, ca: s.ca, peerCert: p.cert, peerKey: p.key, peerCa: p.ca };
  }
  return c;
}

export function etcdBinary(tool: 'etcd' | 'etcdctl'): string {
  const fromEnv = process.env[tool === 'etcd' ? 'VPA_TEST_ETCD_BIN' : 'VPA_TEST_ETCDCTL_BIN'];
  if (fromEnv) return fromEnv;
  const local = join(REPO_ROOT, '.cache', 'tools', 'bin', tool);
  if (existsSync(local)) return local;
  return tool; // from PATH
}

/** Why the netns etcd tests cannot run here, or undefined when they can. */
export function etcdClusterUnavailableReason(): string | undefined {
  const net = netnsUnavailableReason();
  if (net) return net;
  for (const tool of ['etcd', 'etcdctl'] as const) {
    try {
      execFileSync(etcdBinary(tool), [tool === 'etcd' ? '--version' : 'version'], { stdio: 'pipe' });
    } catch {
      return `${tool} not found (run \`bash scripts/install-test-tools\` as root)`;
    }
  }
  return undefined;
}

export interface EtcdMember {
  readonly name: string;
  readonly nsIndex: number;
  readonly ip: string;
  readonly peerUrl: string;
  readonly clientUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly tls: MemberTls;
  /** PID of etcd itself (inside the namespace). */
  readonly pid: number;
  /** The guard's exit (it outlives etcd until stop(): use running() to see whether etcd still runs). */
  readonly exited: Promise<number | null>;
  /** True while etcd runs (a zombie waiting for its guard counts as ended). */
  running(): boolean;
  /** The member's log so far (etcd's zap JSON lines plus anything printed on stderr). */
  log(): string;
  /** Stops etcd (via its guard) and removes its data dir (a temp dir of the network). */
  stop(): Promise<void>;
}

export interface EtcdCluster {
  readonly network: TestNetwork;
  readonly members: EtcdMember[];
  /** Client URLs of the initial members, `https://<ip>:2379`. */
  readonly endpoints: string[];
  readonly initialCluster: string;
  /** Runs etcdctl (API v3) from the root namespace against `endpoints` (default: all members). */
  etcdctl(
    args: string[],
    client: ClientCerts,
    opts?: { endpoints?: string[]; timeoutMs?: number },
  ): Promise<ExecResult>;
  /** Polls `endpoint health --cluster` until it succeeds; returns its output. */
  waitHealthy(client: ClientCerts, timeoutMs?: number): Promise<string>;
  /**
   * Adds a member (`member add`, unless `register: false`) and starts it with `--initial-cluster-state
   * existing` in namespace `nsIndex`. Returns at once: the caller decides what to wait for (e.g. a
   * peer's "rejected connection" log line when its certificate is wrong).
   */
  startJoiningMember(opts: {
    nsIndex: number;
    name: string;
    certs: MemberCerts;
    client: ClientCerts;
    register?: boolean;
  }): Promise<EtcdMember>;
  /** `etcdctl member remove` by member name, then stops that member's process if this harness runs it. */
  removeMember(name: string, client: ClientCerts): Promise<void>;
  /** All members' logs concatenated, labelled by member name. */
  logs(): string;
  stop(): Promise<void>;
}

export interface StartEtcdClusterOptions {
  network: TestNetwork;
  /** One entry per member; member i runs in namespace `nsIndexes[i]` (default i). */
  certs: MemberCerts[];
  names?: string[];
  nsIndexes?: number[];
  token?: string;
  extraArgs?: string[];
}

const PEER_PORT = 2380;
const CLIENT_PORT = 2379;

function startMember(opts: {
  network: TestNetwork;
  nsIndex: number;
  name: string;
  tls: MemberTls;
  initialCluster: string;
  state: 'new' | 'existing';
  token: string;
  extraArgs?: string[];
}): Promise<EtcdMember> {
  const { network, nsIndex, name, tls } = opts;
  const ip = network.ips[nsIndex];
  const ns = network.namespaces[nsIndex];
  if (!ip || !ns) throw new Error(`network ${network.id} has no namespace ${nsIndex}`);
  const peerUrl = `https://${ip}:${PEER_PORT}`;
  const clientUrl = `https://${ip}:${CLIENT_PORT}`;
  const dataDir = network.makeTempDir(`etcd-${name}`);
  // etcd writes its zap log to the guard's log file too (both append). `ip netns exec` execs etcd with
  // the guard's environment, so global-setup's leftover check sees etcd by spawnGuarded's run mark.
  const logFile = join(RUN_DIR, `etcd-${network.id}-${name}-${randomBytes(3).toString('hex')}.log`);
  const args = [
    'netns',
    'exec',
    ns,
    etcdBinary('etcd'),
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--listen-client-urls=${clientUrl},https://127.0.0.1:${CLIENT_PORT}`,
    `--advertise-client-urls=${clientUrl}`,
    `--initial-cluster=${opts.initialCluster}`,
    `--initial-cluster-state=${opts.state}`,
    `--initial-cluster-token=${opts.token}`,
    '--client-cert-auth',
    `--trusted-ca-file=${tls.ca}`,
    `--cert-file=${tls.cert}`,
    `--key-file=${tls.key}`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${tls.peerCa}`,
    `--peer-cert-file=${tls.peerCert}`,
    `--peer-key-file=${tls.peerKey}`,
    '--logger=zap',
    `--log-outputs=${logFile}`,
    ...(opts.extraArgs ?? []),
  ];
  const removeDataDir = () => rmSync(dataDir, { recursive: true, force: true });
  return spawnGuarded('ip', args, { logFile, env: { PATH: process.env.PATH } }).then(
    (proc: GuardedProcess) => ({
      name,
      nsIndex,
      ip,
      peerUrl,
      clientUrl,
      dataDir,
      logFile,
      tls,
      pid: proc.pid,
      exited: proc.exited,
      running: () => isRunning(proc.pid),
      log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
      stop: async () => {
        await proc.stop();
        removeDataDir();
      },
    }),
  );
}

export async function startEtcdCluster(options: StartEtcdClusterOptions): Promise<EtcdCluster> {
  const { network, certs } = options;
  const names = options.names ?? certs.map((_, i) => `m${i + 1}`);
  const nsIndexes = options.nsIndexes ?? certs.map((_, i) => i);
  const token = options.token ?? `vpa-${network.id}`;
  const initialCluster = names
    .map((name, i) => `${name}=https://${network.ips[nsIndexes[i]!]}:${PEER_PORT}`)
    .join(',');
  const members: EtcdMember[] = [];
  try {
    for (let i = 0; i < certs.length; i++) {
      members.push(
        await startMember({
          network,
          nsIndex: nsIndexes[i]!,
          name: names[i]!,
          tls: memberTls(certs[i]!),
          initialCluster,
          state: 'new',
          token,
          extraArgs: options.extraArgs,
        }),
      );
    }
  } catch (err) {
    await Promise.all(members.map((m) => m.stop()));
    throw err;
  }
  const endpoints = members.map((m) => m.clientUrl);

  let lastClient: ClientCerts | undefined;
  const etcdctl: EtcdCluster['etcdctl'] = (args, client, opts = {}) => {
    lastClient = client;
    const c = clientTls(client);
    return runCommand(
      [
        etcdBinary('etcdctl'),
        `--endpoints=${(opts.endpoints ?? endpoints).join(',')}`,
        `--cacert=${c.ca}`,
        `--cert=${c.cert}`,
        `--key=${c.key}`,
        '--dial-timeout=2s',
        '--command-timeout=4s',
        ...args,
      ],
      { timeoutMs: opts.timeoutMs ?? 15_000, env: { PATH: process.env.PATH, ETCDCTL_API: '3' } },
    );
  };

  const logs = () => members.map((m) => `=== ${m.name} (${m.ip}) ===\n${m.log()}`).join('\n');

  return {
    network,
    members,
    endpoints,
    initialCluster,
    etcdctl,
    logs,
    waitHealthy: async (client, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      let last: ExecResult | undefined;
      while (Date.now() < deadline) {
        const dead = members.filter((m) => !m.running());
        if (dead.length > 0) {
          throw new Error(`etcd member(s) ${dead.map((m) => m.name).join(', ')} exited:\n${tail(logs())}`);
        }
        last = await etcdctl(['endpoint', 'health', '--cluster'], client);
        // --cluster checks the members that have published their client URLs: under load one may not have yet.
        const healthy = (`${last.stdout}${last.stderr}`.match(/is healthy/g) ?? []).length;
        if (last.code === 0 && healthy >= members.length) return last.stdout + last.stderr;
        await new Promise((r) => setTimeout(r, 300));
      }
      throw new Error(
        `etcd cluster not healthy after ${timeoutMs} ms: ${last?.stdout}${last?.stderr}\n${tail(logs())}`,
      );
    },
    startJoiningMember: async (opts) => {
      const ip = network.ips[opts.nsIndex];
      const peerUrl = `https://${ip}:${PEER_PORT}`;
      if (opts.register !== false) {
        // etcd refuses reconfiguration ("unhealthy cluster") until every member has been connected
        // for 5 s (etcdserver HealthInterval), so a freshly started cluster needs a few retries.
        const deadline = Date.now() + 15_000;
        for (;;) {
          const add = await etcdctl(['member', 'add', opts.name, `--peer-urls=${peerUrl}`], opts.client);
          if (add.code === 0) break;
          if (!add.stderr.includes('unhealthy cluster') || Date.now() > deadline) {
            throw new Error(`etcdctl member add failed: ${add.stderr}`);
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      const member = await startMember({
        network,
        nsIndex: opts.nsIndex,
        name: opts.name,
        tls: memberTls(opts.certs),
        initialCluster: `${initialCluster},${opts.name}=${peerUrl}`,
        state: 'existing',
        token,
        extraArgs: options.extraArgs,
      });
      members.push(member);
      return member;
    },
    removeMember: async (name, client) => {
      const list = await etcdctl(['member', 'list'], client);
      // "8e9e05c52164694d, started, m1, https://10.213.7.1:2380, https://10.213.7.1:2379, false";
      // a member that never started has an empty name there, so match its peer URL as well.
      const peerUrl = members.find((m) => m.name === name)?.peerUrl;
      const id = list.stdout
        .split('\n')
        .map((l) => l.split(', '))
        .find((f) => f[2] === name || (peerUrl !== undefined && f[3] === peerUrl))?.[0];
      if (!id) throw new Error(`no member named ${name} in: ${list.stdout}${list.stderr}`);
      const rm = await etcdctl(['member', 'remove', id], client);
      if (rm.code !== 0) throw new Error(`etcdctl member remove ${name} failed: ${rm.stderr}`);
      const index = members.findIndex((m) => m.name === name);
      if (index >= 0) {
        const [member] = members.splice(index, 1);
        await member!.stop();
      }
    },
    stop: async () => {
      // Stopping the leader together with its followers makes it wait ~7 s for a leadership transfer
      // to a peer that is going away; followers first, then the leader, stops in about a second.
      const running = members.filter((m) => m.running());
      const leaderUrl = lastClient && running.length > 1 ? await findLeader(running, lastClient) : undefined;
      await Promise.all(members.filter((m) => m.clientUrl !== leaderUrl).map((m) => m.stop()));
      await Promise.all(members.filter((m) => m.clientUrl === leaderUrl).map((m) => m.stop()));
    },
  };

  async function findLeader(running: EtcdMember[], client: ClientCerts): Promise<string | undefined> {
    const res = await etcdctl(['--command-timeout=2s', 'endpoint', 'status', '-w', 'json'], client, {
      endpoints: running.map((m) => m.clientUrl),
      timeoutMs: 5_000,
    });
    // Member ids are uint64: compare them as digit strings, JSON.parse would round them.
    for (const entry of res.stdout.split('{"Endpoint":').slice(1)) {
      const url = /^"([^"]+)"/.exec(entry)?.[1];
      const self = /"member_id":(\d+)/.exec(entry)?.[1];
      const leader = /"leader":(\d+)/.exec(entry)?.[1];
      if (url && self && self === leader) return url;
    }
    return undefined;
  }
}

/** Like isAlive, but a zombie (exited, not yet reaped by its guard) is not running. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Waits until `read()` matches `re`; returns the matching line. */
export async function waitForLogLine(read: () => string, re: RegExp, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = read()
      .split('\n')
      .find((l) => re.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`no log line matching ${re} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** True when process `pid` runs in network namespace `ns` (compares the namespace inodes). */
export function runsInNamespace(pid: number, ns: string): boolean {
  const link = readlinkSync(`/proc/${pid}/ns/net`); // "net:[4026532301]"
  return link === `net:[${statSync(`/run/netns/${ns}`).ino}]`;
}

/**
 * The check later tests reuse with agent-written certificate dirs: start the cluster on `network`
 * (whose `ips` the certificates must carry), wait for `endpoint health --cluster`, put and get a key
 * with `client`, stop. Throws (with the members' logs) when any step fails.
 */
export async function checkEtcdClusterWithCerts(opts: {
  network: TestNetwork;
  certs: MemberCerts[];
  client: ClientCerts;
  names?: string[];
  timeoutMs?: number;
}): Promise<{ health: string; value: string; logs: string }> {
  const cluster = await startEtcdCluster({ network: opts.network, certs: opts.certs, names: opts.names });
  try {
    const health = await cluster.waitHealthy(opts.client, opts.timeoutMs);
    const key = `/vpa-check/${randomBytes(4).toString('hex')}`;
    const put = await cluster.etcdctl(['put', key, 'ok'], opts.client);
    if (put.code !== 0) throw new Error(`etcdctl put failed: ${put.stderr}`);
    const get = await cluster.etcdctl(['get', key, '--print-value-only'], opts.client);
    if (get.code !== 0) throw new Error(`etcdctl get failed: ${get.stderr}`);
    return { health, value: get.stdout.trim(), logs: cluster.logs() };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${tail(cluster.logs())}`);
  } finally {
    await cluster.stop();
  }
}
