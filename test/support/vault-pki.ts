/**
 * Test-side provisioning of a cluster's PKI the way operators do it (mounts named product/cluster/function,
 * an internal root CA per mount, roles, ACL policies), and token minting with policies, TTL, period,
 * num_uses and response wrapping. Uses the raw HTTP API with the root token, independent of the agent.
 */
import type { TestVault } from './openbao.js';
import { registerTestSecret } from './secret-scan.js';

export interface TestPki {
  cluster: string;
  etcdMount: string;
  k8sMount: string;
  frontProxyMount: string;
  /** PEM of each mount's root CA. */
  ca: Record<'etcd' | 'k8s' | 'frontProxy', string>;
}

const CLIENT_ONLY = { server_flag: false, client_flag: true };
const NAME_FREE = {
  allow_any_name: true,
  enforce_hostnames: false,
  allow_ip_sans: false,
  allow_localhost: false,
};

/** Roles by mount kind; tight enough to be realistic, loose enough to issue every preset in tests. */
export const TEST_ROLES: Record<'etcd' | 'k8s' | 'frontProxy', Record<string, Record<string, unknown>>> = {
  etcd: {
    member: { allow_any_name: true, enforce_hostnames: true, allow_ip_sans: true, allow_localhost: true },
    client: { ...NAME_FREE, ...CLIENT_ONLY },
    // Only *.example.internal names, no IP SANs: for the "role rejects" tests.
    restricted: {
      allowed_domains: ['example.internal'],
      allow_subdomains: true,
      allow_bare_domains: false,
      allow_localhost: false,
      allow_ip_sans: false,
    },
  },
  k8s: {
    apiserver: {
      allow_any_name: true,
      enforce_hostnames: true,
      allow_ip_sans: true,
      server_flag: true,
      client_flag: false,
    },
    'kubelet-client-admin': { ...NAME_FREE, ...CLIENT_ONLY, organization: 'kubeadm:cluster-admins' },
    component: { ...NAME_FREE, ...CLIENT_ONLY },
    kubelet: {
      allowed_domains: ['system:node:*'],
      allow_glob_domains: true,
      enforce_hostnames: false,
      allow_any_name: true,
      allow_ip_sans: true,
      organization: 'system:nodes',
      server_flag: true,
      client_flag: false,
    },
    'kubelet-client': {
      allowed_domains: ['system:node:*'],
      allow_glob_domains: true,
      allow_bare_domains: true,
      enforce_hostnames: false,
      organization: 'system:nodes',
      allow_ip_sans: false,
      ...CLIENT_ONLY,
    },
    admin: { ...NAME_FREE, ...CLIENT_ONLY, organization: 'kubeadm:cluster-admins', max_ttl: '24h' },
  },
  frontProxy: {
    'front-proxy-client': { ...NAME_FREE, ...CLIENT_ONLY },
  },
};

export async function provisionTestPki(
  vault: Pick<TestVault, 'api'>,
  cluster: string,
  opts: { maxTtl?: string; keyType?: 'any' | 'ec' | 'rsa' } = {},
): Promise<TestPki> {
  const mounts = {
    etcd: `etcd/${cluster}/pki`,
    k8s: `k8s/${cluster}/pki`,
    frontProxy: `k8s-front-proxy/${cluster}/pki`,
  } as const;
  const caNames = { etcd: 'etcd-ca', k8s: 'kubernetes', frontProxy: 'front-proxy-ca' } as const;
  const ca = { etcd: '', k8s: '', frontProxy: '' };
  await Promise.all(
    (Object.keys(mounts) as (keyof typeof mounts)[]).map(async (kind) => {
      const mount = mounts[kind];
      await vault.api('POST', `sys/mounts/${mount}`, { type: 'pki', config: { max_lease_ttl: '87600h' } });
      const root = await vault.api('POST', `${mount}/root/generate/internal`, {
        common_name: `${caNames[kind]}-${cluster}`,
        ttl: '87600h',
        key_type: 'ec',
        key_bits: 256,
      });
      ca[kind] = String(root.body.data?.certificate);
      await Promise.all(
        Object.entries(TEST_ROLES[kind]).map(([role, params]) =>
          vault.api('POST', `${mount}/roles/${role}`, {
            key_type: opts.keyType ?? 'any',
            ttl: '24h',
            // Short backdating keeps the renewal tests' tens-of-seconds lifetimes meaningful.
            not_before_duration: '5s',
            max_ttl: opts.maxTtl ?? '720h',
            ...params,
          }),
        ),
      );
    }),
  );
  return { cluster, etcdMount: mounts.etcd, k8sMount: mounts.k8s, frontProxyMount: mounts.frontProxy, ca };
}

/** An ACL policy allowing sign+issue on the given `<mount>/<role>` pairs. */
export async function writePolicy(
  vault: Pick<TestVault, 'api'>,
  name: string,
  roles: string[],
): Promise<void> {
  const hcl = roles
    .flatMap((mr) => {
      const i = mr.lastIndexOf('/');
      const mount = mr.slice(0, i);
      const role = mr.slice(i + 1);
      return [
        `path "${mount}/sign/${role}" { capabilities = ["update"] }`,
        `path "${mount}/issue/${role}" { capabilities = ["update"] }`,
      ];
    })
    .join('\n');
  await vault.api('PUT', `sys/policies/acl/${name}`, { policy: hcl || '# nothing' });
}

export interface TokenOptions {
  policies?: string[];
  ttl?: string;
  period?: string;
  numUses?: number;
  renewable?: boolean;
  noDefaultPolicy?: boolean;
  explicitMaxTtl?: string;
  /** Return a response-wrapping token instead. */
  wrapTtl?: string;
}

export async function createToken(vault: Pick<TestVault, 'api'>, opts: TokenOptions = {}): Promise<string> {
  const body: Record<string, unknown> = { policies: opts.policies ?? ['default'] };
  if (opts.ttl) body.ttl = opts.ttl;
  if (opts.period) body.period = opts.period;
  if (opts.numUses !== undefined) body.num_uses = opts.numUses;
  if (opts.renewable !== undefined) body.renewable = opts.renewable;
  if (opts.noDefaultPolicy) body.no_default_policy = true;
  if (opts.explicitMaxTtl) body.explicit_max_ttl = opts.explicitMaxTtl;
  const res = await vault.api('POST', 'auth/token/create-orphan', body, { wrapTtl: opts.wrapTtl });
  const token = opts.wrapTtl
    ? String((res.body.wrap_info as { token: string }).token)
    : String(res.body.auth?.client_token);
  registerTestSecret(token);
  return token;
}

export async function revokeToken(vault: TestVault, token: string): Promise<void> {
  await vault.api('POST', 'auth/token/revoke', { token });
}
