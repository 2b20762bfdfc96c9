/**
 * One Vault PKI role's fields, from the presets it issues and the provision settings: the tightest name
 * constraints that still issue every preset of the role (names, IP ranges, organisation), its tuning (TTLs), and
 * the one-line description `provision --plan` prints of what a role lets its caller obtain.
 */
import {
  type CaName,
  NODE_TYPE_NAMES,
  NODE_TYPES,
  type NodeType,
  PRESETS,
  type PresetName,
} from '../config/presets.js';
import { isIpAddress } from '../config/validate.js';
import { parseDurationSeconds } from '../util/duration.js';
import { complementCidrs } from './cidr.js';
import type { FieldValue } from './desired-state.js';
import {
  DEFAULT_ROLE_TUNING,
  NODE_ROLE_TUNING,
  type ProvisionSettings,
  type RoleTuning,
} from './provision-settings.js';

export function seconds(value: string): number {
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

export function tuning(role: string, settings: ProvisionSettings): RoleTuning {
  const base = DEFAULT_ROLE_TUNING[role] ?? NODE_ROLE_TUNING;
  return { ...base, ...settings.roles[role] };
}

export function roleFields(
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
