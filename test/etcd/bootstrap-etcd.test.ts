/**
 * Acceptance: the agent's `bootstrap` command provisions a REAL three-member etcd cluster, one member
 * per network namespace (so peer connections come from each member's own IP and etcd's peer SAN check
 * runs as in production). Every certificate here is written by the bundled agent from a node config,
 * never by the test: the cluster forms and serves an agent-issued etcd client certificate, refuses an
 * agent-issued certificate from the Kubernetes CA, and refuses a 4th member whose agent-issued peer
 * certificate lacks its own IP SAN.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentRun, runAgent } from '../support/agent.js';
import {
  type ClientTls,
  type EtcdCluster,
  etcdClusterUnavailableReason,
  startEtcdCluster,
  waitForLogLine,
} from '../support/etcd-cluster.js';
import { createTestNetwork, type TestNetwork } from '../support/netns.js';
import { startOpenBao, type TestVault } from '../support/openbao.js';
import { createToken, provisionTestPki, type TestPki, writePolicy } from '../support/vault-pki.js';

const skipReason = etcdClusterUnavailableReason();
const FOUNDERS = ['m1', 'm2', 'm3'] as const;
const LB = 'etcd.c1.example.internal';
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What one node's agent run wrote: set name -> directory. */
type NodeSets = Record<string, string>;

