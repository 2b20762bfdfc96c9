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
import { policyHcl } from './policy-hcl.js';
import { INSTANCE_NODE_TYPES, type ProvisionSettings } from './provision-settings.js';
import { describeRole, nameConstraints, roleFields, roleOwners, seconds, tuning } from './role-fields.js';
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
