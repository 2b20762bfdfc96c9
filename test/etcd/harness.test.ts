/**
 * Proves the netns etcd harness with certificates issued straight from a real OpenBao's PKI API:
 * a 3-member TLS cluster with one member per network namespace, a foreign-CA client refused, a
 * member whose peer cert lacks its own IP SAN refused by its peers, and no etcd/namespace left behind
 * even when the process that started them is SIGKILLed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkEtcdClusterWithCerts,
  type EtcdCluster,
  etcdClusterUnavailableReason,
  runsInNamespace,
  startEtcdCluster,
  waitForLogLine,
} from '../support/etcd-cluster.js';
import { createPkiMount, issueCertDir, memberCertRequest } from '../support/etcd-test-certs.js';
import { isAlive, RUN_ID_VAR, SERVER_MARK_VAR } from '../support/guarded-process.js';
import {
  cleanStaleNetworks,
  createTestNetwork,
  NETNS_STATE_DIR,
  runCommand,
  type TestNetwork,
} from '../support/netns.js';
import { REPO_ROOT, startOpenBao, type TestVault } from '../support/openbao.js';

const skipReason = etcdClusterUnavailableReason();
const ETCD_MOUNT = 'etcd/c1/pki';
const K8S_MOUNT = 'k8s/c1/pki';
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('etcd cluster in network namespaces', () => {
  let vault: TestVault;
  let network: TestNetwork;
  let cluster: EtcdCluster;
  const certDirs: string[] = [];
  let clientDir: string;
  let foreignClientDir: string;

  beforeAll(async () => {
    if (skipReason) return;
    vault = await startOpenBao({ name: 'etcd-harness' });
    // Four namespaces: three founding members and one for the member that must fail to join.
    network = await createTestNetwork(4);
    await createPkiMount(vault, ETCD_MOUNT);
    await createPkiMount(vault, K8S_MOUNT);
    for (let i = 0; i < 3; i++) {
      certDirs.push(await issueCertDir(vault, ETCD_MOUNT, memberCertRequest(`m${i + 1}`, network.ips[i]!)));
    }
    clientDir = await issueCertDir(vault, ETCD_MOUNT, { common_name: 'etcd-healthcheck-client' });
    foreignClientDir = await issueCertDir(vault, K8S_MOUNT, { common_name: 'kube-apiserver-etcd-client' });
    cluster = await startEtcdCluster({ network, certs: certDirs });
  });

  afterAll(async () => {
    await cluster?.stop();
    await network?.destroy();
    await vault?.stop();
    for (const d of [...certDirs, clientDir, foreignClientDir])
      if (d) rmSync(d, { recursive: true, force: true });
  });

  it('3 members, each in its own namespace, become healthy and serve put/get to an etcd client cert', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const health = await cluster.waitHealthy(clientDir);
    for (const ip of network.ips.slice(0, 3)) expect(health).toMatch(`https://${ip}:2379 is healthy`);
    for (const [i, m] of cluster.members.entries()) {
      expect(runsInNamespace(m.pid, network.namespaces[i]!)).toBe(true);
      expect(readFileSync(`/proc/${m.pid}/cmdline`, 'utf8')).toContain(`--name=m${i + 1}`);
      // etcd carries the guard's run mark, so global-setup would report it if it outlived the run.
      expect(readFileSync(`/proc/${m.pid}/environ`, 'utf8').split('\0')).toContain(
        `${SERVER_MARK_VAR}=${process.env[RUN_ID_VAR] ?? 'standalone'}`,
      );
    }
    // Key files were written 0600.
    expect(statSync(join(certDirs[0]!, 'key.pem')).mode & 0o777).toBe(0o600);

    const put = await cluster.etcdctl(['put', '/vpa/harness', 'hello'], clientDir);
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toBe('OK');
    // Read back from each member separately: replication went over the peer links.
    for (const endpoint of cluster.endpoints) {
      const get = await cluster.etcdctl(['get', '/vpa/harness', '--print-value-only'], clientDir, {
        endpoints: [endpoint],
      });
      expect(get.stdout.trim()).toBe('hello');
    }
    // Peer traffic really comes from the members' own addresses: m1 has established connections to
    // the peer ports of m2 and m3 from 10.213.x.1.
    const ss = await network.exec(0, ['ss', '-Htn', 'state', 'established']);
    expect(ss.stdout).toMatch(
      new RegExp(`${reEscape(network.ips[0]!)}:\\d+\\s+${reEscape(network.ips[1]!)}:2380`),
    );
    expect(ss.stdout).toMatch(
      new RegExp(`${reEscape(network.ips[0]!)}:\\d+\\s+${reEscape(network.ips[2]!)}:2380`),
    );
  });

  it('refuses a client certificate from a different CA (k8s mount)', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    // The client trusts the etcd CA (so the server side is fine) but presents a k8s-CA certificate.
    const foreign = {
      cert: join(foreignClientDir, 'cert.pem'),
      key: join(foreignClientDir, 'key.pem'),
      ca: join(clientDir, 'ca.pem'),
    };
    const res = await cluster.etcdctl(['--command-timeout=1s', 'get', '/vpa/harness'], foreign, {
      endpoints: [cluster.endpoints[0]!],
    });
    expect(res.code).not.toBe(0);
    expect(res.stdout).not.toContain('hello');
    const line = await waitForLogLine(
      () => cluster.members[0]!.log(),
      new RegExp(`rejected connection.*${reEscape(network.hostIp)}:\\d+.*unknown authority`),
    );
    console.log(`[etcd harness] foreign client, m1 log: ${line}`);
    console.log(`[etcd harness] foreign client, etcdctl: ${res.stderr.trim().split('\n').at(-1)}`);
  });

  it('a member whose peer cert lacks its own IP SAN cannot join: peers reject it', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const badIp = network.ips[3]!;
    const badDir = await issueCertDir(vault, ETCD_MOUNT, {
      common_name: 'm4',
      ip_sans: ['127.0.0.1'],
      exclude_cn_from_sans: true,
    });
    certDirs.push(badDir);
    const m4 = await cluster.startJoiningMember({ nsIndex: 3, name: 'm4', certs: badDir, client: clientDir });
    const founders = cluster.members.slice(0, 3);
    const rejection = new RegExp(
      `rejected connection.*"remote-addr":"${reEscape(badIp)}:\\d+".*x509: certificate is valid for 127\\.0\\.0\\.1, not ${reEscape(badIp)}`,
    );
    const line = await waitForLogLine(() => founders.map((m) => m.log()).join('\n'), rejection);
    console.log(`[etcd harness] bad peer SAN, founder log: ${line}`);

    // m4 cannot even fetch the cluster's membership over the refused peer links and gives up.
    const fatal = await waitForLogLine(() => m4.log(), /"level":"fatal"/);
    expect(fatal).toContain('cannot fetch cluster info from peer urls');
    for (let i = 0; i < 50 && m4.running(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(m4.running()).toBe(false);
    console.log(`[etcd harness] bad peer SAN, m4 log: ${fatal.replace(/,"stacktrace".*/, '}')}`);
    // The founders never rejected one another: the rejection is about m4's certificate, not the setup.
    for (const m of founders) {
      expect(m.log()).not.toMatch(/"remote-addr":"10\.213\.\d+\.[123]:\d+".*x509/);
    }
    // Back to three voting members, still healthy.
    await cluster.removeMember('m4', clientDir);
    expect(cluster.members.map((m) => m.name)).toEqual(['m1', 'm2', 'm3']);
    await cluster.waitHealthy(clientDir, 10_000);
  });

  it('stopping the cluster kills etcd inside the namespaces and removes data dirs', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const pids = cluster.members.map((m) => m.pid);
    const dataDirs = cluster.members.map((m) => m.dataDir);
    expect(pids.filter((p) => isAlive(p)).length).toBe(3);
    const started = Date.now();
    await cluster.stop();
    console.log(`[etcd harness] cluster stopped in ${Date.now() - started} ms`);
    expect(pids.filter((p) => isAlive(p))).toEqual([]);
    expect(dataDirs.filter((d) => existsSync(d))).toEqual([]);
  });

  it('checkEtcdClusterWithCerts (the check later tests reuse with agent-written dirs) runs a fresh cluster', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const result = await checkEtcdClusterWithCerts({
      network,
      // Separate server/peer dirs are accepted too (here the same files).
      certs: [{ server: certDirs[0]!, peer: certDirs[0]! }, certDirs[1]!, certDirs[2]!],
      client: clientDir,
    });
    expect(result.value).toBe('ok');
    expect(result.health.match(/is healthy/g)).toHaveLength(3);
    // The one it started is stopped again.
    expect(await runCommand(['ip', 'netns', 'pids', network.namespaces[0]!])).toMatchObject({ stdout: '' });
  });

  it('leaves no etcd, namespace, bridge or data dir when the process that started them is SIGKILLed', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const child = spawn(tsx, [join(REPO_ROOT, 'test/etcd/fixtures/start-etcd-then-die.ts'), certDirs[0]!], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await new Promise((r) => child.on('exit', r));
    const made = JSON.parse(out.trim()) as { pid: number; ns: string; bridge: string; dataDir: string };
    expect(made.pid).toBeGreaterThan(0);
    const gone = async () => {
      const ns = (await runCommand(['ip', 'netns', 'list'])).stdout;
      const link = await runCommand(['ip', 'link', 'show', made.bridge]);
      return !isAlive(made.pid) && !ns.includes(made.ns) && link.code !== 0 && !existsSync(made.dataDir);
    };
    for (let i = 0; i < 100 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(made.pid)).toBe(false);
    expect((await runCommand(['ip', 'netns', 'list'])).stdout).not.toContain(made.ns);
    expect((await runCommand(['ip', 'link', 'show', made.bridge])).code).not.toBe(0);
    expect(existsSync(made.dataDir)).toBe(false);
  }, 30_000);
});

describe('test network leftovers', () => {
  it('cleanStaleNetworks removes namespaces, bridges and temp dirs of a dead owner, keeps a live one', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const live = await createTestNetwork(1);
    // Leftovers of a "crashed run": its owner PID is a process that has already exited.
    const dead = spawn('true');
    await new Promise((r) => dead.on('exit', r));
    const id = 'dead00';
    writeFileSync(join(NETNS_STATE_DIR, `netns-${id}.json`), JSON.stringify({ pid: dead.pid }));
    await runCommand(['ip', 'netns', 'add', `vpa-${id}-0`]);
    await runCommand(['ip', 'link', 'add', `vpab${id}`, 'type', 'bridge']);
    const tmp = mkdtempSync(join(tmpdir(), `vpa-net-${id}-data-`));
    try {
      expect((await runCommand(['ip', 'netns', 'list'])).stdout).toContain(`vpa-${id}-0`);
      const removed = cleanStaleNetworks();
      expect(removed).toEqual(expect.arrayContaining([`vpa-${id}-0`, `vpab${id}`, tmp]));
      expect((await runCommand(['ip', 'netns', 'list'])).stdout).not.toContain(`vpa-${id}-0`);
      expect((await runCommand(['ip', 'link', 'show', `vpab${id}`])).code).not.toBe(0);
      expect(existsSync(join(NETNS_STATE_DIR, `netns-${id}.json`))).toBe(false);
      // The live network (owner = this process) was left alone.
      expect(removed.some((r) => r.includes(live.id))).toBe(false);
      expect((await runCommand(['ip', 'link', 'show', live.bridge])).code).toBe(0);
    } finally {
      await runCommand(['ip', 'netns', 'del', `vpa-${id}-0`]);
      await runCommand(['ip', 'link', 'del', `vpab${id}`]);
      rmSync(tmp, { recursive: true, force: true });
      await live.destroy();
    }
    expect((await runCommand(['ip', 'link', 'show', live.bridge])).code).not.toBe(0);
  });
});
