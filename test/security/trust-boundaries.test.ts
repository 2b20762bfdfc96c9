/**
 * Trust boundaries of what `provision` writes (issue 13, points 1-3, and the engineer-name case), tried as
 * an attacker would: a stolen node token asks every role its own policy reaches for every identity worth
 * having, against a real OpenBao, and whatever it obtains is tried against a real etcd started the way
 * cloudformation/etcd.yaml starts it (client-certificate auth, the etcd CA as the only trusted CA).
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandPreset, type PresetName } from '../../src/config/presets.js';
import { createCsr } from '../../src/pki/csr.js';
import { generateKey } from '../../src/pki/keys.js';
import { runAgent, waitFor } from '../support/agent.js';
import {
  materializeWriteFiles,
  renderUserData,
  sampleValues,
  writeFilesOf,
} from '../support/cfn-user-data.js';
import {
  type ClientTls,
  type EtcdCluster,
  etcdBinary,
  etcdClusterUnavailableReason,
  isRunning,
  startEtcdCluster,
} from '../support/etcd-cluster.js';
// FAKE systemctl: records the exact argv the agent passes (what is checked here); real systemd does not show it.
import { createFakeSystemctl } from '../support/fake-systemctl/index.js';
import { type GuardedProcess, spawnGuarded } from '../support/guarded-process.js';
import { createTestNetwork, runCommand, type TestNetwork } from '../support/netns.js';
import { freePort, startOpenBao, type TestVault } from '../support/openbao.js';
import { registerTestSecret } from '../support/secret-scan.js';

let vault: TestVault;
let work: string;

const LB = 'api.c1.example.internal';
const SERVICE_IP = '10.96.0.1';
const APISERVER_NAMES = [
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.cluster.local',
  LB,
];
/** A worker's own name under the c2 name rules below. */
const WORKER = 'ip-10-1-0-5';
const C2_RULES = `nodeNames:
  worker: ["ip-10-1-*"]
  control-plane: ["control-plane-*"]
  etcd-member: ["etcd-*"]
loadBalancers: [${LB}]
`;

const operator = (args: string[], env: Record<string, string> = {}) =>
  runAgent(args, { env: { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken, ...env } });

async function tokenFor(cluster: string, nodeType: string): Promise<string> {
  const run = await operator(['token', 'create', '--cluster', cluster, '--node-type', nodeType]);
  expect(run.code, run.stderr).toBe(0);
  // Not registered with the secret scan: `token create` prints it on stdout by design.
  return run.stdout.trim();
}

interface Obtained {
  /** `<mount>/issue/<role>` */
  path: string;
  request: Record<string, unknown>;
  cert: X509Certificate;
  certificatePem: string;
  keyPem: string;
  caPem: string;
}

const describeCert = (o: Obtained) =>
  `${o.path} ${o.cert.subject.replaceAll('\n', ',')} [${o.cert.subjectAltName ?? ''}]`;

/** The `<mount>/issue/<role>` paths the token's own policies grant (read with the root token). */
async function issuePaths(token: string): Promise<string[]> {
  const self = (await vault.api('GET', 'auth/token/lookup-self', undefined, { token })).body.data;
  const paths: string[] = [];
  for (const policy of (self?.policies as string[]) ?? []) {
    const text = String((await vault.api('GET', `sys/policies/acl/${policy}`)).body.data?.policy ?? '');
    for (const m of text.matchAll(/path "([^"]+)\/(?:issue|sign)\/([^"/]+)"/g)) {
      const path = `${m[1]}/issue/${m[2]}`;
      if (!paths.includes(path)) paths.push(path);
    }
  }
  return paths;
}

/** Everything worth having: other identities' CNs, no CN at all, and the apiserver's names and IP. */
function attempts(): Record<string, unknown>[] {
  const cns = [
    'root',
    'kube-apiserver-etcd-client',
    'kube-etcd-healthcheck-client',
    'flanneld',
    'kube-apiserver',
    'system:node:control-plane-1',
    'system:node:etcd-1',
    `system:node:${WORKER}`,
    'control-plane-1',
    'etcd-1',
    'system:kube-controller-manager',
    'kubernetes-admin',
  ];
  const list: Record<string, unknown>[] = [{}, ...cns.map((cn) => ({ common_name: cn }))];
  list.push({ common_name: 'kube-apiserver', alt_names: APISERVER_NAMES.join(','), ip_sans: SERVICE_IP });
  for (const cn of [`system:node:${WORKER}`, WORKER]) {
    for (const name of APISERVER_NAMES) list.push({ common_name: cn, alt_names: name });
    list.push({ common_name: cn, ip_sans: SERVICE_IP });
  }
  return list;
}

