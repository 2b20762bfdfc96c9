/**
 * The Vault state a cluster needs, computed purely from the certificate presets (SPEC "Presets") and
 * the provision settings: mounts, CAs, URLs, one role per identity class with the tightest name
 * constraints that still issue every preset of that role, one ACL policy and one token role per node type.
 */
import {
  type CaName,
  listPresetRoles,
  NODE_TYPE_NAMES,
  NODE_TYPES,
  type NodeType,
  PRESETS,
  type PresetName,
} from '../config/presets.js';
import { isIpAddress } from '../config/validate.js';
import { parseDurationSeconds } from '../util/duration.js';
import { complementCidrs } from './cidr.js';
import {
  DEFAULT_ROLE_TUNING,
  INSTANCE_NODE_TYPES,
  NODE_ROLE_TUNING,
  type ProvisionSettings,
  type RoleTuning,
} from './provision-settings.js';
import { secretReads } from './service-account-key.js';

export type FieldValue = string | number | boolean | string[];

export type DesiredResource =
  | { kind: 'mount'; id: string; path: string; description: string; fields: Record<string, FieldValue> }
  | {
      kind: 'ca';
      id: string;
      mount: string;
      ca: CaName;
      commonName: string;
      ttlSeconds: number;
      keyType: 'ec' | 'rsa';
      keyBits: number;
      /** Intermediate signed by this mount; root CA when absent. */
      parent?: string;
      fields: Record<string, FieldValue>;
    }
  | { kind: 'urls'; id: string; mount: string; fields: Record<string, FieldValue> }
  | { kind: 'auto-tidy'; id: string; mount: string; fields: Record<string, FieldValue> }
  | {
      kind: 'role';
      id: string;
      mount: string;
      name: string;
      presets: PresetName[];
      fields: Record<string, FieldValue>;
    }
  | { kind: 'policy'; id: string; name: string; nodeType: NodeType; fields: Record<string, FieldValue> }
  | { kind: 'token-role'; id: string; name: string; nodeType: NodeType; fields: Record<string, FieldValue> };

export interface DesiredState {
  resources: DesiredResource[];
  /** Per node type, the names its policy lets it obtain (plan text: what a stolen token is worth). */
  reach: string[];
  /** Things the operator should know about what is left out (e.g. no engineer role without --engineer-auth). */
  notes: string[];
}

/**
 * Auto-tidy on every mount: what was stored before roles stopped storing (and revocation entries) is removed
 * once expired past the safety buffer, every 12 hours, so a mount upgraded from stored roles shrinks too.
 */
const AUTO_TIDY: Record<string, FieldValue> = {
  enabled: true,
  interval_duration: 12 * 3600,
  tidy_cert_store: true,
  tidy_revoked_certs: true,
  tidy_revoked_cert_issuer_associations: true,
  safety_buffer: 72 * 3600,
};

const CA_NAMES: readonly CaName[] = ['etcd', 'kubernetes', 'frontProxy', 'etcdOverlay'];
const CA_DESCRIPTIONS: Record<CaName, string> = {
  etcd: 'etcd CA (the Kubernetes data: etcd members and the control plane only)',
  kubernetes: 'Kubernetes CA',
  frontProxy: 'Kubernetes front-proxy (aggregation layer) CA',
  etcdOverlay: 'overlay network etcd CA (not trusted by the Kubernetes etcd)',
};
/** Node types that run on instances and get tokens from a token role (engineers log in instead). */
export const TOKEN_NODE_TYPES: readonly NodeType[] = INSTANCE_NODE_TYPES;

function seconds(value: string): number {
  const s = parseDurationSeconds(value);
  if (s === undefined) throw new Error(`not a duration: ${value}`);
  return s;
}

const HOSTNAME_LIKE = /^[A-Za-z0-9*.-]+$/;

/** The node types whose policies reach a role (from the presets each node type issues). */
export function roleOwners(ca: CaName, role: string): NodeType[] {
  return NODE_TYPE_NAMES.filter((t) =>
    NODE_TYPES[t].some((p) => PRESETS[p].ca === ca && PRESETS[p].role === role),
  );
}

/**
 * The names the owners of a role may claim as `<node>`: the union of their `nodeNames`, or undefined when
 * any owner has none (open). The seam for per-instance identity: a templated name (an auth method's
 * instance id, `{{identity.entity.aliases.<accessor>.metadata.instance_id}}`) would be returned here.
 */
function nodeNamesOf(owners: readonly NodeType[], settings: Pick<ProvisionSettings, 'nodeNames'>) {
  const names: string[] = [];
  for (const t of owners) {
    if (t === 'engineer') continue;
    const own = settings.nodeNames[t];
    if (own === undefined) return undefined;
    for (const n of own) if (!names.includes(n)) names.push(n);
  }
  return names;
}