describe('bootstrap provisions a real 3-member etcd cluster (one member per network namespace)', () => {
  let vault: TestVault;
  let pki: TestPki;
  let network: TestNetwork;
  let work: string;
  let cluster: EtcdCluster | undefined;
  const nodes = new Map<string, NodeSets>();
  const caFile = { etcd: '', k8s: '' };

  /** Writes a node's token file (0600) and config, returns the config path. */
  async function writeNode(
    node: { name: string; ip: string },
    policies: string[],
    certificates: Record<string, string>,
  ): Promise<string> {
    const dir = join(work, node.name);
    mkdirSync(dir, { recursive: true });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${await createToken(vault, { policies, period: '1h' })}\n`, { mode: 0o600 });
    const sets: NodeSets = {};
    const certYaml = Object.entries(certificates)
      .map(([name, body]) => {
        sets[name] = join(dir, name);
        return `  ${name}:\n    files: { dir: ${sets[name]} }\n${body}`;
      })
      .join('');
    nodes.set(node.name, sets);
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `cluster: c1
vault:
  address: ${vault.address}
  tokenFile: ${tokenFile}
node:
  name: ${node.name}
  ip: ${node.ip}
  loadBalancer: ${LB}
certificates:
${certYaml}`,
    );
    return file;
  }

  const bootstrap = (configFile: string): Promise<AgentRun> =>
    runAgent(['bootstrap', '--config', configFile]);
  const expectSuccess = (name: string, run: AgentRun) => {
    // The agent's own output is the useful diagnostic when it fails.
    expect({ node: name, code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
      node: name,
      code: 0,
      stderr: '',
    });
    expect(run.stderr).not.toMatch(/level=error/);
  };
  const set = (node: string, name: string): string => {
    const dir = nodes.get(node)?.[name];
    if (!dir) throw new Error(`no set ${name} was bootstrapped for ${node} (an earlier test failed)`);
    return dir;
  };
  const sans = (dir: string) =>
    (new X509Certificate(readFileSync(join(dir, 'cert.pem'))).subjectAltName ?? '').split(', ').sort();
  const flanneld = () => set('etcd-clients', 'flanneld');
  const live = (): EtcdCluster => {
    if (!cluster) throw new Error('the etcd cluster was not started (an earlier test failed)');
    return cluster;
  };

  beforeAll(async () => {
    if (skipReason) return;
    // Four namespaces from the start: three founders, and one for the member that must fail to join.
    [vault, network] = await Promise.all([startOpenBao({ name: 'bootstrap-etcd' }), createTestNetwork(4)]);
    work = network.makeTempDir('agent');
    pki = await provisionTestPki(vault, 'c1');
    await writePolicy(vault, 'etcd-member', [`${pki.etcdMount}/member`, `${pki.etcdMount}/client`]);
    await writePolicy(vault, 'k8s-controller-manager', [`${pki.k8sMount}/component`]);
    caFile.etcd = join(work, 'etcd-ca.pem');
    caFile.k8s = join(work, 'k8s-ca.pem');
    writeFileSync(caFile.etcd, pki.ca.etcd);
    writeFileSync(caFile.k8s, pki.ca.k8s);
  });

  afterAll(async () => {
    await cluster?.stop();
    await network?.destroy(); // also removes `work` (a temp dir of the network)
    await vault?.stop();
  });

  it('three agents (run concurrently) and a client host bootstrap their certificates', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const memberConfigs = await Promise.all(
      FOUNDERS.map((name, i) =>
        writeNode({ name, ip: network.ips[i]! }, ['etcd-member'], {
          'etcd-server': '    preset: etcd-server\n',
          'etcd-peer': '    preset: etcd-peer\n',
        }),
      ),
    );
    // The host the clients run on: flanneld's etcd client cert, and a controller-manager cert from
    // the Kubernetes CA (valid, but for the wrong cluster component).
    const clientConfig = await writeNode(
      { name: 'etcd-clients', ip: network.hostIp },
      ['etcd-member', 'k8s-controller-manager'],
      {
        flanneld: '    preset: etcd-client\n    commonName: flanneld\n',
        'controller-manager': '    preset: controller-manager\n',
      },
    );
    const runs = await Promise.all([...memberConfigs, clientConfig].map(bootstrap));
    for (const [i, run] of runs.entries()) expectSuccess(FOUNDERS[i] ?? 'etcd-clients', run);

    for (const [i, name] of FOUNDERS.entries()) {
      const ip = network.ips[i]!;
      const peer = sans(set(name, 'etcd-peer'));
      expect(peer).toEqual(
        [
          `DNS:${name}`,
          'DNS:localhost',
          `IP Address:${ip}`,
          'IP Address:127.0.0.1',
          'IP Address:0:0:0:0:0:0:0:1',
        ].sort(),
      );
      expect(sans(set(name, 'etcd-server'))).toEqual([...peer, `DNS:${LB}`].sort());
      for (const s of ['etcd-server', 'etcd-peer']) {
        expect(statSync(join(set(name, s), 'key.pem')).mode & 0o777).toBe(0o600);
        expect(new X509Certificate(readFileSync(join(set(name, s), 'cert.pem'))).subject).toBe(`CN=${name}`);
      }
    }
    expect(new X509Certificate(readFileSync(join(flanneld(), 'cert.pem'))).subject).toBe('CN=flanneld');
  });

  it('etcd runs on the agent-written server/peer dirs: healthy, put/get with the agent-issued client cert', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    cluster = await startEtcdCluster({
      network,
      names: [...FOUNDERS],
      certs: FOUNDERS.map((name) => ({ server: set(name, 'etcd-server'), peer: set(name, 'etcd-peer') })),
    });
    // The harness runs every member with --client-cert-auth and --peer-client-cert-auth.
    // `ip netns exec` execs etcd in place: read the command line once the exec is done (a process in the middle
    // of execve shows an empty one, which a loaded machine made this test see).
    for (const m of cluster.members) {
      let cmdline: string[] = [];
      for (let i = 0; i < 50; i++) {
        cmdline = readFileSync(`/proc/${m.pid}/cmdline`, 'utf8').split('\0');
        if (!cmdline[0]?.endsWith('ip') && cmdline[0] !== '') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(cmdline).toEqual(expect.arrayContaining(['--client-cert-auth', '--peer-client-cert-auth']));
    }
    await cluster.waitHealthy(flanneld());

    const put = await cluster.etcdctl(['put', '/vpa/bootstrap', 'from-agent-certs'], flanneld());
    expect({ code: put.code, stdout: put.stdout.trim(), stderr: put.stderr }).toEqual({
      code: 0,
      stdout: 'OK',
      stderr: '',
    });
    // Read back from each member separately: the value travelled over agent-secured peer links.
    for (const endpoint of cluster.endpoints) {
      const get = await cluster.etcdctl(['get', '/vpa/bootstrap', '--print-value-only'], flanneld(), {
        endpoints: [endpoint],
      });
      expect(get.stdout.trim()).toBe('from-agent-certs');
    }
    const health = await cluster.etcdctl(['endpoint', 'health', '--cluster'], flanneld());
    expect(health.code).toBe(0);
    const healthy = `${health.stdout}${health.stderr}`.match(/https:\/\/\S+ is healthy/g) ?? [];
    expect(healthy.sort()).toEqual(network.ips.slice(0, 3).map((ip) => `https://${ip}:2379 is healthy`));
  });

  it('refuses the agent-issued controller-manager certificate (Kubernetes CA) as an etcd client', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const c = live();
    // Trusts the etcd CA for the server side, but presents a certificate from the k8s mount.
    const k8sDir = set('etcd-clients', 'controller-manager');
    const foreign: ClientTls = {
      cert: join(k8sDir, 'cert.pem'),
      key: join(k8sDir, 'key.pem'),
      ca: join(flanneld(), 'ca.pem'),
    };
    const res = await c.etcdctl(['--command-timeout=1s', 'get', '/vpa/bootstrap'], foreign, {
      endpoints: [c.endpoints[0]!],
    });
    expect(res.code).not.toBe(0);
    expect(res.stdout).not.toContain('from-agent-certs');
    const line = await waitForLogLine(
      () => c.members[0]!.log(),
      new RegExp(
        `rejected connection.*${reEscape(network.hostIp)}:\\d+.*certificate signed by unknown authority`,
      ),
    );
    console.log(`[bootstrap-etcd] k8s-CA client, m1 log: ${line}`);
    // The same etcd client cert from the etcd CA still works: the refusal is about the CA.
    const ok = await c.etcdctl(['get', '/vpa/bootstrap', '--print-value-only'], flanneld());
    expect(ok.stdout.trim()).toBe('from-agent-certs');
  });

  it('a 4th member whose agent-issued peer cert lacks its own IP SAN cannot join; the cluster stays healthy', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const c = live();
    const badIp = network.ips[3]!;
    const config = await writeNode({ name: 'm4', ip: badIp }, ['etcd-member'], {
      'etcd-server': '    preset: etcd-server\n',
      // The operator's mistake: replaced the preset's SANs and forgot the node's own IP.
      'etcd-peer':
        '    preset: etcd-peer\n    replaceSans: true\n    altNames: [localhost]\n    ipSans: [127.0.0.1]\n',
    });
    expectSuccess('m4', await bootstrap(config));
    const peerDir = set('m4', 'etcd-peer');
    // Vault copies the hostname-shaped CN (m4) into the DNS SANs (the agent never sets
    // exclude_cn_from_sans), so etcd's check falls through from the IP SANs to the DNS names.
    expect(sans(peerDir)).toEqual(['DNS:localhost', 'DNS:m4', 'IP Address:127.0.0.1']);
    expect(sans(set('m4', 'etcd-server'))).toContain(`IP Address:${badIp}`);

    const m4 = await c.startJoiningMember({
      nsIndex: 3,
      name: 'm4',
      certs: { server: set('m4', 'etcd-server'), peer: peerDir },
      client: flanneld(),
    });
    const founders = c.members.filter((m) => m.name !== 'm4');
    // etcd's checkCertSAN tries the IP SANs first; as the cert also has DNS SANs it then resolves them
    // ("localhost" -> 127.0.0.1, "m4" -> nothing) and reports the DNS-name variant of the rejection.
    // (Without DNS SANs it would say "x509: certificate is valid for 127.0.0.1, not <ip>".)
    const rejection = new RegExp(
      `rejected connection.*"remote-addr":"${reEscape(badIp)}:\\d+".*"ip-addresses":\\["127\\.0\\.0\\.1"\\]` +
        `.*"error":"tls: \\\\"${reEscape(badIp)}\\\\" does not match any of DNSNames \\[\\\\"localhost\\\\" \\\\"m4\\\\"\\]`,
    );
    const line = await waitForLogLine(() => founders.map((m) => m.log()).join('\n'), rejection);
    console.log(`[bootstrap-etcd] bad peer SAN, founder log: ${line}`);

    // m4 is registered but never started: it could not talk to any founder.
    const list = await c.etcdctl(['member', 'list'], flanneld());
    const m4Row = list.stdout.split('\n').find((l) => l.includes(`https://${badIp}:2380`));
    expect(m4Row).toMatch(/, unstarted, /);
    expect(m4.log()).not.toMatch(/"msg":"published local member to cluster/);
    // The founders never rejected one another: the rejection is about m4's certificate.
    for (const m of founders) {
      expect(m.log()).not.toMatch(/"remote-addr":"10\.213\.\d+\.[123]:\d+".*(x509|DNSNames)/);
    }

    await c.removeMember('m4', flanneld());
    expect(c.members.map((m) => m.name)).toEqual([...FOUNDERS]);
    const health = await c.waitHealthy(flanneld(), 15_000);
    expect(health.match(/is healthy/g)).toHaveLength(3);
    const get = await c.etcdctl(['get', '/vpa/bootstrap', '--print-value-only'], flanneld());
    expect(get.stdout.trim()).toBe('from-agent-certs');
  });

  it('openssl verify: every set the agent wrote chains to its mount CA (and only to it)', async (ctx) => {
    if (skipReason) ctx.skip(skipReason);
    const verify = (ca: string, cert: string) => {
      try {
        return execFileSync('openssl', ['verify', '-CAfile', ca, cert], {
          encoding: 'utf8',
          stdio: 'pipe',
        }).trim();
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        return `failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim()}`;
      }
    };
    const etcdSets = [...FOUNDERS, 'm4'].flatMap((n) => [set(n, 'etcd-server'), set(n, 'etcd-peer')]);
    etcdSets.push(flanneld());
    for (const dir of etcdSets) {
      const cert = join(dir, 'cert.pem');
      expect(verify(caFile.etcd, cert)).toBe(`${cert}: OK`);
      // The agent's ca.pem (what etcd trusted above) is the etcd mount's CA.
      expect(readFileSync(join(dir, 'ca.pem'), 'utf8').trim()).toBe(pki.ca.etcd.trim());
    }
    const k8sCert = join(set('etcd-clients', 'controller-manager'), 'cert.pem');
    expect(verify(caFile.k8s, k8sCert)).toBe(`${k8sCert}: OK`);
    expect(verify(caFile.etcd, k8sCert)).toMatch(/^failed: .*unable to get local issuer certificate/s);
  });
});