/** Asks every role the token's policy reaches for every attempt; returns what Vault issued. */
async function bestEfforts(token: string): Promise<Obtained[]> {
  const paths = await issuePaths(token);
  expect(paths.length).toBeGreaterThan(0);
  const obtained: Obtained[] = [];
  await Promise.all(
    paths.flatMap((path) =>
      attempts().map(async (request) => {
        const res = await vault.api(
          'POST',
          path,
          { key_type: 'ec', ttl: '1h', ...request },
          { token, allowError: true },
        );
        if (res.status !== 200) return;
        const d = res.body.data as Record<string, string>;
        obtained.push({
          path,
          request,
          cert: new X509Certificate(d.certificate as string),
          certificatePem: d.certificate as string,
          keyPem: d.private_key as string,
          caPem: d.issuing_ca as string,
        });
      }),
    ),
  );
  return obtained;
}

async function caOf(mount: string): Promise<X509Certificate> {
  return new X509Certificate(String((await vault.api('GET', `${mount}/cert/ca`)).body.data?.certificate));
}

const dnsNames = (c: X509Certificate) =>
  (c.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
const ipAddresses = (c: X509Certificate) =>
  (c.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('IP Address:'))
    .map((s) => s.slice(11));
const commonName = (c: X509Certificate) => /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1];

beforeAll(async () => {
  vault = await startOpenBao({ name: 'trust-boundaries' });
  work = mkdtempSync(join(tmpdir(), 'vpa-trust-'));
  await vault.api('POST', 'sys/auth/userpass', { type: 'userpass' });
  // c1: provision's defaults (no provision file), c2: name rules per node type.
  const c1 = await operator(['provision', '--cluster', 'c1', '--engineer-auth', 'userpass']);
  expect(c1.code, c1.stderr).toBe(0);
});

let c2: Promise<void> | undefined;
/** Cluster c2, provisioned once with name rules per node type. */
function provisionC2(): Promise<void> {
  c2 ??= (async () => {
    const rules = join(work, 'c2-provision.yaml');
    writeFileSync(rules, C2_RULES);
    const run = await operator(['provision', '--cluster', 'c2', '--provision-config', rules]);
    expect(run.code, `${run.stdout}${run.stderr}`).toBe(0);
  })();
  return c2;
}