/** `allowed_ip_sans_cidr` of a role with IP SANs: the owners' ranges; workers default to "not the service CIDR". */
function ipBounds(
  owners: readonly NodeType[],
  settings: Pick<ProvisionSettings, 'nodeAddresses' | 'serviceCidr'>,
  serviceIp: boolean,
): string[] {
  const ranges: string[] = [];
  for (const t of owners) {
    if (t === 'engineer') continue;
    const own =
      settings.nodeAddresses[t] ?? (t === 'worker' ? complementCidrs(settings.serviceCidr) : undefined);
    if (own === undefined) return []; // open: any address
    for (const r of own) if (!ranges.includes(r)) ranges.push(r);
  }
  // The apiserver's certificate carries the first service IP.
  if (serviceIp && ranges.length > 0 && !ranges.includes(settings.serviceCidr))
    ranges.push(settings.serviceCidr);
  return ranges;
}

type NameSettings = Pick<
  ProvisionSettings,
  | 'nodeNames'
  | 'nodeAddresses'
  | 'loadBalancers'
  | 'dnsDomain'
  | 'serviceCidr'
  | 'etcdClientNames'
  | 'overlayClientNames'
>;

/**
 * Name constraints that admit exactly the names the role's presets produce, for the node types that own
 * the role: fixed CNs and literal SANs as bare names, `system:node:<node>` as globs over the owners' node
 * names, given CNs bounded by the provision lists, IP SANs bounded by the owners' ranges. Vault checks
 * the CN and the DNS SANs against one list and compares bare names without case (globs with case).
 */
export function nameConstraints(
  presets: readonly PresetName[],
  settings: NameSettings,
  owners: readonly NodeType[] = [],
): Record<string, FieldValue> {
  const names = new Set<string>();
  let anyName = false;
  let nodeName = false;
  let kubeletName = false;
  let ipSans = false;
  let serviceIp = false;
  let localhost = false;
  let requireCn = true;
  for (const p of presets) {
    const preset = PRESETS[p];
    const cn = preset.commonName;
    if (cn === null) {
      // Given CNs: bounded by the provision file's list for the etcd CAs, open for admin (no node reaches it).
      if (preset.ca === 'etcd') for (const n of settings.etcdClientNames) names.add(n);
      else if (preset.ca === 'etcdOverlay') for (const n of settings.overlayClientNames) names.add(n);
      else anyName = true;
    } else if (cn === '') requireCn = false;
    else if (cn === '<node>') nodeName = true;
    else if (cn.includes('<node>')) kubeletName = true;
    else names.add(cn);
    for (const san of preset.sans) {
      if (san === '<node>') nodeName = true;
      else if (san === '<lb>') for (const lb of settings.loadBalancers ?? []) names.add(lb);
      else if (san === '<svc>') {
        ipSans = true;
        serviceIp = true;
      } else if (san === '<ip>' || isIpAddress(san)) ipSans = true;
      else if (san === 'localhost') localhost = true;
      else names.add(san.replace('<domain>', settings.dnsDomain));
    }
  }
  const nodeNames = nodeName || kubeletName ? nodeNamesOf(owners, settings) : [];
  if (kubeletName) {
    // system:node:<name> for each of the owners' node names; any name when they have none.
    for (const n of nodeNames ?? ['*']) names.add(`system:node:${n}`);
  }
  if (nodeName && nodeNames) for (const n of nodeNames) names.add(n);
  const list = [...names].sort();
  const hostnames = list.every((n) => HOSTNAME_LIKE.test(n));
  const ipRanges = ipSans ? ipBounds(owners, settings, serviceIp) : [];
  const fields: Record<string, FieldValue> = {
    allow_any_name: false,
    allowed_domains: list,
    allowed_domains_template: false,
    allow_bare_domains: list.some((n) => !n.includes('*')),
    allow_subdomains: false,
    allow_glob_domains: list.some((n) => n.includes('*')),
    allow_wildcard_certificates: false,
    enforce_hostnames: hostnames,
    allow_localhost: localhost,
    allow_ip_sans: ipSans,
    allowed_ip_sans_cidr: ipRanges,
    require_cn: requireCn,
  };
  // Any valid host name: etcd members and the apiserver without node names (roles no worker reaches),
  // or any name at all for given CNs that no provision list bounds (admin).
  if (anyName || (nodeName && nodeNames === undefined && !kubeletName && hostnames)) {
    return {
      ...fields,
      allow_any_name: true,
      allowed_domains: [],
      allow_bare_domains: false,
      allow_glob_domains: false,
    };
  }
  // A kubelet serving role whose owners have no node names gets no DNS names at all: a catch-all glob
  // would also admit the apiserver's names (kubernetes.default.svc, the load balancer).
  return fields;
}

