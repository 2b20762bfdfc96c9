/**
 * The resolved shapes the rest of the agent works with. `config/` turns YAML text into these
 * (validated, defaulted, presets applied, variables expanded); nothing downstream sees raw YAML.
 */

export type KeyType = 'ec' | 'rsa';

export interface KeySpec {
  type: KeyType;
  /** ec: 256 | 384; rsa: 2048 | 3072 | 4096 */
  bits: number;
}

export type Usage = 'server' | 'client';

export interface FileNames {
  cert: string;
  key: string;
  ca: string;
  fullchain: string;
}

export interface FilesSpec {
  /** Absolute directory that holds the set; readers use `<dir>/<name>` (symlinks into the current generation). */
  dir: string;
  owner?: string;
  group?: string;
  names: FileNames;
  /** Mode for cert.pem, ca.pem, fullchain.pem (key.pem is always 0600). */
  certMode: number;
  /** Mode for the directory and its generation directories. */
  dirMode: number;
}

/**
 * `start`: the component re-reads its files by itself (a file watch, e.g. kube-apiserver's serving certificate):
 * the agent only makes sure the unit runs, and never restarts it for a renewal.
 */
export type SystemdVerb = 'restart' | 'reload' | 'try-reload-or-restart' | 'start';

export type ActionSpec =
  | { kind: 'systemd'; unit: string; action: SystemdVerb; start: boolean }
  | { kind: 'exec'; argv: string[] };

export interface HealthCheckSpec {
  /** host:port for a TLS handshake verified with the new chain. */
  tls?: string;
  /** argv run without a shell; exit 0 = healthy. */
  command?: string[];
  timeoutMs: number;
}

export interface CertSpec {
  /** The key under `certificates:` in the config. */
  name: string;
  preset?: string;
  mount: string;
  role: string;
  mode: 'sign' | 'issue';
  commonName: string;
  /** DNS SANs requested (deduplicated, in order). */
  dnsSans: string[];
  /** IP SANs requested (normalised textual form). */
  ipSans: string[];
  /** Extended key usages the certificate must carry. */
  usages: Usage[];
  key: KeySpec;
  /** Requested lifetime in seconds. */
  ttlSeconds: number;
  /** Fraction of the lifetime after which the certificate is due for renewal (0 < x < 1). */
  renewAt: number;
  files: FilesSpec;
  actions: ActionSpec[];
  healthCheck?: HealthCheckSpec;
}

export interface VaultSettings {
  /** One address, or several to fail over across (SPEC: config `vault.address` may be a list). */
  address?: string | string[];
  caCert?: string;
  caPath?: string;
  namespace?: string;
  tokenFile?: string;
  wrappedToken: boolean;
  /** Per-request timeout in ms. */
  requestTimeoutMs?: number;
}

/**
 * PKI mount path per CA (default `etcd/<c>/pki`, `k8s/<c>/pki`, `k8s-front-proxy/<c>/pki`,
 * `etcd-overlay/<c>/pki`).
 */
export interface MountNaming {
  etcd: string;
  kubernetes: string;
  frontProxy: string;
  etcdOverlay: string;
}

/** The node-level values presets fill in (SPEC "Presets": `<node>`, `<ip>`, `<lb>`, `<svc>`, `<domain>`). */
export interface NodeParams {
  name: string;
  /** Primary address; undefined when the host has none and the config sets none. */
  ip?: string;
  /** Optional load balancer name or address; omitted from SANs when empty. */
  loadBalancer?: string;
  serviceIp: string;
  dnsDomain: string;
}

/**
 * A component's kubeconfig (as kubeadm writes them): the cluster's CA, client certificate and key are
 * the set's files by path, so a renewal changes nothing in it.
 */
export interface KubeconfigSpec {
  path: string;
  /** The certificate (name under `certificates:`) whose set the file points at. */
  certificate: string;
  server: string;
  owner?: string;
  group?: string;
}

/** The service-account key pair the control-plane nodes share, read from a KV v2 secret (`mount`). */
export interface ServiceAccountKeySpec {
  /** The signing key (PEM, 0600). */
  key: string;
  /** The verification bundle: the current public key and the previous ones still accepted (0600). */
  publicKeys: string;
  owner?: string;
  group?: string;
  /** KV v2 mount (default `k8s/<cluster>/kv`). */
  mount: string;
}

export interface AgentConfig {
  cluster: string;
  vault: VaultSettings;
  certificates: CertSpec[];
  /** Kubeconfig files written after each pass (none when unset). */
  kubeconfigs?: KubeconfigSpec[];
  /** Written by bootstrap after each pass (control-plane nodes). */
  serviceAccountKey?: ServiceAccountKeySpec;
  metrics?: { textfile: string };
  /** Where the agent keeps its own state (last results, schedule). */
  stateDir: string;
  /** Resolved mount naming (always set by parseConfig; `provision` uses it). */
  mounts?: MountNaming;
  /** Resolved node parameters (always set by parseConfig). */
  node?: NodeParams;
}
