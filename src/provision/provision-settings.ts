/**
 * What `provision` works from: the cluster, the flags, and an optional provision config file (YAML,
 * unknown keys are errors) that overrides names, TTLs and name constraints. Pure: text in, settings out.
 */

import { defaultMountNaming, listPresetRoles, NODE_TYPE_NAMES, type NodeType } from '../config/presets.js';
import type { MountNaming } from '../config/types.js';
import { isMountPath } from '../config/validate.js';
import { loadYaml, throwIssues } from '../config/yaml-source.js';
import { UsageError } from '../errors.js';
import { parseDurationSeconds } from '../util/duration.js';
import * as z from '../util/zod.js';
import { isCidr } from './cidr.js';

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

export const DEFAULT_SERVICE_CIDR = '10.96.0.0/12';
export const DEFAULT_ETCD_CLIENT_NAMES = ['kube-etcd-healthcheck-client'];
export const DEFAULT_OVERLAY_CLIENT_NAMES = ['flanneld'];

export const DEFAULT_ROLE_TUNING: Readonly<Record<string, RoleTuning>> = {
  // Humans: short lives (SPEC: admin/engineers, short max TTL).
  admin: { ttl: '1h', maxTtl: '24h' },
  engineer: { ttl: '1h', maxTtl: '12h' },
};
// max_ttl twice the default ttl: what a stolen node token can mint, unrecorded (no_store), lives at most 60 days.
export const NODE_ROLE_TUNING: RoleTuning = { ttl: '720h', maxTtl: '1440h' };
export const ROOT_CA_TTL = '87600h';
export const INTERMEDIATE_CA_TTL = '43800h';

const duration = z.string().check(
  z.refine((v) => (parseDurationSeconds(v) ?? 0) > 0, {
    error: 'must be a duration such as 720h',
  }),
);
const mount = z
  .string()
  .check(z.refine(isMountPath, { error: 'must be a mount path such as etcd/prod/pki' }));
const names = z.array(z.string().check(z.minLength(1))).check(z.minLength(1));
const clientNames = z
  .array(z.string().check(z.regex(/^[A-Za-z0-9:._-]+$/, { error: 'must be a plain name (no globs)' })))
  .check(z.minLength(1));
const cidr = z.string().check(z.refine(isCidr, { error: 'must be a CIDR such as 10.1.0.0/16' }));
const cidrs = z.array(cidr).check(z.minLength(1));
const perInstanceType = <T extends z.ZodMiniType>(value: T) =>
  z.strictObject({
    'etcd-member': z.optional(value),
    'control-plane': z.optional(value),
    worker: z.optional(value),
  });
const perNodeType = z.strictObject(
  Object.fromEntries(
    NODE_TYPE_NAMES.map((t) => [t, z.optional(z.string().check(z.regex(/^[A-Za-z0-9._-]+$/)))]),
  ),
);

