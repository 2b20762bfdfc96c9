/**
 * A whole Kubernetes cluster on the agent's output alone, brought up and torn down in one call: shared by
 * test/kubernetes/cluster.test.ts and `npm run demo -- --kubernetes` (scripts/demo-kubernetes.ts).
 *
 * `provision` makes the cluster's PKI in a real OpenBao (engineers log in with userpass), `token create` the
 * node tokens, and `bootstrap` writes every certificate, key, kubeconfig and the service-account key pair:
 * three etcd members (real etcd in network namespaces) → `etcd grpc-proxy` on 127.0.0.1 → kube-apiserver →
 * controller-manager, scheduler, and a kubelet with containerd. The admin (an operator's workstation config,
 * admin preset) is cluster-admin once `bindClusterAdmins` bound its group.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AGENT_BIN, runAgent } from './agent.js';
import { type EtcdCluster, startEtcdCluster } from './etcd-cluster.js';
import {
  type Apiserver,
  type Component,
  type Containerd,
  httpsCall,
  importPauseImage,
  type Kubelet,
  type KubernetesTools,
  kubectl,
  kubernetesTools,
  nodeIp as machineIp,
  makeNodeDirs,
  type NodeDirs,
  startApiserver,
  startContainerd,
  startControllerManager,
  startGrpcProxy,
  startKubelet,
  startScheduler,
} from './kubernetes.js';
import { createTestNetwork, type TestNetwork } from './netns.js';
import { freePort, startOpenBao, type TestVault } from './openbao.js';
import { registerTestSecret } from './secret-scan.js';

export const CLUSTER = 'c1';
export const WORKER = 'worker-1';
/** The O of the engineer role's certificates (provision's `roles.engineer.organization`). */
export const ENGINEERS_GROUP = 'vpa:engineers';

export interface Cluster {
  vault: TestVault;
  tools: KubernetesTools;
  dirs: NodeDirs;
  network: TestNetwork;
  etcd: EtcdCluster;
  containerd: Containerd;
  proxy: Component;
  apiserver: Apiserver;
  controllerManager: Component;
  scheduler: Component;
  kubelet: Kubelet;
  nodeIp: string;
  /** Node roots (their /etc, /var/lib ... under the run dir). */
  roots: { etcd: string[]; controlPlane: string; worker: string; admin: string };
  configs: { controlPlane: string; worker: string };
  /** Writes the control-plane and worker configs again with extra per-certificate settings. */
  writeConfigs(extra?: Record<string, string>): void;
  /** The admin's kubeconfig (agent-written, cluster-admin). */
  admin: string;
  /** Milliseconds since the start at the end of each bring-up step. */
  timings: Record<string, number>;
  /** Stops everything and removes the cluster's files (idempotent). */
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** Called at the start of each bring-up step (the demo prints them). */
  step?: (text: string) => void;
  /**
   * Called at once with the teardown, which also works on a half-started cluster (an interrupted bring-up,
   * or the caller's afterAll). On a failed bring-up startCluster runs it itself before rethrowing.
   */
  onStop?: (stop: () => Promise<void>) => void;
}