afterAll(async () => {
  await vault?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a stolen worker token, against the roles and policies provision writes (real OpenBao)', () => {
  let worker: Obtained[];
  beforeAll(async () => {
    worker = await bestEfforts(await tokenFor('c1', 'worker'));
  });

  it('obtains no certificate the Kubernetes etcd trusts: no CN=root, no CN=kube-apiserver-etcd-client, nothing from etcd/<c>/pki', async () => {
    const etcdCa = await caOf('etcd/c1/pki');
    const fromEtcdCa = worker.filter((o) => o.cert.verify(etcdCa.publicKey));
    expect(fromEtcdCa.map(describeCert)).toEqual([]);
    // It still gets what a worker needs: the network plugin's client from the overlay's own CA.
    const overlayCa = await caOf('etcd-overlay/c1/pki');
    const overlay = worker.filter((o) => o.cert.verify(overlayCa.publicKey));
    expect(overlay.map((o) => commonName(o.cert)).sort()).toEqual(['flanneld']);
  });

  it("obtains nothing that carries the apiserver's identity: CN kube-apiserver, kubernetes*, the load-balancer name or the service IP", async () => {
    const apiserverLike = worker.filter(
      (o) =>
        commonName(o.cert) === 'kube-apiserver' ||
        dnsNames(o.cert).some((n) => APISERVER_NAMES.includes(n)) ||
        ipAddresses(o.cert).includes(SERVICE_IP),
    );
    expect(apiserverLike.map(describeCert)).toEqual([]);
    // The same names in a CSR to every sign path (use_csr_sans): refused as well.
    const token = await tokenFor('c1', 'worker');
    const key = await generateKey({ type: 'ec', bits: 256 });
    for (const path of (await issuePaths(token)).map((p) => p.replace('/issue/', '/sign/'))) {
      for (const subject of [
        { commonName: `system:node:${WORKER}`, dnsSans: [], ipSans: [SERVICE_IP] },
        { commonName: `system:node:${WORKER}`, dnsSans: ['kubernetes.default.svc', LB], ipSans: [] },
        { commonName: 'kube-apiserver', dnsSans: APISERVER_NAMES, ipSans: [SERVICE_IP] },
      ]) {
        const signed = await vault.api(
          'POST',
          path,
          { csr: createCsr(key, subject), ttl: '1h' },
          { token, allowError: true },
        );
        expect(signed.status, `${path} ${JSON.stringify(subject)}`).toBe(400);
      }
    }
    // Only kubelet identities from the Kubernetes CA, and only client certificates carry no names.
    const k8sCa = await caOf('k8s/c1/pki');
    for (const o of worker.filter((x) => x.cert.verify(k8sCa.publicKey))) {
      expect(commonName(o.cert), describeCert(o)).toMatch(/^system:node:/);
    }
  });

  it('with name rules per node type (provision file nodeNames), obtains its own kubelet identity and not that of a control-plane or etcd node', async () => {
    await provisionC2();
    const obtained = await bestEfforts(await tokenFor('c2', 'worker'));
    const cns = obtained.map((o) => commonName(o.cert));
    expect(cns).not.toContain('system:node:control-plane-1');
    expect(cns).not.toContain('system:node:etcd-1');
    expect(cns).toContain(`system:node:${WORKER}`);
    // The kubelet serving certificate for its own name and address still issues.
    const token = await tokenFor('c2', 'worker');
    const serving = await vault.api(
      'POST',
      'k8s/c2/pki/issue/kubelet',
      {
        key_type: 'ec',
        ttl: '1h',
        common_name: `system:node:${WORKER}`,
        alt_names: WORKER,
        ip_sans: '10.1.0.5',
      },
      { token, allowError: true },
    );
    expect(serving.status, JSON.stringify(serving.body.errors)).toBe(200);
    // Every name other than its own that it did obtain is one of the residual: another worker's name.
    for (const o of obtained) {
      for (const name of [commonName(o.cert) ?? '', ...dnsNames(o.cert)]) {
        expect(name, describeCert(o)).toMatch(/^(system:node:ip-10-1-.*|ip-10-1-.*|flanneld|)$/);
      }
    }
  });
});

describe('a stolen worker token with the node names of an older provision file (a plain list)', () => {
  it('the kubelet identity is bounded by the list too: no CN=system:node:control-plane-1', async () => {
    const rules = join(work, 'c3-provision.yaml');
    writeFileSync(rules, `nodeNames: ["ip-10-1-*"]\nloadBalancers: [${LB}]\n`);
    const run = await operator(['provision', '--cluster', 'c3', '--provision-config', rules]);
    expect(run.code, run.stderr).toBe(0);
    const cns = (await bestEfforts(await tokenFor('c3', 'worker'))).map((o) => commonName(o.cert));
    expect(cns).not.toContain('system:node:control-plane-1');
    expect(cns).not.toContain('system:node:etcd-1');
    expect(cns).toContain(`system:node:${WORKER}`);
  });
});

