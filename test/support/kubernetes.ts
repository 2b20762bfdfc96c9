/**
 * A real Kubernetes control plane and worker on this machine, for the end-to-end test (issue 15): containerd
 * (its own config, root, state and socket), `etcd grpc-proxy`, kube-apiserver, kube-controller-manager,
 * kube-scheduler and a kubelet, each started under spawnGuarded with the files it is given: the harness
 * writes only containerd's config, the CNI conflist, the kubelet's config file and the pod image (a tarball
 * of the locally built `vpa-pause`, no registry is reachable); every certificate, key and kubeconfig comes
 * from the caller (the agent's output).
 *
 * Nothing outlives the test: the servers run under guards (guarded-process.ts), and a cleanup guard (a `sh`
 * whose stdin is a pipe from us, like netns.ts) runs `CLEANUP` once our process ends for any reason: it kills
 * the pods' processes (the kubelet's own cgroup root, `/vpa-k8s-<id>`) and containerd's shims (found by this
 * containerd's socket path in their argv), unmounts everything under the cluster's directories (rootfs
 * overlays, the pods' tmpfs volumes, network namespaces), removes the cgroups, the CNI bridge and the
 * directories. `stop()` does the same in order (pods deleted by their kubelet first when it still runs).
 *
 * Measured facts behind the settings (../shared/reference/kubernetes-and-systemd-in-tests.md):
 * `--endpoint-reconciler-type=none` for an apiserver on 127.0.0.1; `failCgroupV1: false` and cgroupfs on
 * this cgroup v1 host; containerd's `restrict_oom_score_adj` (oom_score_adj cannot be lowered here);
 * a bridge + host-local CNI network; the node's own interface address as its InternalIP.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type GuardedProcess, spawnGuarded } from './guarded-process.js';
import { type ExecResult, netnsUnavailableReason, runCommand } from './netns.js';
import { freePort, REPO_ROOT, RUN_DIR } from './openbao.js';

export const KUBERNETES_VERSION = 'v1.37.2';
const TOOLS_BIN = join(REPO_ROOT, '.cache', 'tools', 'bin');
export const CNI_BIN_DIR = '/usr/lib/cni';
/** The image names the tarball carries (one image, two names): the sandbox and the workload. */
export const PAUSE_IMAGE = 'vpa.test/pause:1';
export const WORKLOAD_IMAGE = 'vpa.test/vpa-pause:1';
/** The pods' network (host-local), out of the service range and of netns.ts's 10.213.x.0/24. */
const POD_SUBNET = '10.244.0.0/24';

export interface KubernetesTools {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubelet: string;
  vpaPause: string;
  kubectl: string;
  etcd: string;
  containerd: string;
  ctr: string;
  runc: string;
}