/** Runs the agent; throws with its stderr on a non-zero exit. */
export async function agentOk(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await runAgent(args, { env });
  if (run.code !== 0) throw new Error(`vault-pki-agent ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

/** Brings the cluster up (~30-40 s). Needs root and every tool (kubernetesUnavailableReason() undefined). */
export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const step = opts.step ?? (() => {});
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (what: string) => {
    timings[what] = Date.now() - t0;
  };
  const tools = kubernetesTools().tools as KubernetesTools;
  const nodeIp = machineIp() as string;
  const dirs = makeNodeDirs();
  const partial: Partial<Cluster> = { tools, dirs, nodeIp, timings };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const x = partial;
      // The kubelet first (so that it starts nothing new), then every pod task, then the rest.
      await x.kubelet?.stop();
      await x.containerd?.killTasks().catch(() => {});
      await Promise.all([x.containerd?.stop(), x.scheduler?.stop(), x.controllerManager?.stop()]);
      await x.apiserver?.stop();
      await x.proxy?.stop();
      await x.etcd?.stop();
      await x.network?.destroy();
      await x.vault?.stop();
      x.dirs?.cleanup();
    })();
    return stopping;
  };
  partial.stop = stop;
  opts.onStop?.(stop);
  try {
    await bringUp(partial, step, mark);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return partial as Cluster;
}

async function bringUp(
  partial: Partial<Cluster>,
  step: (text: string) => void,
  mark: (what: string) => void,
): Promise<void> {
  const tools = partial.tools as KubernetesTools;
  const dirs = partial.dirs as NodeDirs;
  const nodeIp = partial.nodeIp as string;

  // OpenBao, the etcd network and containerd (with the pod image) in parallel.
  step('OpenBao dev server, 3 network namespaces for etcd, containerd (+ the pod image), in parallel');
  const [vault, network, containerd] = await Promise.all([
    startOpenBao({ name: 'kubernetes' }),
    createTestNetwork(3),
    startContainerd(dirs, tools).then(async (ctd) => {
      partial.containerd = ctd;
      await importPauseImage(ctd, tools, join(dirs.base, 'image'));
      return ctd;
    }),
  ]);
  Object.assign(partial, { vault, network, containerd });
  mark('openbao, netns, containerd + image');

  // provision: the cluster's PKI, policies, token roles, the service-account key; engineers log in with userpass.
  step(
    `provision --cluster ${CLUSTER} --engineer-auth userpass, then token create for etcd-member, control-plane, worker`,
  );
  await vault.api('POST', 'sys/auth/userpass', { type: 'userpass' });
  const provisionFile = join(dirs.base, 'provision.yaml');
  writeFileSync(
    provisionFile,
    [
      'nodeNames:',
      '  worker: ["worker-*"]',
      '  control-plane: ["control-plane-*"]',
      '  etcd-member: ["etcd-*"]',
      `roles: { engineer: { organization: [${JSON.stringify(ENGINEERS_GROUP)}] } }`,
      '',
    ].join('\n'),
  );
  const env = { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.rootToken };
  await agentOk(
    ['provision', '--cluster', CLUSTER, '--engineer-auth', 'userpass', '--provision-config', provisionFile],
    env,
  );
  const [etcdToken = '', cpToken = '', workerToken = ''] = await Promise.all(
    ['etcd-member', 'control-plane', 'worker'].map(async (nodeType) =>
      (await agentOk(['token', 'create', '--cluster', CLUSTER, '--node-type', nodeType], env)).trim(),
    ),
  );
  mark('provision + tokens');
  // The nodes' configs, as the CloudFormation templates write them (paths under each node's root).
  const apiserverPort = await freePort();
  const proxyPort = await freePort();
  const server = `https://127.0.0.1:${apiserverPort}`;
  const root = (name: string) => {
    const dir = join(dirs.base, 'nodes', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const tokenFile = (dir: string, token: string) => {
    const file = join(dir, 'token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return file;
  };
  const header = (dir: string, token: string, node: { name: string; ip: string }) =>
    [
      `cluster: ${CLUSTER}`,
      `vault: { address: ${vault.address}, tokenFile: ${token} }`,
      `stateDir: ${join(dir, 'var/lib/vault-pki-agent')}`,
      `node: { name: ${node.name}, ip: ${node.ip} }`,
      // Short lifetimes: the rotation test renews with renewAt 1% (due ~6 s after issue), nothing earlier.
      'defaults: { ttl: 1h }',
    ].join('\n');
  const cert = (name: string, preset: string, dir: string, extra = '') =>
    `  ${name}:\n    preset: ${preset}\n    files: { dir: ${dir} }\n${extra ? `    ${extra}\n` : ''}`;

  const etcdRoots = [0, 1, 2].map((i) => root(`etcd-${i + 1}`));
  const etcdConfigs = etcdRoots.map((dir, i) => {
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `${header(dir, tokenFile(dir, etcdToken), { name: `etcd-${i + 1}`, ip: network.ips[i] as string })}
certificates:
${cert('etcd-server', 'etcd-server', join(dir, 'etc/etcd/pki/server'))}${cert('etcd-peer', 'etcd-peer', join(dir, 'etc/etcd/pki/peer'))}${cert('etcd-healthcheck-client', 'etcd-client', join(dir, 'etc/etcd/pki/healthcheck-client'), 'commonName: kube-etcd-healthcheck-client')}`,
    );
    return file;
  });

  const cp = root('control-plane-1');
  const pki = (name: string) => join(cp, 'etc/kubernetes/pki', name);
  const worker = root(WORKER);
  const cpConfig = join(cp, 'config.yaml');
  const workerConfig = join(worker, 'config.yaml');
  const cpTokenFile = tokenFile(cp, cpToken);
  const workerTokenFile = tokenFile(worker, workerToken);
  const writeConfigs = (extra: Record<string, string> = {}) => {
    const x = (name: string) => extra[name] ?? '';
    writeFileSync(
      cpConfig,
      `${header(cp, cpTokenFile, { name: 'control-plane-1', ip: nodeIp })}
certificates:
${cert('apiserver', 'apiserver', pki('apiserver'), `ipSans: [127.0.0.1]${x('apiserver') ? `\n    ${x('apiserver')}` : ''}`)}${cert('apiserver-kubelet-client', 'apiserver-kubelet-client', pki('apiserver-kubelet-client'))}${cert('front-proxy-client', 'front-proxy-client', pki('front-proxy-client'))}${cert('controller-manager', 'controller-manager', pki('controller-manager'), x('controller-manager'))}${cert('scheduler', 'scheduler', pki('scheduler'))}${cert('etcd-grpc-proxy', 'etcd-grpc-proxy', pki('etcd-grpc-proxy'))}kubeconfigs:
  - { path: ${join(cp, 'etc/kubernetes/controller-manager.conf')}, certificate: controller-manager, server: "${server}" }
  - { path: ${join(cp, 'etc/kubernetes/scheduler.conf')}, certificate: scheduler, server: "${server}" }
serviceAccountKey:
  key: ${pki('sa.key')}
  publicKeys: ${pki('sa.pub')}
`,
    );
    writeFileSync(
      workerConfig,
      `${header(worker, workerTokenFile, { name: WORKER, ip: nodeIp })}
certificates:
${cert('kubelet-serving', 'kubelet-serving', join(worker, 'var/lib/kubelet/pki/serving'), x('kubelet-serving'))}${cert('kubelet-client', 'kubelet-client', join(worker, 'var/lib/kubelet/pki/client'), `mode: issue${x('kubelet-client') ? `\n    ${x('kubelet-client')}` : ''}`)}kubeconfigs:
  - { path: ${join(worker, 'etc/kubernetes/kubelet.conf')}, certificate: kubelet-client, server: "${server}" }
`,
    );
  };
  writeConfigs();
  // An operator's workstation: the admin preset (no node type's policy has it), the operator's own token.
  const adminRoot = root('operator');
  const adminConfig = join(adminRoot, 'config.yaml');
  writeFileSync(
    adminConfig,
    `cluster: ${CLUSTER}
vault: { address: ${vault.address} }
stateDir: ${join(adminRoot, 'state')}
certificates:
  admin:
    preset: admin
    commonName: vpa-admin
    ttl: 1h
    files: { dir: ${join(adminRoot, 'pki/admin')} }
kubeconfigs:
  - { path: ${join(adminRoot, 'admin.conf')}, certificate: admin, server: "${server}" }
`,
  );
  Object.assign(partial, {
    roots: { etcd: etcdRoots, controlPlane: cp, worker, admin: adminRoot },
    configs: { controlPlane: cpConfig, worker: workerConfig },
    writeConfigs,
    admin: join(adminRoot, 'admin.conf'),
  });

  step('bootstrap x6: 3 etcd members, control-plane-1, worker-1, and an operator workstation (admin)');
  await Promise.all([
    ...etcdConfigs.map((file) => agentOk(['bootstrap', '--config', file])),
    agentOk(['bootstrap', '--config', cpConfig]),
    agentOk(['bootstrap', '--config', workerConfig]),
    agentOk(['bootstrap', '--config', adminConfig], { VAULT_TOKEN: vault.rootToken }),
  ]);
  mark('bootstrap x6');

  step('etcd: 3 members in the namespaces on the agent-written sets, etcd grpc-proxy, kube-apiserver');
  // etcd: three members on the agent's server and peer sets.
  const etcd = await startEtcdCluster({
    network,
    names: ['etcd-1', 'etcd-2', 'etcd-3'],
    certs: etcdRoots.map((dir) => ({
      server: join(dir, 'etc/etcd/pki/server'),
      peer: join(dir, 'etc/etcd/pki/peer'),
    })),
  });
  partial.etcd = etcd;
  const proxy = await startGrpcProxy({
    tools,
    endpoints: etcd.endpoints,
    set: pki('etcd-grpc-proxy'),
    port: proxyPort,
    logFile: join(dirs.base, 'etcd-grpc-proxy.log'),
  });
  partial.proxy = proxy;
  const apiserver = await startApiserver({
    tools,
    dir: dirs.base,
    port: apiserverPort,
    etcdUrl: `http://127.0.0.1:${proxyPort}`,
    files: {
      serving: pki('apiserver'),
      kubeletClient: pki('apiserver-kubelet-client'),
      frontProxyClient: pki('front-proxy-client'),
      saKey: pki('sa.key'),
      saPub: pki('sa.pub'),
    },
  });
  partial.apiserver = apiserver;
  await etcd.waitHealthy(join(etcdRoots[0] as string, 'etc/etcd/pki/healthcheck-client'));
  mark('etcd healthy');
  await apiserver.waitReady(90_000);
  mark('kube-apiserver ready');

  step('controller-manager, scheduler, kubelet (containerd); the admin group bound to cluster-admin');
  // The rest of the control plane and the node, in parallel; RBAC for the admin group meanwhile.
  const [controllerManager, scheduler, kubelet] = await Promise.all([
    startControllerManager({
      tools,
      dir: dirs.base,
      kubeconfig: join(cp, 'etc/kubernetes/controller-manager.conf'),
      saKey: pki('sa.key'),
      rootCa: join(pki('controller-manager'), 'ca.pem'),
    }),
    startScheduler({ tools, dir: dirs.base, kubeconfig: join(cp, 'etc/kubernetes/scheduler.conf') }),
    startKubelet({
      tools,
      dirs,
      nodeName: WORKER,
      nodeIp,
      kubeconfig: join(worker, 'etc/kubernetes/kubelet.conf'),
      servingSet: join(worker, 'var/lib/kubelet/pki/serving'),
      clientCa: join(worker, 'var/lib/kubelet/pki/serving/ca.pem'),
    }),
    bindClusterAdmins(apiserver, pki('front-proxy-client')),
  ]);
  Object.assign(partial, { controllerManager, scheduler, kubelet });
  mark('controller-manager, scheduler, kubelet started');
}

/**
 * kubeadm creates the ClusterRoleBinding kubeadm:cluster-admins → cluster-admin with its super-admin.conf
 * (O=system:masters). The agent issues no system:masters identity (the admin preset's O is
 * kubeadm:cluster-admins), so the first binding is made the way an aggregated API server's front proxy
 * talks to kube-apiserver: the agent's front-proxy-client certificate (front-proxy CA, the request-header
 * CA) with X-Remote-User/X-Remote-Group. This also proves the request-header wiring.
 */
async function bindClusterAdmins(apiserver: Apiserver, frontProxySet: string): Promise<void> {
  const res = await httpsCall(`${apiserver.url}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings`, {
    tls: {
      ca: apiserver.ca,
      cert: join(frontProxySet, 'cert.pem'),
      key: join(frontProxySet, 'key.pem'),
    },
    method: 'POST',
    headers: { 'X-Remote-User': 'vpa-bootstrap', 'X-Remote-Group': 'system:masters' },
    body: JSON.stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kubeadm:cluster-admins' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'kubeadm:cluster-admins' }],
    }),
  });
  if (res.status !== 201) throw new Error(`creating kubeadm:cluster-admins: ${res.status} ${res.body}`);
}

export interface Engineer {
  /** Written by `vault-pki-agent kubeconfig`: its user runs `vault-pki-agent kube-credential`. */
  kubeconfig: string;
  /** kubectl's environment: the agent on PATH, the engineer's HOME and Vault token. */
  env: Record<string, string>;
}

/**
 * An engineer's workstation: a userpass user with the cluster's engineer policy logs in, and
 * `vault-pki-agent kubeconfig` writes a kubeconfig whose exec plugin is `kube-credential`. No RBAC: the
 * admin binds ENGINEERS_GROUP to what engineers may do.
 */
export async function setUpEngineer(cluster: Cluster, user: string, password: string): Promise<Engineer> {
  await cluster.vault.api('POST', `auth/userpass/users/${user}`, {
    password,
    token_policies: [`pki-${CLUSTER}-engineer`],
  });
  const login = await cluster.vault.api('POST', `auth/userpass/login/${user}`, { password });
  const token = String(login.body.auth?.client_token);
  registerTestSecret(token);
  const home = join(cluster.dirs.base, user);
  const bin = join(home, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(AGENT_BIN, join(bin, 'vault-pki-agent'));
  const kubeconfig = join(home, '.kube', 'config');
  const env = {
    PATH: `${bin}:${dirname(process.execPath)}:/usr/bin:/bin`,
    HOME: home,
    XDG_CACHE_HOME: join(home, 'cache'),
    VAULT_TOKEN: token,
  };
  await agentOk(
    [
      'kubeconfig',
      '--cluster',
      CLUSTER,
      '--server',
      cluster.apiserver.url,
      '--kubeconfig',
      kubeconfig,
      '--use-context',
    ],
    { VAULT_ADDR: cluster.vault.address, HOME: home },
  );
  return { kubeconfig, env };
}

/** kubectl as the admin; throws on a non-zero exit. */
export async function adminKubectl(cluster: Cluster, args: string[]): Promise<string> {
  const run = await kubectl(cluster.tools, cluster.admin, args);
  if (run.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${run.stderr}${run.stdout}`);
  return run.stdout;
}