describe('what each other node type can obtain (real OpenBao)', () => {
  it('etcd-member: etcd member and health-check identities from the etcd CAs, nothing from the Kubernetes or front-proxy CA', async () => {
    await provisionC2();
    const obtained = await bestEfforts(await tokenFor('c2', 'etcd-member'));
    const [k8sCa, fpCa] = await Promise.all([caOf('k8s/c2/pki'), caOf('k8s-front-proxy/c2/pki')]);
    expect(obtained.filter((o) => o.cert.verify(k8sCa.publicKey) || o.cert.verify(fpCa.publicKey))).toEqual(
      [],
    );
    const cns = [...new Set(obtained.map((o) => commonName(o.cert)))].sort();
    expect(cns).toEqual(['etcd-1', 'kube-etcd-healthcheck-client']);
  });

  it('control-plane: its fixed identities and the gRPC proxy certificate without a CN, no kubelet or etcd member identity', async () => {
    await provisionC2();
    const obtained = await bestEfforts(await tokenFor('c2', 'control-plane'));
    const cns = [...new Set(obtained.map((o) => commonName(o.cert) ?? '(none)'))].sort();
    expect(cns).toEqual([
      '(none)',
      'control-plane-1',
      'kube-apiserver',
      'kube-apiserver-etcd-client',
      'kube-etcd-healthcheck-client',
      'system:kube-controller-manager',
    ]);
    // control-plane-1 only as a SAN of the apiserver's serving certificate, never as a client.
    for (const o of obtained.filter((x) => commonName(x.cert) === 'control-plane-1')) {
      expect(o.path, describeCert(o)).toBe('k8s/c2/pki/issue/apiserver');
    }
    const noCn = obtained.filter((o) => commonName(o.cert) === undefined);
    expect(noCn.map((o) => o.path)).toEqual(['etcd/c2/pki/issue/grpc-proxy']);
    expect(noCn[0]?.cert.subjectAltName).toBeUndefined();
  });
});

