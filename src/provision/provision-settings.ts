/**
 * What `provision` works from: the cluster, the flags, and an optional provision config file (YAML,
 * unknown keys are errors) that overrides names, TTLs and name constraints. Pure: text in, settings out.
 */

import { defaultMountNaming, NODE_TYPE_NAMES, type NodeType } from '../config/presets.js';
import type { MountNaming } from '../config/types.js';
import { isMountPath } from '../config/validate.js';
import { UsageError } from '../errors.js';
import type { ProvisionFile } from './provision-file.js';

export interface RoleTuning {
  /** Vault duration strings. */
  ttl: string;
  maxTtl: string;
  /** Subject O stamped by the role; only honoured for roles whose presets leave O open (engineer). */
  organization?: string[];
}

export interface ProvisionSettings {
  cluster: string;
  mounts: MountNaming;
  /** Parent PKI mount: each cluster CA becomes an intermediate signed by it instead of a root. */
  parent?: string;
  ca: {
    ttl: string;
    keyType: 'ec' | 'rsa';
    keyBits: number;
    commonNames: MountNaming;
  };
  /** Base URL written into issuing-certificate and CRL URLs (default: the Vault address used). */
  urlBase?: string;
  /**
   * Node names (globs or exact) each node type may claim: its kubelet identity (`system:node:<name>`) and
   * the names in its serving certificates. A node type without a list: etcd members and the control plane
   * get any valid host name; workers get `system:node:*` and no DNS names (a catch-all would reach the
   * apiserver's names). This is where per-instance identity (cloud instance attestation) would plug in.
   */
  nodeNames: Partial<Record<InstanceNodeType, string[]>>;
  /** IP ranges (CIDRs) of each node type's IP SANs; default for workers: everything but the service CIDR. */
  nodeAddresses: Partial<Record<InstanceNodeType, string[]>>;
  /** Load-balancer names put into etcd/apiserver SANs; only needed together with nodeNames. */
  loadBalancers?: string[];
  dnsDomain: string;
  /** The Kubernetes service CIDR: no worker certificate may carry an address in it (10.96.0.1 is the apiserver). */
  serviceCidr: string;
  /** CNs the `etcd-client` preset may take (Kubernetes etcd CA: etcd members and the control plane). */
  etcdClientNames: string[];
  /** CNs the `etcd-overlay-client` preset may take (the overlay network's etcd CA: workers). */
  overlayClientNames: string[];
  /** Per Vault role name (`member`, `kubelet`, `engineer`, ...). */
  roles: Record<string, Partial<RoleTuning>>;
  policies: Record<NodeType, string>;
  tokenRoles: Record<NodeType, string>;
  /** Period of node tokens minted through the token roles. */
  tokenPeriod: string;
  /** Accessor of the engineers' auth method, resolved from `--engineer-auth MOUNT`. */
  engineerAuthAccessor?: string;
}

/** Node types that run on instances (engineers log in instead). */
export type InstanceNodeType = Exclude<NodeType, 'engineer'>;
export const INSTANCE_NODE_TYPES: readonly InstanceNodeType[] = ['etcd-member', 'control-plane', 'worker'];

const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';
const DEFAULT_ETCD_CLIENT_NAMES = ['kube-etcd-healthcheck-client'];
const DEFAULT_OVERLAY_CLIENT_NAMES = ['flanneld'];

export const DEFAULT_ROLE_TUNING: Readonly<Record<string, RoleTuning>> = {
  // Humans: short lives (SPEC: admin/engineers, short max TTL).
  admin: { ttl: '1h', maxTtl: '24h' },
  engineer: { ttl: '1h', maxTtl: '12h' },
};
// max_ttl twice the default ttl: what a stolen node token can mint, unrecorded (no_store), lives at most 60 days.
export const NODE_ROLE_TUNING: RoleTuning = { ttl: '720h', maxTtl: '1440h' };
const ROOT_CA_TTL = '87600h';
const INTERMEDIATE_CA_TTL = '43800h';

export interface ProvisionFlags {
  cluster: string;
  parent?: string;
  engineerAuthAccessor?: string;
}

/** `pki-<cluster>-<node-type>`: SPEC's name for both the ACL policy and the token role. */
function defaultNodeTypeName(cluster: string, nodeType: NodeType): string {
  return `pki-${cluster}-${nodeType}`;
}

export function resolveProvisionSettings(flags: ProvisionFlags, file: ProvisionFile = {}): ProvisionSettings {
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(flags.cluster)) {
    throw new UsageError(`--cluster "${flags.cluster}" must be lower-case letters, digits and dashes`);
  }
  const c = flags.cluster;
  const parent = flags.parent ?? file.parent;
  if (parent !== undefined && !isMountPath(parent))
    throw new UsageError(`--parent "${parent}" is not a mount path`);
  const keyType = file.ca?.keyType ?? 'ec';
  const keyBits = file.ca?.keyBits ?? (keyType === 'ec' ? 256 : 2048);
  const named = (over: Record<string, string | undefined> | undefined) =>
    Object.fromEntries(NODE_TYPE_NAMES.map((t) => [t, over?.[t] ?? defaultNodeTypeName(c, t)])) as Record<
      NodeType,
      string
    >;
  return {
    cluster: c,
    mounts: { ...defaultMountNaming(c), ...stripUndefined(file.mounts ?? {}) },
    parent,
    ca: {
      ttl: file.ca?.ttl ?? (parent ? INTERMEDIATE_CA_TTL : ROOT_CA_TTL),
      keyType,
      keyBits,
      commonNames: {
        etcd: `etcd-ca-${c}`,
        kubernetes: `kubernetes-ca-${c}`,
        frontProxy: `front-proxy-ca-${c}`,
        etcdOverlay: `etcd-overlay-ca-${c}`,
        ...stripUndefined(file.ca?.commonNames ?? {}),
      },
    },
    urlBase: file.urlBase?.replace(/\/+$/, ''),
    nodeNames: Array.isArray(file.nodeNames)
      ? Object.fromEntries(INSTANCE_NODE_TYPES.map((t) => [t, file.nodeNames as string[]]))
      : { ...file.nodeNames },
    nodeAddresses: { ...file.nodeAddresses },
    loadBalancers: file.loadBalancers,
    dnsDomain: file.dnsDomain ?? 'cluster.local',
    serviceCidr: file.serviceCidr ?? DEFAULT_SERVICE_CIDR,
    etcdClientNames: file.etcdClientNames ?? DEFAULT_ETCD_CLIENT_NAMES,
    overlayClientNames: file.overlayClientNames ?? DEFAULT_OVERLAY_CLIENT_NAMES,
    roles: file.roles ?? {},
    policies: named(file.policies),
    tokenRoles: named(file.tokenRoles),
    tokenPeriod: file.tokenPeriod ?? '168h',
    engineerAuthAccessor: flags.engineerAuthAccessor,
  };
}

function stripUndefined<T extends Record<string, string | undefined>>(o: T): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Record<string, string>;
}