const fileSchema = z
  .strictObject({
    mounts: z.optional(
      z.strictObject({
        etcd: z.optional(mount),
        kubernetes: z.optional(mount),
        frontProxy: z.optional(mount),
        etcdOverlay: z.optional(mount),
      }),
    ),
    parent: z.optional(mount),
    ca: z.optional(
      z.strictObject({
        ttl: z.optional(duration),
        keyType: z.optional(z.enum(['ec', 'rsa'])),
        keyBits: z.optional(z.number().check(z.int())),
        commonNames: z.optional(
          z.strictObject({
            etcd: z.optional(z.string().check(z.minLength(1))),
            kubernetes: z.optional(z.string().check(z.minLength(1))),
            frontProxy: z.optional(z.string().check(z.minLength(1))),
            etcdOverlay: z.optional(z.string().check(z.minLength(1))),
          }),
        ),
      }),
    ),
    urlBase: z.optional(z.url()),
    // A list applies to every node type (as before); a map sets each node type's own names.
    nodeNames: z.optional(z.union([names, perInstanceType(names)])),
    nodeAddresses: z.optional(perInstanceType(cidrs)),
    loadBalancers: z.optional(names),
    dnsDomain: z.optional(z.string().check(z.minLength(1))),
    serviceCidr: z.optional(cidr),
    etcdClientNames: z.optional(clientNames),
    overlayClientNames: z.optional(clientNames),
    // Keyed by the roles provision creates: a misspelt name would otherwise tune nothing, silently.
    roles: z.optional(
      z
        .record(
          z.string(),
          z.strictObject({
            ttl: z.optional(duration),
            maxTtl: z.optional(duration),
            organization: z.optional(z.array(z.string())),
          }),
        )
        .check(
          z.superRefine((roles, ctx) => {
            const known = [...new Set(listPresetRoles().map((r) => r.role))].sort();
            for (const name of Object.keys(roles)) {
              if (known.includes(name)) continue;
              ctx.addIssue({
                code: 'custom',
                path: [name],
                message: `unknown role "${name}" (roles: ${known.join(', ')})`,
                input: roles,
              });
            }
          }),
        ),
    ),
    policies: z.optional(perNodeType),
    tokenRoles: z.optional(perNodeType),
    tokenPeriod: z.optional(duration),
  })
  .check(
    z.superRefine((file, ctx) => {
      // A worker pattern that admits the apiserver's names (or a control-plane/etcd node's name) would hand
      // them to every worker token: refuse it here rather than write it into a role.
      const worker = Array.isArray(file.nodeNames) ? undefined : file.nodeNames?.worker;
      if (!worker) return;
      const domain = file.dnsDomain ?? 'cluster.local';
      const others = Array.isArray(file.nodeNames)
        ? []
        : [...(file.nodeNames?.['control-plane'] ?? []), ...(file.nodeNames?.['etcd-member'] ?? [])];
      const protectedNames = [
        ...APISERVER_NAMES.map((n) => n.replace('<domain>', domain)),
        ...(file.loadBalancers ?? []),
        ...others.filter((n) => !n.includes('*')),
      ];
      for (const [i, pattern] of worker.entries()) {
        const hit = protectedNames.find((name) => globMatches(pattern, name));
        if (hit === undefined) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['nodeNames', 'worker', i],
          message: `"${pattern}" admits "${hit}", a name no worker may hold`,
          input: file,
        });
      }
    }),
  );

/** Names only the apiserver holds (SPEC apiserver preset), which no worker pattern may admit. */
const APISERVER_NAMES = [
  'kube-apiserver',
  'kubernetes',
  'kubernetes.default',
  'kubernetes.default.svc',
  'kubernetes.default.svc.<domain>',
];

/** Vault's glob (ryanuber/go-glob): `*` matches any run of characters, dots included; case-sensitive. */
export function globMatches(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern.toLowerCase() === name.toLowerCase(); // bare names: without case
  let at = 0;
  for (const [i, part] of parts.entries()) {
    if (i === 0) {
      if (!name.startsWith(part)) return false;
      at = part.length;
      continue;
    }
    if (i === parts.length - 1) return name.length - part.length >= at && name.endsWith(part);
    const found = name.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return true;
}

export type ProvisionFile = z.output<typeof fileSchema>;

/** Parses the provision config file text; errors name the file, line and key. */
export function parseProvisionFile(text: string, source?: string): ProvisionFile {
  const yaml = loadYaml(text, source);
  if (yaml.value === null || yaml.value === undefined) return {};
  const parsed = fileSchema.safeParse(yaml.value);
  if (!parsed.success) {
    throwIssues(
      parsed.error.issues.map((i) => ({ path: i.path as (string | number)[], message: i.message })),
      yaml.locate,
      source,
    );
  }
  return parsed.data;
}

export interface ProvisionFlags {
  cluster: string;
  parent?: string;
  engineerAuthAccessor?: string;
}

/** `pki-<cluster>-<node-type>`: SPEC's name for both the ACL policy and the token role. */
export function defaultNodeTypeName(cluster: string, nodeType: NodeType): string {
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
