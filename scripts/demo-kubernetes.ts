/**
 * `npm run demo -- --kubernetes`: the default demo's boot path carried to a real Kubernetes v1.37.2 control
 * plane on the agent's output alone (test/support/kubernetes-cluster.ts, the one the end-to-end test uses):
 * OpenBao → provision → token create → bootstrap of 3 etcd members, a control-plane node, a worker and an
 * operator's workstation → etcd in network namespaces → grpc-proxy → kube-apiserver → controller-manager,
 * scheduler, kubelet + containerd. Then an engineer logs in to OpenBao (userpass), `vault-pki-agent kubeconfig`
 * writes their kubeconfig (exec plugin: `vault-pki-agent kube-credential`), the admin lets the engineers'
 * group read nodes, and the engineer runs `kubectl get nodes`. Everything is stopped and removed at the end,
 * on an error and on Ctrl-C (and cannot outlive this process: every server runs under a guard).
 *
 * Needs root (network namespaces, containerd, cgroups) and builds Kubernetes first (scripts/build-kubernetes:
 * ~12 min on 2 cores the first time, cached in /var/cache/vault-pki-agent-tests afterwards).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  KUBERNETES_VERSION,
  kubectl,
  kubernetesUnavailableReason,
  pollUntil,
} from '../test/support/kubernetes.js';
import {
  adminKubectl,
  CLUSTER,
  type Cluster,
  ENGINEERS_GROUP,
  setUpEngineer,
  startCluster,
  WORKER,
} from '../test/support/kubernetes-cluster.js';
import { REPO_ROOT } from '../test/support/openbao.js';

const started = performance.now();
const step = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

if (process.getuid?.() !== 0) {
  console.error(
    'npm run demo -- --kubernetes needs root: etcd runs in network namespaces, the kubelet in its own cgroups with containerd.\nRun it as root, or run `npm run demo` for the demo without Kubernetes.',
  );
  process.exit(2);
}

step(
  `building Kubernetes ${KUBERNETES_VERSION} (scripts/build-kubernetes): first build ~12 min on 2 cores, cached afterwards`,
);
const buildStarted = performance.now();
const build = spawnSync('bash', ['scripts/build-kubernetes'], { cwd: REPO_ROOT, stdio: 'inherit' });
if (build.status !== 0) {
  console.error(`scripts/build-kubernetes exited ${build.status}`);
  process.exit(1);
}
const buildTime = seconds(buildStarted);
console.log(`Kubernetes binaries ready in ${buildTime} (scripts/build-kubernetes)`);
const unavailable = kubernetesUnavailableReason();
if (unavailable) {
  console.error(`cannot run the cluster here: ${unavailable}`);
  process.exit(2);
}

let stopCluster: (() => Promise<void>) | undefined;
let stopping: Promise<void> | undefined;
const stop = () => {
  stopping ??= (async () => {
    // The guards are unref'd: keep the event loop alive until everything is gone.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await stopCluster?.();
    } finally {
      clearInterval(keepAlive);
    }
  })();
  return stopping;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return; // a second Ctrl-C, or npm forwarding the same one
    console.log(`\n${signal}: stopping the cluster, etcd and OpenBao`);
    void stop().then(() => process.exit(130));
  });
}

try {
  const bringUpStarted = performance.now();
  const cluster: Cluster = await startCluster({
    step,
    onStop: (s) => {
      stopCluster = s;
    },
  });
  console.log(`cluster up in ${seconds(bringUpStarted)}: kube-apiserver ${cluster.apiserver.url}`);

  step(
    `waiting for the kubelet to register node ${WORKER} (its agent-issued system:node certificate) and go Ready`,
  );
  await pollUntil(
    `node ${WORKER} Ready`,
    async () => {
      const run = await kubectl(cluster.tools, cluster.admin, [
        'get',
        'node',
        WORKER,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      return run.code === 0 && run.stdout.trim() === 'True' ? true : undefined;
    },
    {
      timeoutMs: 90_000,
      intervalMs: 500,
      describe: () => cluster.kubelet.log().split('\n').slice(-15).join('\n'),
    },
  );

  step('engineer alice: OpenBao userpass login, then `vault-pki-agent kubeconfig` on her workstation');
  console.log(
    `$ vault-pki-agent kubeconfig --cluster ${CLUSTER} --server ${cluster.apiserver.url} --kubeconfig ~alice/.kube/config --use-context`,
  );
  const alice = await setUpEngineer(cluster, 'alice', 'alice-demo-password');
  const kubeconfig = readFileSync(alice.kubeconfig, 'utf8');
  const user = kubeconfig.slice(kubeconfig.indexOf('users:'));
  console.log(
    `~alice/.kube/config, its user (no key in the file: kubectl runs the exec plugin):\n${user.trimEnd()}`,
  );

  step(`the admin (agent-written admin.conf) lets the group ${ENGINEERS_GROUP} read nodes`);
  for (const args of [
    ['create', 'clusterrole', 'node-reader', '--verb=get,list', '--resource=nodes'],
    [
      'create',
      'clusterrolebinding',
      'engineers-read-nodes',
      '--clusterrole=node-reader',
      `--group=${ENGINEERS_GROUP}`,
    ],
  ]) {
    console.log(`$ kubectl --kubeconfig=admin.conf ${args.join(' ')}`);
    process.stdout.write(await adminKubectl(cluster, args));
  }

  for (const args of [
    ['auth', 'whoami'],
    ['get', 'nodes'],
  ]) {
    step(`alice: kubectl ${args.join(' ')}`);
    console.log(`$ kubectl ${args.join(' ')}`);
    const run = await kubectl(cluster.tools, alice.kubeconfig, args, alice.env);
    process.stdout.write(run.stdout);
    process.stderr.write(run.stderr);
    if (run.code !== 0) throw new Error(`kubectl ${args.join(' ')} as alice exited ${run.code}`);
  }

  step('stopping the kubelet, containerd, the control plane, etcd and OpenBao');
  await stop();
  step(`done in ${seconds(started)} (Kubernetes build: ${buildTime}); nothing left running`);
} finally {
  await stop();
}