function onPath(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The binaries, or what is missing (and how to get it). */
export function kubernetesTools(): { tools?: KubernetesTools; missing: string[] } {
  const missing: string[] = [];
  const tool = (name: string) => {
    const p = join(TOOLS_BIN, name);
    if (existsSync(p)) return p;
    missing.push(`${name} (scripts/build-kubernetes, via scripts/install-test-tools)`);
    return '';
  };
  const system = (name: string, pkg: string) => {
    const p = onPath(name);
    if (p) return p;
    missing.push(`${name} (Debian ${pkg}, via scripts/install-test-tools as root)`);
    return '';
  };
  const tools: KubernetesTools = {
    kubeApiserver: tool('kube-apiserver'),
    kubeControllerManager: tool('kube-controller-manager'),
    kubeScheduler: tool('kube-scheduler'),
    kubelet: tool('kubelet'),
    vpaPause: tool('vpa-pause'),
    kubectl: tool('kubectl'),
    etcd: existsSync(join(TOOLS_BIN, 'etcd')) ? join(TOOLS_BIN, 'etcd') : system('etcd', 'etcd-server'),
    containerd: system('containerd', 'containerd'),
    ctr: system('ctr', 'containerd'),
    runc: system('runc', 'runc'),
  };
  for (const plugin of ['bridge', 'host-local', 'loopback']) {
    if (!existsSync(join(CNI_BIN_DIR, plugin)))
      missing.push(`${CNI_BIN_DIR}/${plugin} (Debian containernetworking-plugins)`);
  }
  return missing.length === 0 ? { tools, missing } : { missing };
}

/**
 * Why the cluster cannot run here, or undefined. The caller skips with this reason, except under CI
 * (`process.env.CI`), where a missing piece must fail the run: CI never silently skips the cluster.
 */
export function kubernetesUnavailableReason(): string | undefined {
  const net = netnsUnavailableReason();
  if (net) return net;
  if (!existsSync('/sys/fs/cgroup')) return 'no /sys/fs/cgroup';
  const { missing } = kubernetesTools();
  if (missing.length > 0) return `missing ${missing.join(', ')}`;
  if (nodeIp() === undefined) return 'no non-loopback IPv4 address for the node';
  return undefined;
}

/**
 * The machine's own address for the kubelet's InternalIP (which its serving certificate must carry):
 * the interface of the default route, else the first non-loopback IPv4 that is not a test bridge.
 */
export function nodeIp(): string | undefined {
  let dev: string | undefined;
  try {
    dev = /\bdev (\S+)/.exec(
      execFileSync('ip', ['-4', 'route', 'show', 'default'], { encoding: 'utf8' }),
    )?.[1];
  } catch {}
  const interfaces = networkInterfaces();
  const v4 = (name: string) => interfaces[name]?.find((a) => a.family === 'IPv4' && !a.internal)?.address;
  if (dev && v4(dev)) return v4(dev);
  for (const name of Object.keys(interfaces)) {
    if (/^(vpa|cni|veth|docker|br-)/.test(name)) continue;
    const a = v4(name);
    if (a) return a;
  }
  return undefined;
}

export function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

/** A component under its guard, with its log and a restart that waits for the old process to be gone. */
export interface Component {
  readonly name: string;
  readonly logFile: string;
  pid(): number;
  running(): boolean;
  log(): string;
  stop(): Promise<void>;
  /** Stops, then starts again with the same argv. */
  restart(): Promise<void>;
}

async function startComponent(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = { PATH: process.env.PATH },
): Promise<Component> {
  let proc: GuardedProcess = await spawnGuarded(command, args, { logFile, env });
  return {
    name,
    logFile,
    pid: () => proc.pid,
    running: () => processRunning(proc.pid),
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: () => proc.stop(),
    restart: async () => {
      await proc.stop();
      proc = await spawnGuarded(command, args, { logFile, env });
    },
  };
}

function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `check` (async) every `intervalMs` until it returns a value; throws with `describe()` after the timeout. */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${what}${
          lastError ? ` (last error: ${(lastError as Error).message})` : ''
        }${opts.describe ? `\n${opts.describe()}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

export function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// TLS helpers: requests with client certificates from files, and the serial a server presents.

export interface ClientFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface HttpsAnswer {
  status: number;
  body: string;
  /** Serial number (hex, upper case) of the certificate the server presented. */
  serverSerial: string;
}

/** One request on a new connection (so every call is a new TLS handshake). */
export function httpsCall(
  url: string,
  opts: {
    tls: { ca: string; cert?: string; key?: string };
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
  },
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: opts.method ?? 'GET',
        ca: readFileSync(opts.tls.ca),
        cert: opts.tls.cert ? readFileSync(opts.tls.cert) : undefined,
        key: opts.tls.key ? readFileSync(opts.tls.key) : undefined,
        agent: false,
        headers: { ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
        timeout: opts.timeoutMs ?? 5_000,
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serverSerial: serial }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 5_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** The serial (hex, upper case) the TLS server at host:port presents, verified against `ca`. */
export function presentedSerial(
  host: string,
  port: number,
  ca: string,
  servername?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, ca: readFileSync(ca), servername, timeout: 3_000 }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.on('timeout', () => socket.destroy(new Error('TLS handshake timeout')));
    socket.on('error', reject);
  });
}

export function serialOfPemFile(file: string): string {
  // X509Certificate.serialNumber is upper-case hex like TLSSocket's.
  return new X509Certificate(readFileSync(file)).serialNumber;
}

// ---------------------------------------------------------------------------------------------------------
// The pod image: `vpa-pause` alone in an OCI image layout, tarred (no registry is reachable).

/** Writes an OCI image tarball holding `binary` as /vpa-pause, named PAUSE_IMAGE and WORKLOAD_IMAGE. */
export function buildPauseImage(binary: string, dir: string): string {
  const oci = join(dir, 'oci');
  const layerDir = join(dir, 'layer');
  mkdirSync(join(oci, 'blobs', 'sha256'), { recursive: true });
  mkdirSync(layerDir, { recursive: true });
  copyFileSync(binary, join(layerDir, 'vpa-pause'));
  execFileSync('chmod', ['0755', join(layerDir, 'vpa-pause')]);
  const layerTar = join(dir, 'layer.tar');
  execFileSync('tar', [
    '--numeric-owner',
    '--owner=0',
    '--group=0',
    '--mtime=@0',
    '-C',
    layerDir,
    '-cf',
    layerTar,
    'vpa-pause',
  ]);
  const blob = (content: Buffer) => {
    const digest = createHash('sha256').update(content).digest('hex');
    writeFileSync(join(oci, 'blobs', 'sha256', digest), content);
    return { digest: `sha256:${digest}`, size: content.length };
  };
  const layer = blob(readFileSync(layerTar));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        config: { Entrypoint: ['/vpa-pause'], Env: ['PATH=/'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  const named = (name: string) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    ...manifest,
    annotations: {
      'io.containerd.image.name': name,
      'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1),
    },
  });
  writeFileSync(join(oci, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(oci, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [named(PAUSE_IMAGE), named(WORKLOAD_IMAGE)] }),
  );
  const image = join(dir, 'vpa-pause-image.tar');
  execFileSync('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', oci, '-cf', image, '.']);
  return image;
}

// ---------------------------------------------------------------------------------------------------------
// The node: directories, the cleanup guard, containerd.

/**
 * Kills and removes what containerd and the kubelet leave behind. Idempotent; parameters in the
 * environment: DIRS (space-separated), ADDR (containerd's socket), CG (the kubelet's cgroup root name),
 * BRIDGE (the CNI bridge).
 */
const CLEANUP = `
for f in $(find /sys/fs/cgroup/*/"$CG" -name cgroup.procs 2>/dev/null); do
  for p in $(cat "$f" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
done
for d in /proc/[0-9]*; do
  if tr '\\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "-address $ADDR "; then kill -9 "\${d#/proc/}" 2>/dev/null; fi
done
sleep 0.3
for dir in $DIRS; do
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
done
for c in /sys/fs/cgroup/*/"$CG"; do [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \\; 2>/dev/null; done
ip link del "$BRIDGE" 2>/dev/null
rm -rf $DIRS
true
`;

export interface NodeDirs {
  /** Long-lived files (agent trees, containerd's root, logs): under RUN_DIR. */
  base: string;
  /** Sockets, the kubelet's root dir and containerd's state: a short /tmp path (unix sockets: 108 bytes). */
  short: string;
  id: string;
  cgroupRoot: string;
  bridge: string;
  containerdSocket: string;
  /** Runs the cleanup now (idempotent), then lets the guard go. */
  cleanup(): void;
}

export function makeNodeDirs(): NodeDirs {
  mkdirSync(RUN_DIR, { recursive: true });
  const base = mkdtempSync(join(RUN_DIR, 'k8s-'));
  const short = mkdtempSync('/tmp/vpak-');
  const id = randomBytes(3).toString('hex');
  const cgroupRoot = `vpa-k8s-${id}`;
  const bridge = `vpacni${id}`.slice(0, 15);
  const containerdSocket = join(short, 'c.sock');
  const env = {
    PATH: process.env.PATH,
    DIRS: `${base} ${short}`,
    ADDR: containerdSocket,
    CG: cgroupRoot,
    BRIDGE: bridge,
  };
  // The guard: waits for our process to end (stdin closes), then cleans up. Not marked as a server.
  const guard = spawn('sh', ['-c', `cat >/dev/null; ${CLEANUP}`], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env,
    detached: true,
  });
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void }).unref?.();
  // The kubelet requires its cgroup root to exist in every hierarchy (cgroup v1: one per controller).
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', hierarchy);
    if (hierarchy === 'unified' || !statSync(dir).isDirectory()) continue;
    mkdirSync(join(dir, cgroupRoot), { recursive: true });
    if (hierarchy === 'cpuset' || hierarchy.split(',').includes('cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        writeFileSync(join(dir, cgroupRoot, f), readFileSync(join(dir, f)));
      }
    }
  }
  return {
    base,
    short,
    id,
    cgroupRoot,
    bridge,
    containerdSocket,
    cleanup: () => {
      execFileSync('sh', ['-c', CLEANUP], { env, stdio: 'pipe', timeout: 60_000 });
      guard.stdin?.end();
    },
  };
}

export interface Containerd extends Component {
  readonly socket: string;
  ctr(args: string[]): Promise<ExecResult>;
  /** Kills and deletes every task of the k8s.io namespace (pods the kubelet did not stop). */
  killTasks(): Promise<void>;
}

export async function startContainerd(dirs: NodeDirs, tools: KubernetesTools): Promise<Containerd> {
  const root = join(dirs.base, 'containerd');
  const state = join(dirs.short, 'cs');
  const cniConf = join(dirs.base, 'cni', 'net.d');
  mkdirSync(root, { recursive: true });
  mkdirSync(cniConf, { recursive: true });
  writeFileSync(
    join(cniConf, '10-vpa-bridge.conflist'),
    JSON.stringify(
      {
        cniVersion: '0.4.0',
        name: 'vpa-pods',
        plugins: [
          {
            type: 'bridge',
            bridge: dirs.bridge,
            isGateway: true,
            ipMasq: false,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet: POD_SUBNET }]],
              dataDir: join(dirs.base, 'cni', 'ipam'),
            },
          },
          { type: 'loopback' },
        ],
      },
      null,
      2,
    ),
  );
  const config = join(dirs.base, 'containerd.toml');
  writeFileSync(
    config,
    `version = 2
root = "${root}"
state = "${state}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "${dirs.containerdSocket}"
[ttrpc]
  address = "${dirs.containerdSocket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # oom_score_adj cannot be lowered here (no CAP_SYS_RESOURCE): runc fails without this.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${tools.runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${cniConf}"
`,
  );
  const component = await startComponent(
    'containerd',
    tools.containerd,
    ['--config', config, '--log-level', 'warn'],
    join(dirs.base, 'containerd.log'),
  );
  const ctr = (args: string[]) =>
    runCommand([tools.ctr, '--address', dirs.containerdSocket, '--namespace', 'k8s.io', ...args], {
      timeoutMs: 60_000,
    });
  await pollUntil(
    'containerd to answer',
    async () => ((await ctr(['version'])).code === 0 ? true : undefined),
    {
      timeoutMs: 20_000,
      describe: () => tail(component.log()),
    },
  );
  return {
    ...component,
    socket: dirs.containerdSocket,
    ctr,
    killTasks: async () => {
      const list = await ctr(['tasks', 'ls', '-q']);
      const ids = list.stdout.split('\n').filter(Boolean);
      await Promise.all(ids.map((id) => ctr(['tasks', 'delete', '--force', id])));
    },
  };
}

/** Builds the pod image and imports it into containerd's k8s.io namespace. */
export async function importPauseImage(containerd: Containerd, tools: KubernetesTools, dir: string) {
  const tarball = buildPauseImage(tools.vpaPause, dir);
  const imported = await containerd.ctr(['images', 'import', tarball]);
  if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr}${imported.stdout}`);
  const list = await containerd.ctr(['images', 'ls', '-q']);
  for (const name of [PAUSE_IMAGE, WORKLOAD_IMAGE]) {
    if (!list.stdout.split('\n').includes(name)) {
      throw new Error(`image ${name} not in containerd after the import: ${list.stdout}${list.stderr}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The control plane.

export async function startGrpcProxy(opts: {
  tools: KubernetesTools;
  endpoints: string[];
  /** The agent's etcd-grpc-proxy set (cert.pem, key.pem, ca.pem). */
  set: string;
  port: number;
  logFile: string;
}): Promise<Component> {
  return startComponent(
    'etcd-grpc-proxy',
    opts.tools.etcd,
    [
      'grpc-proxy',
      'start',
      `--endpoints=${opts.endpoints.join(',')}`,
      `--listen-addr=127.0.0.1:${opts.port}`,
      `--cert=${join(opts.set, 'cert.pem')}`,
      `--key=${join(opts.set, 'key.pem')}`,
      `--cacert=${join(opts.set, 'ca.pem')}`,
    ],
    opts.logFile,
  );
}

export interface ApiserverFiles {
  /** Sets (directories with cert.pem, key.pem, ca.pem) the agent wrote. */
  serving: string;
  kubeletClient: string;
  frontProxyClient: string;
  /** The signing key and the verification bundle. */
  saKey: string;
  saPub: string;
}

export interface Apiserver extends Component {
  readonly port: number;
  readonly url: string;
  /** The Kubernetes CA (the serving set's ca.pem): client CA, and what clients trust. */
  readonly ca: string;
  waitReady(timeoutMs?: number): Promise<number>;
}

export async function startApiserver(opts: {
  tools: KubernetesTools;
  dir: string;
  port: number;
  etcdUrl: string;
  files: ApiserverFiles;
}): Promise<Apiserver> {
  const { files } = opts;
  const ca = join(files.serving, 'ca.pem');
  const certDir = join(opts.dir, 'apiserver-cert-dir');
  mkdirSync(certDir, { recursive: true });
  const args = [
    '--bind-address=127.0.0.1',
    `--secure-port=${opts.port}`,
    '--advertise-address=127.0.0.1',
    // The default reconciler refuses 127.0.0.1 ("cannot use public IP 127.0.0.1").
    '--endpoint-reconciler-type=none',
    `--etcd-servers=${opts.etcdUrl}`,
    `--tls-cert-file=${join(files.serving, 'cert.pem')}`,
    `--tls-private-key-file=${join(files.serving, 'key.pem')}`,
    `--client-ca-file=${ca}`,
    `--kubelet-client-certificate=${join(files.kubeletClient, 'cert.pem')}`,
    `--kubelet-client-key=${join(files.kubeletClient, 'key.pem')}`,
    `--kubelet-certificate-authority=${ca}`,
    '--kubelet-preferred-address-types=InternalIP',
    `--proxy-client-cert-file=${join(files.frontProxyClient, 'cert.pem')}`,
    `--proxy-client-key-file=${join(files.frontProxyClient, 'key.pem')}`,
    `--requestheader-client-ca-file=${join(files.frontProxyClient, 'ca.pem')}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${files.saPub}`,
    `--service-account-signing-key-file=${files.saKey}`,
    '--service-cluster-ip-range=10.96.0.0/12',
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=false',
    '--profiling=false',
    // Without it, SIGTERM waits 60 s for the clients' open watch connections (http.Server.Shutdown's deadline).
    '--shutdown-watch-termination-grace-period=5s',
    `--cert-dir=${certDir}`,
    '--v=1',
  ];
  const component = await startComponent(
    'kube-apiserver',
    opts.tools.kubeApiserver,
    args,
    join(opts.dir, 'kube-apiserver.log'),
  );
  const url = `https://127.0.0.1:${opts.port}`;
  const waitReady = async (timeoutMs = 60_000) => {
    const started = Date.now();
    await pollUntil(
      'kube-apiserver /readyz',
      async () => {
        if (!component.running()) throw new Error('kube-apiserver exited');
        const res = await httpsCall(`${url}/readyz`, { tls: { ca }, timeoutMs: 2_000 });
        return res.status === 200 ? true : undefined;
      },
      { timeoutMs, intervalMs: 250, describe: () => tail(component.log(), 40) },
    );
    return Date.now() - started;
  };
  return { ...component, port: opts.port, url, ca, waitReady };
}

/** Waits until nothing listens on 127.0.0.1:port any more (a restarted apiserver must find it free). */
export async function waitPortFree(port: number, timeoutMs = 20_000): Promise<void> {
  const { createServer } = await import('node:net');
  await pollUntil(
    `port ${port} to be free`,
    () =>
      new Promise<true | undefined>((resolve) => {
        const srv = createServer();
        srv.once('error', () => resolve(undefined));
        srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
      }),
    { timeoutMs, intervalMs: 100 },
  );
}

export async function startControllerManager(opts: {
  tools: KubernetesTools;
  dir: string;
  kubeconfig: string;
  saKey: string;
  rootCa: string;
}): Promise<Component> {
  return startComponent(
    'kube-controller-manager',
    opts.tools.kubeControllerManager,
    [
      `--kubeconfig=${opts.kubeconfig}`,
      '--leader-elect=true',
      // No serving port (nothing here scrapes it; the leases tell whether it works).
      '--secure-port=0',
      `--service-account-private-key-file=${opts.saKey}`,
      `--root-ca-file=${opts.rootCa}`,
      '--use-service-account-credentials=true',
      '--allocate-node-cidrs=false',
      '--controllers=*',
      '--v=1',
    ],
    join(opts.dir, 'kube-controller-manager.log'),
  );
}

export async function startScheduler(opts: {
  tools: KubernetesTools;
  dir: string;
  kubeconfig: string;
}): Promise<Component> {
  return startComponent(
    'kube-scheduler',
    opts.tools.kubeScheduler,
    [`--kubeconfig=${opts.kubeconfig}`, '--leader-elect=true', '--secure-port=0', '--v=1'],
    join(opts.dir, 'kube-scheduler.log'),
  );
}

export interface Kubelet extends Component {
  readonly nodeName: string;
  readonly nodeIp: string;
  readonly port: number;
}

export async function startKubelet(opts: {
  tools: KubernetesTools;
  dirs: NodeDirs;
  nodeName: string;
  nodeIp: string;
  /** The agent-written kubelet kubeconfig (client certificate by path). */
  kubeconfig: string;
  /** The agent's kubelet-serving set. */
  servingSet: string;
  /** The CA that signs the apiserver's kubelet-client certificate. */
  clientCa: string;
}): Promise<Kubelet> {
  const port = await freePort();
  const healthzPort = await freePort();
  const root = join(opts.dirs.short, 'kubelet');
  mkdirSync(root, { recursive: true });
  const config = join(opts.dirs.base, 'kubelet-config.yaml');
  writeFileSync(
    config,
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 host (hybrid): allowed explicitly since 1.35
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${opts.dirs.cgroupRoot}
address: ${opts.nodeIp}
port: ${port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${healthzPort}
tlsCertFile: ${join(opts.servingSet, 'cert.pem')}
tlsPrivateKeyFile: ${join(opts.servingSet, 'key.pem')}
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true, cacheTTL: 10s }
  x509: { clientCAFile: ${opts.clientCa} }
authorization:
  mode: Webhook
  webhook: { cacheAuthorizedTTL: 10s, cacheUnauthorizedTTL: 5s }
containerRuntimeEndpoint: unix://${opts.dirs.containerdSocket}
imageServiceEndpoint: unix://${opts.dirs.containerdSocket}
podLogsDir: ${join(opts.dirs.base, 'pod-logs')}
failSwapOn: false
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
`,
  );
  const component = await startComponent(
    'kubelet',
    opts.tools.kubelet,
    [
      `--config=${config}`,
      `--kubeconfig=${opts.kubeconfig}`,
      `--root-dir=${root}`,
      `--cert-dir=${join(opts.dirs.base, 'kubelet-pki-unused')}`,
      `--hostname-override=${opts.nodeName}`,
      `--node-ip=${opts.nodeIp}`,
      '--v=1',
    ],
    join(opts.dirs.base, 'kubelet.log'),
  );
  return { ...component, nodeName: opts.nodeName, nodeIp: opts.nodeIp, port };
}

// ---------------------------------------------------------------------------------------------------------
// kubectl

export function kubectl(
  tools: KubernetesTools,
  kubeconfig: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 30_000,
): Promise<ExecResult> {
  return runCommand([tools.kubectl, `--kubeconfig=${kubeconfig}`, '--request-timeout=20s', ...args], {
    timeoutMs,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
}

// ---------------------------------------------------------------------------------------------------------
// A client loop against the apiserver while certificates rotate.

export interface LoopSample {
  /** ms since the loop started */
  at: number;
  ok: boolean;
  status?: number;
  serverSerial?: string;
  error?: string;
}

export interface RequestLoop {
  readonly startedAt: number;
  samples(): LoopSample[];
  /** Stops after the request in flight; returns every sample. */
  stop(): Promise<LoopSample[]>;
}

/**
 * GET `url` every `intervalMs` (each on a new connection, so each is a TLS handshake that sees whichever
 * serving certificate the server presents now), with a client certificate; a sample per request.
 */
export function startRequestLoop(url: string, tls: ClientFiles, intervalMs = 100): RequestLoop {
  const startedAt = Date.now();
  const samples: LoopSample[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const at = Date.now() - startedAt;
      try {
        const res = await httpsCall(url, { tls, timeoutMs: 5_000 });
        samples.push({ at, ok: res.status === 200, status: res.status, serverSerial: res.serverSerial });
      } catch (error) {
        samples.push({ at, ok: false, error: (error as Error).message });
      }
      const wait = startedAt + at + intervalMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    startedAt,
    samples: () => samples,
    stop: async () => {
      stopped = true;
      await done;
      return samples;
    },
  };
}