function tuning(role: string, settings: ProvisionSettings): RoleTuning {
  const base = DEFAULT_ROLE_TUNING[role] ?? NODE_ROLE_TUNING;
  return { ...base, ...settings.roles[role] };
}

function roleFields(
  usages: readonly string[],
  organization: string[],
  names: Record<string, FieldValue>,
  t: RoleTuning,
): Record<string, FieldValue> {
  return {
    ...names,
    server_flag: usages.includes('server'),
    client_flag: usages.includes('client'),
    organization,
    ou: [],
    // Sign-first: the key comes from the CSR; `issue` callers pass key_type (the agent does).
    key_type: 'any',
    key_bits: 0,
    key_usage: ['DigitalSignature', 'KeyEncipherment'],
    ext_key_usage: [],
    allowed_uri_sans: [],
    allowed_other_sans: [],
    use_csr_common_name: true,
    use_csr_sans: true,
    // Nothing is stored per issue, so Vault's storage stays flat however often a fleet renews (bench/fleet.ts);
    // revocation works by PEM (revoke-with-key), which needs no stored copy.
    generate_lease: false,
    no_store: true,
    ttl: seconds(t.ttl),
    max_ttl: seconds(t.maxTtl),
  };
}

/** One `path` block per granted path, plus the token's own lifecycle (the default policy is left off). */
export function policyHcl(
  cluster: string,
  nodeType: NodeType,
  grants: readonly string[],
  reads: readonly string[] = [],
): string {
  const lines = [
    `# vault-pki-agent provision: node type ${nodeType} of cluster ${cluster}. Managed: edits are reverted.`,
  ];
  for (const path of grants) lines.push(`path "${path}" {`, '  capabilities = ["update"]', '}');
  for (const path of reads) lines.push(`path "${path}" {`, '  capabilities = ["read"]', '}');
  lines.push(
    'path "auth/token/lookup-self" {',
    '  capabilities = ["read"]',
    '}',
    'path "auth/token/renew-self" {',
    '  capabilities = ["update"]',
    '}',
    'path "auth/token/revoke-self" {',
    '  capabilities = ["update"]',
    '}',
  );
  return `${lines.join('\n')}\n`;
}

export function computeDesiredState(settings: ProvisionSettings, vaultAddress: string): DesiredState {
  const resources: DesiredResource[] = [];
  const notes: string[] = [];
  const urlBase = (settings.urlBase ?? vaultAddress).replace(/\/+$/, '');
  const caTtl = seconds(settings.ca.ttl);

  for (const ca of CA_NAMES) {
    const mount = settings.mounts[ca];
    resources.push({
      kind: 'mount',
      id: `mount ${mount}`,
      path: mount,
      description: `${CA_DESCRIPTIONS[ca]} of cluster ${settings.cluster} (vault-pki-agent)`,
      // The mount's max lease TTL caps the CA itself and every certificate (system default: 32 days).
      fields: { type: 'pki', max_lease_ttl: caTtl },
    });
    resources.push({
      kind: 'ca',
      id: `ca ${mount}`,
      mount,
      ca,
      commonName: settings.ca.commonNames[ca],
      ttlSeconds: caTtl,
      keyType: settings.ca.keyType,
      keyBits: settings.ca.keyBits,
      ...(settings.parent ? { parent: settings.parent } : {}),
      fields: { present: true },
    });
    resources.push({
      kind: 'urls',
      id: `urls ${mount}`,
      mount,
      fields: {
        issuing_certificates: [`${urlBase}/v1/${mount}/ca`],
        crl_distribution_points: [`${urlBase}/v1/${mount}/crl`],
      },
    });
    resources.push({ kind: 'auto-tidy', id: `auto-tidy ${mount}`, mount, fields: AUTO_TIDY });
  }

  const engineerEnabled = settings.engineerAuthAccessor !== undefined;
  if (!engineerEnabled) {
    notes.push(
      'engineer role and policy left out: give --engineer-auth MOUNT so that Vault binds the CN to the login name',
    );
  }
  for (const role of listPresetRoles()) {
    const mount = settings.mounts[role.ca];
    const t = tuning(role.role, settings);
    let fields: Record<string, FieldValue>;
    if (role.role === 'engineer') {
      if (!engineerEnabled) continue;
      fields = roleFields(
        role.usages,
        t.organization ?? [],
        {
          ...nameConstraints([], settings),
          require_cn: true,
          // Identity templating: the only CN allowed is the caller's alias name on the engineers' auth method.
          allowed_domains: [`{{identity.entity.aliases.${settings.engineerAuthAccessor}.name}}`],
          allowed_domains_template: true,
          allow_bare_domains: true,
          enforce_hostnames: false,
        },
        t,
      );
    } else {
      fields = roleFields(
        role.usages,
        role.organization ? [role.organization] : [],
        nameConstraints(role.presets, settings, roleOwners(role.ca, role.role)),
        t,
      );
    }
    resources.push({
      kind: 'role',
      id: `role ${mount}/roles/${role.role}`,
      mount,
      name: role.role,
      presets: role.presets,
      fields,
    });
  }

  for (const nodeType of NODE_TYPE_NAMES) {
    if (nodeType === 'engineer' && !engineerEnabled) continue;
    const grants: string[] = [];
    for (const preset of NODE_TYPES[nodeType]) {
      const p = PRESETS[preset];
      const mount = settings.mounts[p.ca];
      // revoke-with-key (decommission): a node revokes what it holds the key of, never another node's certificate.
      for (const path of [
        `${mount}/sign/${p.role}`,
        `${mount}/issue/${p.role}`,
        `${mount}/revoke-with-key`,
      ]) {
        if (!grants.includes(path)) grants.push(path);
      }
    }
    const name = settings.policies[nodeType];
    resources.push({
      kind: 'policy',
      id: `policy ${name}`,
      name,
      nodeType,
      fields: {
        policy: policyHcl(settings.cluster, nodeType, grants, secretReads(settings.cluster, nodeType)),
      },
    });
  }

  for (const nodeType of TOKEN_NODE_TYPES) {
    const name = settings.tokenRoles[nodeType];
    resources.push({
      kind: 'token-role',
      id: `token-role ${name}`,
      name,
      nodeType,
      fields: {
        // Exactly one policy, no default policy: the node token can do nothing else.
        allowed_policies: [settings.policies[nodeType]],
        disallowed_policies: [],
        orphan: true,
        renewable: true,
        token_period: seconds(settings.tokenPeriod),
        token_explicit_max_ttl: 0,
        token_no_default_policy: true,
        token_type: 'service',
        path_suffix: '',
      },
    });
  }
  if (settings.nodeNames.worker === undefined) {
    notes.push(
      "nodeNames.worker is not set: a worker token may claim any node's kubelet identity (system:node:*) and its kubelet " +
        'serving certificates carry no DNS names; set nodeNames per node type in the provision file',
    );
  }
  if (settings.nodeNames['control-plane'] !== undefined && settings.loadBalancers === undefined) {
    notes.push(
      'nodeNames.control-plane is set but loadBalancers is not: an apiserver certificate naming the load balancer will be refused',
    );
  }
  return { resources, reach: describeReach(resources, settings), notes };
}

