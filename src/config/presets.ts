/**
 * The certificate presets of SPEC "Presets": pure data plus the function that fills them in for
 * one node. `provision` derives mounts, roles and policies from the same table, so what it creates
 * and what `bootstrap` asks for cannot drift apart.
 * Over 300 lines because of the table (PRESETS, ~120 lines of data, one entry per preset of SPEC "Presets"): the
 * code around it is ~100 lines and reads best next to the data it fills in.
 */
import type { MountNaming, Usage } from './types.js';
import { normaliseIp } from './validate.js';

/**
 * Which CA (and so which PKI mount) a preset is issued from. `etcd` is the CA of the etcd that holds the
 * Kubernetes data: it issues only to etcd members and the control plane. `etcdOverlay` is the CA of a
 * separate etcd for the overlay network (flannel, calico): the only etcd CA a worker reaches, and one the
 * Kubernetes etcd does not trust (docs/OPERATORS.md "Two etcd CAs").
 */
export type CaName = 'etcd' | 'kubernetes' | 'frontProxy' | 'etcdOverlay';

export type PresetName =
  | 'etcd-server'
  | 'etcd-peer'
  | 'etcd-client'
  | 'apiserver-etcd-client'
  | 'etcd-grpc-proxy'
  | 'etcd-overlay-server'
  | 'etcd-overlay-peer'
  | 'etcd-overlay-client'
  | 'apiserver'
  | 'apiserver-kubelet-client'
  | 'controller-manager'
  | 'scheduler'
  | 'kubelet-serving'
  | 'kubelet-client'
  | 'admin'
  | 'front-proxy-client'
  | 'engineer';

export type NodeType = 'etcd-member' | 'control-plane' | 'worker' | 'engineer';

export interface PresetDefinition {
  ca: CaName;
  /** Vault role under the mount. Several presets can share one role (same O and usages). */
  role: string;
  /**
   * CN template with `<node>` placeholders; null when the config must give `commonName` (the role bounds it
   * to a list `provision` configures); '' for no CN at all.
   */
  commonName: string | null;
  /**
   * SAN templates in order: `<node>`, `<ip>`, `<lb>`, `<svc>`, `<domain>` or literals. Each entry is
   * sorted into a DNS or an IP SAN after filling in; entries that fill in empty are dropped.
   */
  sans: readonly string[];
  usages: readonly Usage[];
  /** Subject O the Vault role stamps (Vault takes O from the role, never from the request). */
  organization?: string;
}

export const PRESETS: Readonly<Record<PresetName, PresetDefinition>> = {
  'etcd-server': {
    ca: 'etcd',
    role: 'member',
    commonName: '<node>',
    sans: ['<node>', 'localhost', '<lb>', '<ip>', '127.0.0.1', '::1'],
    // clientAuth too: etcd's grpc-gateway dials the server with the server certificate.
    usages: ['server', 'client'],
  },
  'etcd-peer': {
    ca: 'etcd',
    role: 'member',
    commonName: '<node>',
    sans: ['<node>', 'localhost', '<ip>', '127.0.0.1', '::1'],
    usages: ['server', 'client'],
  },
  // Health checks (etcdctl) on members and the control plane; CNs bounded by provision's etcdClientNames.
  'etcd-client': { ca: 'etcd', role: 'client', commonName: null, sans: [], usages: ['client'] },
  'apiserver-etcd-client': {
    ca: 'etcd',
    role: 'apiserver-etcd-client',
    commonName: 'kube-apiserver-etcd-client',
    sans: [],
    usages: ['client'],
  },
  // `etcd grpc-proxy`'s upstream certificate: etcd 3.4 refuses one with a CN (etcd#9521).
  'etcd-grpc-proxy': { ca: 'etcd', role: 'grpc-proxy', commonName: '', sans: [], usages: ['client'] },
  'etcd-overlay-server': {
    ca: 'etcdOverlay',
    role: 'member',
    commonName: '<node>',
    sans: ['<node>', 'localhost', '<lb>', '<ip>', '127.0.0.1', '::1'],
    usages: ['server', 'client'],
  },
  'etcd-overlay-peer': {
    ca: 'etcdOverlay',
    role: 'member',
    commonName: '<node>',
    sans: ['<node>', 'localhost', '<ip>', '127.0.0.1', '::1'],
    usages: ['server', 'client'],
  },
  // The network plugin's client (e.g. flanneld); CNs bounded by provision's overlayClientNames.
  'etcd-overlay-client': {
    ca: 'etcdOverlay',
    role: 'client',
    commonName: null,
    sans: [],
    usages: ['client'],
  },
  apiserver: {
    ca: 'kubernetes',
    role: 'apiserver',
    commonName: 'kube-apiserver',
    sans: [
      '<node>',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.<domain>',
      '<lb>',
      '<svc>',
      '<ip>',
    ],
    usages: ['server'],
  },
  'apiserver-kubelet-client': {
    ca: 'kubernetes',
    role: 'kubelet-client-admin',
    commonName: 'kube-apiserver-kubelet-client',
    sans: [],
    usages: ['client'],
    organization: 'kubeadm:cluster-admins',
  },
  'controller-manager': {
    ca: 'kubernetes',
    role: 'component',
    commonName: 'system:kube-controller-manager',
    sans: [],
    usages: ['client'],
  },
  scheduler: {
    ca: 'kubernetes',
    role: 'component',
    commonName: 'system:kube-scheduler',
    sans: [],
    usages: ['client'],
  },
  'kubelet-serving': {
    ca: 'kubernetes',
    role: 'kubelet',
    commonName: 'system:node:<node>',
    sans: ['<node>', '<ip>'],
    usages: ['server'],
    organization: 'system:nodes',
  },
  'kubelet-client': {
    ca: 'kubernetes',
    role: 'kubelet-client',
    commonName: 'system:node:<node>',
    sans: [],
    usages: ['client'],
    organization: 'system:nodes',
  },
  admin: {
    ca: 'kubernetes',
    role: 'admin',
    commonName: null,
    sans: [],
    usages: ['client'],
    organization: 'kubeadm:cluster-admins',
  },
  'front-proxy-client': {
    ca: 'frontProxy',
    role: 'front-proxy-client',
    commonName: 'front-proxy-client',
    sans: [],
    usages: ['client'],
  },
  // kube-credential: Vault binds the CN to the engineer's login; O is whatever provision sets.
  engineer: { ca: 'kubernetes', role: 'engineer', commonName: null, sans: [], usages: ['client'] },
};

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function isPresetName(value: string): value is PresetName {
  return Object.hasOwn(PRESETS, value);
}

