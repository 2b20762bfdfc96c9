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
import {
  DEFAULT_ROLE_TUNING,
  NODE_ROLE_TUNING,
  type ProvisionSettings,
  type RoleTuning,
} from './provision-settings.js';

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
  /** Things the operator should know about what is left out (e.g. no engineer role without --engineer-auth). */
  notes: string[];
}

const CA_NAMES: readonly CaName[] = ['etcd', 'kubernetes', 'frontProxy'];
const CA_DESCRIPTIONS: Record<CaName, string> = {
  etcd: 'etcd CA',
  kubernetes: 'Kubernetes CA',
  frontProxy: 'Kubernetes front-proxy (aggregation layer) CA',
};
/** Node types that run on instances and get tokens from a token role (engineers log in instead). */
export const TOKEN_NODE_TYPES: readonly NodeType[] = NODE_TYPE_NAMES.filter((t) => t !== 'engineer');

function seconds(value: string): number {
  const s = parseDurationSeconds(value);
  if (s === undefined) throw new Error(`not a duration: ${value}`);
  return s;
}

const HOSTNAME_LIKE = /^[A-Za-z0-9*.-]+$/;

/**
 * Name constraints that admit exactly the names the role's presets produce: fixed CNs and literal SANs
 * as bare domains, `system:node:<node>` as a glob, node names as configured (or any host name).
 */
export function nameConstraints(
  presets: readonly PresetName[],
  settings: Pick<ProvisionSettings, 'nodeNames' | 'loadBalancers' | 'dnsDomain'>,
): Record<string, FieldValue> {
  const names = new Set<string>();
  let anyName = false;
  let nodeName = false;
  let ipSans = false;
  let localhost = false;
  for (const p of presets) {
    const preset = PRESETS[p];
    const cn = preset.commonName;
    if (cn === null) anyName = true;
    else if (cn === '<node>') nodeName = true;
    else names.add(cn.replace('<node>', '*'));
    for (const san of preset.sans) {
      if (san === '<node>') nodeName = true;
      else if (san === '<lb>') for (const lb of settings.loadBalancers ?? []) names.add(lb);
      else if (san === '<ip>' || san === '<svc>' || isIpAddress(san)) ipSans = true;
      else if (san === 'localhost') localhost = true;
      else names.add(san.replace('<domain>', settings.dnsDomain));
    }
  }
  if (nodeName && settings.nodeNames) for (const n of settings.nodeNames) names.add(n);
  const openNodeNames = nodeName && !settings.nodeNames;
  const list = [...names].sort();
  const hostnames = list.every((n) => HOSTNAME_LIKE.test(n));
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
  };
  if (anyName || (openNodeNames && hostnames)) {
    // Any valid host name (etcd members, apiserver SANs) or any name at all (given CNs).
    return {
      ...fields,
      allow_any_name: true,
      allowed_domains: [],
      allow_bare_domains: false,
      allow_glob_domains: false,
    };
  }
  if (openNodeNames) {
    // Kubelet serving: CN system:node:* plus DNS SANs of unknown node names. Vault applies one list to
    // both, so the node names can only be opened with a catch-all glob; the role is server-only.
    return { ...fields, allowed_domains: [...list, '*'].sort(), allow_glob_domains: true };
  }
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
    require_cn: true,
    generate_lease: false,
    no_store: false,
    ttl: seconds(t.ttl),
    max_ttl: seconds(t.maxTtl),
  };
}

/** One `path` block per granted path, plus the token's own lifecycle (the default policy is left off). */
export function policyHcl(cluster: string, nodeType: NodeType, grants: readonly string[]): string {
  const lines = [
    `# vault-pki-agent provision: node type ${nodeType} of cluster ${cluster}. Managed: edits are reverted.`,
  ];
  for (const path of grants) lines.push(`path "${path}" {`, '  capabilities = ["update"]', '}');
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
        nameConstraints(role.presets, settings),
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
      for (const op of ['sign', 'issue']) {
        const path = `${mount}/${op}/${p.role}`;
        if (!grants.includes(path)) grants.push(path);
      }
    }
    const name = settings.policies[nodeType];
    resources.push({
      kind: 'policy',
      id: `policy ${name}`,
      name,
      nodeType,
      fields: { policy: policyHcl(settings.cluster, nodeType, grants) },
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
  return { resources, notes };
}