/** What one role lets its caller put into a certificate, from the role's own fields. */
export function describeRole(fields: Record<string, FieldValue>, serviceCidr: string): string {
  const parts: string[] = [];
  const domains = (fields.allowed_domains as string[]) ?? [];
  if (fields.allowed_domains_template) parts.push("CN = the caller's login name");
  else if (fields.allow_any_name) parts.push(fields.enforce_hostnames ? 'any host name' : 'any name');
  else if (domains.length > 0) parts.push(domains.join(', '));
  if (fields.require_cn === false) parts.push('no CN');
  if (fields.allow_localhost) parts.push('localhost');
  if (!fields.allow_ip_sans) parts.push('no IP');
  else {
    const cidrs = (fields.allowed_ip_sans_cidr as string[]) ?? [];
    const outside = complementCidrs(serviceCidr);
    if (cidrs.length === 0) parts.push('any IP');
    else if (cidrs.length === outside.length && outside.every((c) => cidrs.includes(c)))
      parts.push(`any IP outside ${serviceCidr}`);
    else parts.push(`IP in ${cidrs.join(', ')}`);
  }
  const usage = [fields.server_flag ? 'server' : '', fields.client_flag ? 'client' : '']
    .filter(Boolean)
    .join('+');
  const o = (fields.organization as string[]) ?? [];
  return `${parts.join('; ')} (${usage}${o.length > 0 ? `, O=${o.join(',')}` : ''})`;
}

function describeReach(resources: readonly DesiredResource[], settings: ProvisionSettings): string[] {
  const lines: string[] = [];
  const roles = new Map<string, Extract<DesiredResource, { kind: 'role' }>>();
  for (const r of resources) if (r.kind === 'role') roles.set(`${r.mount}/${r.name}`, r);
  for (const r of resources) {
    if (r.kind !== 'policy') continue;
    lines.push(`${r.nodeType} can obtain:`);
    const paths = [...String(r.fields.policy).matchAll(/path "(.+)\/issue\/([^"/]+)"/g)];
    for (const [, mount, name] of paths) {
      const role = roles.get(`${mount}/${name}`);
      if (role) lines.push(`  ${mount}/${name}: ${describeRole(role.fields, settings.serviceCidr)}`);
    }
  }
  return lines;
}