/** Presets each node type's policy and token may issue (SPEC "Presets", node types). */
export const NODE_TYPES: Readonly<Record<NodeType, readonly PresetName[]>> = {
  'etcd-member': ['etcd-server', 'etcd-peer', 'etcd-client', 'etcd-overlay-server', 'etcd-overlay-peer'],
  'control-plane': [
    'apiserver',
    'apiserver-etcd-client',
    'apiserver-kubelet-client',
    'controller-manager',
    'scheduler',
    'front-proxy-client',
    'etcd-client',
    'etcd-grpc-proxy',
  ],
  // Nothing from the Kubernetes etcd's CA: the network plugin's etcd client comes from the overlay CA.
  worker: ['kubelet-serving', 'kubelet-client', 'etcd-overlay-client'],
  engineer: ['engineer'],
};

export const NODE_TYPE_NAMES = Object.keys(NODE_TYPES) as NodeType[];

/** The default naming product/identifier/function (SPEC "Mount naming"). */
export function defaultMountNaming(cluster: string): MountNaming {
  return {
    etcd: `etcd/${cluster}/pki`,
    kubernetes: `k8s/${cluster}/pki`,
    frontProxy: `k8s-front-proxy/${cluster}/pki`,
    etcdOverlay: `etcd-overlay/${cluster}/pki`,
  };
}

/** The node-level values presets fill in. */
export interface PresetParams {
  /** `<node>` */
  node: string;
  /** `<ip>`: the node's primary address; undefined when the host has none. */
  ip?: string;
  /** `<lb>`: optional; empty or undefined is omitted. */
  loadBalancer?: string;
  /** `<svc>` */
  serviceIp: string;
  /** `<domain>` */
  dnsDomain: string;
  mounts: MountNaming;
}

export interface PresetResult {
  mount: string;
  role: string;
  /** Undefined when the preset's CN is "given" by the config. */
  commonName?: string;
  dnsSans: string[];
  ipSans: string[];
  usages: Usage[];
  /** Placeholders the preset needs but the params lack (e.g. `<ip>` on a host without an address). */
  missing: string[];
}

function fill(template: string, params: PresetParams, missing: string[]): string {
  return template.replace(/<(node|ip|lb|svc|domain)>/g, (_all, name: string) => {
    switch (name) {
      case 'node':
        return params.node;
      case 'ip':
        if (params.ip === undefined || params.ip === '') missing.push('<ip>');
        return params.ip ?? '';
      case 'lb':
        return params.loadBalancer ?? '';
      case 'svc':
        return params.serviceIp;
      default:
        return params.dnsDomain;
    }
  });
}

/** Sorts names into DNS and IP SANs, normalising IPs and dropping empties and duplicates. */
export function splitSans(names: readonly string[]): { dnsSans: string[]; ipSans: string[] } {
  const dnsSans: string[] = [];
  const ipSans: string[] = [];
  for (const name of names) {
    if (name === '') continue;
    const ip = normaliseIp(name);
    if (ip !== undefined) {
      if (!ipSans.includes(ip)) ipSans.push(ip);
    } else if (!dnsSans.includes(name)) {
      dnsSans.push(name);
    }
  }
  return { dnsSans, ipSans };
}

/** Fills in one preset for one node. */
export function expandPreset(name: PresetName, params: PresetParams): PresetResult {
  const preset = PRESETS[name];
  const missing: string[] = [];
  const commonName = preset.commonName === null ? undefined : fill(preset.commonName, params, missing);
  const sans = splitSans(preset.sans.map((template) => fill(template, params, missing)));
  return {
    mount: params.mounts[preset.ca],
    role: preset.role,
    ...(commonName === undefined ? {} : { commonName }),
    ...sans,
    usages: [...preset.usages],
    missing: [...new Set(missing)],
  };
}

export interface PresetRole {
  ca: CaName;
  role: string;
  usages: Usage[];
  organization?: string;
  presets: PresetName[];
}

/** One entry per distinct (CA, role) the presets use, for `provision`. */
export function listPresetRoles(names: readonly PresetName[] = PRESET_NAMES): PresetRole[] {
  const roles: PresetRole[] = [];
  for (const name of names) {
    const preset = PRESETS[name];
    const existing = roles.find((r) => r.ca === preset.ca && r.role === preset.role);
    if (existing) {
      existing.presets.push(name);
      continue;
    }
    roles.push({
      ca: preset.ca,
      role: preset.role,
      usages: [...preset.usages],
      ...(preset.organization === undefined ? {} : { organization: preset.organization }),
      presets: [name],
    });
  }
  return roles;
}