describe('an engineer (real OpenBao, the bundled kube-credential)', () => {
  let token: string;
  beforeAll(async () => {
    await vault.api('POST', 'auth/userpass/users/alice', {
      password: 'alice-pw',
      token_policies: ['pki-c1-engineer'],
    });
    const login = await vault.api('POST', 'auth/userpass/login/alice', { password: 'alice-pw' });
    token = String(login.body.auth?.client_token);
    registerTestSecret(token);
  });

  const kubeCredential = (args: string[]) =>
    runAgent(['kube-credential', '--cluster', 'c1', ...args], {
      env: { VAULT_ADDR: vault.address, VAULT_TOKEN: token, XDG_CACHE_HOME: join(work, 'cache') },
    });

  it('kube-credential refuses a case variant of the login name (Vault would sign CN=Alice for alice); the own name works', async () => {
    for (const variant of ['Alice', 'ALICE']) {
      const run = await kubeCredential(['--common-name', variant]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(new RegExp(`"${variant}" is not your login name "alice"`));
    }
    const own = await kubeCredential([]);
    expect(own.code, own.stderr).toBe(0);
    const cred = JSON.parse(own.stdout) as { status: { clientCertificateData: string } };
    expect(new X509Certificate(cred.status.clientCertificateData).subject).toBe('CN=alice');
  });

  it('residual: a direct Vault call with the same token still obtains CN=Alice (Vault compares allowed names without case)', async () => {
    const direct = await vault.api(
      'POST',
      'k8s/c1/pki/issue/engineer',
      { key_type: 'ec', ttl: '1h', common_name: 'Alice' },
      { token, allowError: true },
    );
    expect(direct.status).toBe(200);
    expect(new X509Certificate(String(direct.body.data?.certificate)).subject).toBe('CN=Alice');
  });
});

const etcdSkip = etcdClusterUnavailableReason();

describe.skipIf(etcdSkip)(
  `the Kubernetes etcd, started as cloudformation/etcd.yaml starts it (real etcd)${etcdSkip ? ` (skipped: ${etcdSkip})` : ''}`,
  () => {
    let network: TestNetwork;
    let cluster: EtcdCluster | undefined;
    let root: string;
    let env: Record<string, string>;
    let serverCa = '';
    let apiserver: ClientTls | undefined;
    let clientDir: (name: string, o: { certificatePem: string; keyPem: string }) => ClientTls;

    beforeAll(async () => {
      network = await createTestNetwork(1);
      root = network.makeTempDir('etcd-1');
      const ca = String((await vault.api('GET', 'etcd/c1/pki/cert/ca')).body.data?.certificate);
      const [userData] = renderUserData(
        'etcd.yaml',
        sampleValues({
          VaultAddress: vault.address,
          VaultCaCertificate: Buffer.from(`${ca}\n`).toString('base64'),
          VaultToken: await tokenFor('c1', 'etcd-member'),
          Member1Address: network.ips[0] as string,
        }),
      );
      const text = userData?.text ?? '';
      const config = materializeWriteFiles(text, root);
      const systemctl = createFakeSystemctl();
      const boot = await runAgent(['bootstrap', '--config', config], {
        env: { ...systemctl.env, VPA_SYSTEMCTL: systemctl.binary },
      });
      expect(boot.code, boot.stderr).toBe(0);
      // etcd's own settings, as the template hands them to etcd.service (an EnvironmentFile).
      const envFile = writeFilesOf(text).find((f) => f.path === '/etc/etcd/etcd-tls.env');
      env = Object.fromEntries(
        (envFile?.content ?? '')
          .split('\n')
          .filter((l) => /^ETCD_[A-Z_]+=/.test(l))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
    }, 120_000);

    const proxies: GuardedProcess[] = [];

    afterAll(async () => {
      await Promise.all(proxies.map((p) => p.stop()));
      await cluster?.stop();
      await network?.destroy();
    });

    /** A setting of the template's etcd environment, as a path under this node's root. */
    const under = (key: string, fallback: string) => join(root, env[key] ?? fallback);

    it("a worker token's best efforts (every role its policy reaches) cannot read /registry; the control plane's apiserver-etcd-client can", async () => {
      // The harness starts etcd with the template's files (--client-cert-auth, --trusted-ca-file, cert, peer).
      cluster = await startEtcdCluster({
        network,
        names: ['etcd-1'],
        certs: [
          {
            cert: under('ETCD_CERT_FILE', '/etc/etcd/pki/server/cert.pem'),
            key: under('ETCD_KEY_FILE', '/etc/etcd/pki/server/key.pem'),
            ca: under('ETCD_TRUSTED_CA_FILE', '/etc/etcd/pki/server/ca.pem'),
            peerCert: under('ETCD_PEER_CERT_FILE', '/etc/etcd/pki/peer/cert.pem'),
            peerKey: under('ETCD_PEER_KEY_FILE', '/etc/etcd/pki/peer/key.pem'),
            peerCa: under('ETCD_PEER_TRUSTED_CA_FILE', '/etc/etcd/pki/peer/ca.pem'),
          },
        ],
      });
      serverCa = under('ETCD_TRUSTED_CA_FILE', '/etc/etcd/pki/server/ca.pem');
      clientDir = (name, o) => {
        const dir = join(root, 'attacker', name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'cert.pem'), o.certificatePem);
        writeFileSync(join(dir, 'key.pem'), o.keyPem, { mode: 0o600 });
        return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), ca: serverCa };
      };

      // The control plane's apiserver-etcd-client, from the path its preset names, writes and reads.
      const preset = (name: PresetName) =>
        expandPreset(name, {
          node: 'control-plane-1',
          serviceIp: SERVICE_IP,
          dnsDomain: 'cluster.local',
          mounts: {
            etcd: 'etcd/c1/pki',
            kubernetes: 'k8s/c1/pki',
            frontProxy: 'k8s-front-proxy/c1/pki',
            etcdOverlay: 'etcd-overlay/c1/pki',
          },
        });
      const apiserverClient = preset('apiserver-etcd-client');
      const issued = await vault.api(
        'POST',
        `${apiserverClient.mount}/issue/${apiserverClient.role}`,
        { key_type: 'ec', ttl: '1h', common_name: apiserverClient.commonName },
        { token: await tokenFor('c1', 'control-plane'), allowError: true },
      );
      expect(issued.status, JSON.stringify(issued.body.errors)).toBe(200);
      apiserver = clientDir('apiserver', {
        certificatePem: String(issued.body.data?.certificate),
        keyPem: String(issued.body.data?.private_key),
      });
      await cluster.waitHealthy(apiserver);
      const put = await cluster.etcdctl(['put', '/registry/secrets/kube-system/db', 's3cret'], apiserver);
      expect(put.code, put.stderr).toBe(0);
      const read = await cluster.etcdctl(['get', '/registry/', '--prefix'], apiserver);
      expect(read.stdout).toContain('s3cret');

      const worker = await bestEfforts(await tokenFor('c1', 'worker'));
      expect(worker.length).toBeGreaterThan(0);
      const tries = await Promise.all(
        worker.map(async (o, i) => {
          const r = await cluster!.etcdctl(['get', '/registry/', '--prefix'], clientDir(`worker-${i}`, o));
          return { what: describeCert(o), code: r.code, leaked: r.stdout.includes('s3cret') };
        }),
      );
      expect(tries.filter((t) => t.code === 0 || t.leaked)).toEqual([]);
      // The template's etcd settings: client-certificate auth, and the etcd CA as the only trusted CA.
      expect(env).toMatchObject({
        ETCD_CLIENT_CERT_AUTH: 'true',
        ETCD_TRUSTED_CA_FILE: '/etc/etcd/pki/server/ca.pem',
        ETCD_PEER_CLIENT_CERT_AUTH: 'true',
        ETCD_PEER_TRUSTED_CA_FILE: '/etc/etcd/pki/peer/ca.pem',
      });
      console.log(`[trust-boundaries] etcd refused all ${tries.length} certificates a worker token obtained`);
    }, 180_000);

    it('etcd grpc-proxy (3.4) serves the control plane with the etcd-grpc-proxy certificate (no CN) upstream, and refuses an upstream certificate with a CN (etcd#9521)', async () => {
      if (!cluster || !apiserver) throw new Error('the etcd of the previous test did not start');
      const preset = expandPreset('etcd-grpc-proxy', {
        node: 'control-plane-1',
        serviceIp: SERVICE_IP,
        dnsDomain: 'cluster.local',
        mounts: {
          etcd: 'etcd/c1/pki',
          kubernetes: 'k8s/c1/pki',
          frontProxy: 'k8s-front-proxy/c1/pki',
          etcdOverlay: 'etcd-overlay/c1/pki',
        },
      });
      expect(preset.commonName).toBe('');
      const issued = await vault.api(
        'POST',
        `${preset.mount}/issue/${preset.role}`,
        { key_type: 'ec', ttl: '1h' },
        { token: await tokenFor('c1', 'control-plane'), allowError: true },
      );
      expect(issued.status, JSON.stringify(issued.body.errors)).toBe(200);
      const upstream = clientDir('grpc-proxy', {
        certificatePem: String(issued.body.data?.certificate),
        keyPem: String(issued.body.data?.private_key),
      });
      expect(new X509Certificate(readFileSync(upstream.cert)).subject).toBeUndefined(); // no CN, no subject

      const startProxy = async (name: string, tls: ClientTls) => {
        const port = await freePort();
        const logFile = join(root, `${name}.log`);
        const proc = await spawnGuarded(
          etcdBinary('etcd'),
          [
            'grpc-proxy',
            'start',
            `--endpoints=${cluster!.endpoints[0]}`,
            `--listen-addr=127.0.0.1:${port}`,
            `--cert=${tls.cert}`,
            `--key=${tls.key}`,
            `--cacert=${tls.ca}`,
          ],
          { logFile, env: { PATH: process.env.PATH } },
        );
        proxies.push(proc);
        return { port, proc, log: () => readFileSync(logFile, 'utf8') };
      };
      const ctl = (port: number, args: string[]) =>
        runCommand(
          [etcdBinary('etcdctl'), `--endpoints=http://127.0.0.1:${port}`, '--dial-timeout=2s', ...args],
          { env: { PATH: process.env.PATH, ETCDCTL_API: '3' } },
        );

      const good = await startProxy('grpc-proxy', upstream);
      let read = await ctl(good.port, ['get', '/registry/', '--prefix']);
      for (let i = 0; i < 30 && read.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        read = await ctl(good.port, ['get', '/registry/', '--prefix']);
      }
      expect(read.stdout, `${read.stderr}\n${good.log()}`).toContain('s3cret');

      // The same proxy with a CN in its upstream certificate: etcd 3.4 refuses to run it.
      const withCn = await startProxy('grpc-proxy-with-cn', apiserver);
      await waitFor(() => !isRunning(withCn.proc.pid), 15_000, 'grpc-proxy with a CN to exit');
      expect(withCn.log()).toContain('cert has non empty Common Name (kube-apiserver-etcd-client)');
    }, 120_000);

    it("the shipped etcd-grpc-proxy.service, run with exactly its ExecStart and the template's endpoints on an agent-written set, serves reads and writes on 127.0.0.1", async () => {
      if (!cluster) throw new Error('the etcd of the first test did not start');
      // The agent, with a control-plane token, writes the set at the path the unit names (under `root`).
      const nodeRoot = join(root, 'control-plane');
      const tokenFile = join(nodeRoot, 'token');
      mkdirSync(nodeRoot, { recursive: true });
      writeFileSync(tokenFile, `${await tokenFor('c1', 'control-plane')}\n`, { mode: 0o600 });
      const configFile = join(nodeRoot, 'config.yaml');
      writeFileSync(
        configFile,
        [
          'cluster: c1',
          `vault: { address: ${vault.address}, tokenFile: ${tokenFile} }`,
          `stateDir: ${join(nodeRoot, 'state')}`,
          'node: { name: control-plane-1, ip: 10.0.0.20 }',
          'certificates:',
          '  etcd-grpc-proxy:',
          '    preset: etcd-grpc-proxy',
          `    files: { dir: ${join(nodeRoot, 'etc/kubernetes/pki/etcd-grpc-proxy')} }`,
          '',
        ].join('\n'),
      );
      const boot = await runAgent(['bootstrap', '--config', configFile]);
      expect(boot.code, boot.stderr).toBe(0);

      // The unit's ExecStart, word for word; its EnvironmentFile as the control-plane template writes it.
      const unitText = readFileSync(join(import.meta.dirname, '../../units/etcd-grpc-proxy.service'), 'utf8');
      const execStart = /^ExecStart=(.+)$/m.exec(unitText)?.[1] ?? '';
      const [userData] = renderUserData(
        'control-plane.yaml',
        sampleValues({ EtcdEndpoints: cluster.endpoints.join(',') }),
      );
      const envText =
        writeFilesOf(userData?.text ?? '').find((f) => f.path === '/etc/etcd-grpc-proxy/endpoints.env')
          ?.content ?? '';
      const endpoints = /^ETCD_GRPC_PROXY_ENDPOINTS=(.+)$/m.exec(envText)?.[1];
      expect(endpoints).toBe(cluster.endpoints.join(','));
      const [program, ...args] = execStart
        .split(/\s+/)
        .map((a) => a.replace(/\$\{ETCD_GRPC_PROXY_ENDPOINTS\}/, endpoints ?? ''))
        .map((a) => a.replace(/=\/etc\//, `=${nodeRoot}/etc/`));
      expect(program).toBe('/usr/bin/etcd');
      const listen = args.find((a) => a.startsWith('--listen-addr='))?.slice('--listen-addr='.length);
      expect(listen).toBe('127.0.0.1:23790');

      // In the member's network namespace: its own loopback, so the unit's fixed port is free there.
      const ns = network.namespaces[0] as string;
      const logFile = join(root, 'grpc-proxy-unit.log');
      const proc = await spawnGuarded('ip', ['netns', 'exec', ns, etcdBinary('etcd'), ...args], {
        logFile,
        env: { PATH: process.env.PATH },
      });
      proxies.push(proc);
      const ctl = (argv: string[]) =>
        network.exec(
          0,
          [etcdBinary('etcdctl'), `--endpoints=http://${listen}`, '--dial-timeout=2s', ...argv],
          {
            env: { PATH: process.env.PATH, ETCDCTL_API: '3' },
          },
        );
      let put = await ctl(['put', '/registry/through-the-proxy', 'v1']);
      for (let i = 0; i < 50 && put.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        put = await ctl(['put', '/registry/through-the-proxy', 'v1']);
      }
      expect(put.code, `${put.stderr}\n${readFileSync(logFile, 'utf8')}`).toBe(0);
      const read = await ctl(['get', '/registry/', '--prefix']);
      expect(read.stdout).toContain('through-the-proxy');
      expect(read.stdout).toContain('s3cret');
      // Written through the proxy, read straight from the member with the apiserver's client certificate.
      const direct = await cluster.etcdctl(['get', '/registry/through-the-proxy'], apiserver!);
      expect(direct.stdout).toContain('v1');
    }, 120_000);
  },
);
