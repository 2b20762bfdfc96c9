import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { complementCidrs } from '../../src/provision/cidr.js';
import { computeDesiredState, type DesiredResource } from '../../src/provision/desired-state.js';
import { formatPlan, planChanges } from '../../src/provision/diff.js';
import { parseProvisionFile } from '../../src/provision/provision-file.js';
import { resolveProvisionSettings } from '../../src/provision/provision-settings.js';
import { nameConstraints } from '../../src/provision/role-fields.js';

const settings = (file = '', engineer?: string) =>
  resolveProvisionSettings({ cluster: 'c1', engineerAuthAccessor: engineer }, parseProvisionFile(file));
/** Roles by name; the overlay CA's member and client roles (same names, later mount) are left out. */
const roles = (state: ReturnType<typeof computeDesiredState>) =>
  new Map(
    state.resources
      .filter((r): r is Extract<DesiredResource, { kind: 'role' }> => r.kind === 'role')
      .filter((r) => !r.mount.startsWith('etcd-overlay/'))
      .map((r) => [r.name, r.fields]),
  );

describe('desired state from the presets', () => {
  const state = computeDesiredState(settings('', 'auth_userpass_1'), 'https://vault.example:8200');
  const role = roles(state);
  /** Roles by mount and name (the overlay CA has its own member and client roles). */
  const roleAt = (s: ReturnType<typeof computeDesiredState>, id: string) =>
    s.resources.find((r) => r.kind === 'role' && r.id === `role ${id}`)?.fields;

  it.each([
    // role, server, client, O, name rules
    [
      'member',
      true,
      true,
      [],
      { allow_any_name: true, enforce_hostnames: true, allow_ip_sans: true, allow_localhost: true },
    ],
    // Was allow_any_name (the hole: any CN from the etcd CA); now the configured health-check CNs only.
    [
      'client',
      false,
      true,
      [],
      {
        allowed_domains: ['kube-etcd-healthcheck-client'],
        allow_bare_domains: true,
        allow_glob_domains: false,
        allow_any_name: false,
        allow_ip_sans: false,
        allow_localhost: false,
      },
    ],
    [
      'apiserver-etcd-client',
      false,
      true,
      [],
      { allowed_domains: ['kube-apiserver-etcd-client'], allow_any_name: false, allow_ip_sans: false },
    ],
    [
      'grpc-proxy',
      false,
      true,
      [],
      { allowed_domains: [], allow_any_name: false, require_cn: false, allow_ip_sans: false },
    ],
    [
      'kubelet-client',
      false,
      true,
      ['system:nodes'],
      {
        allowed_domains: ['system:node:*'],
        allow_glob_domains: true,
        enforce_hostnames: false,
        allow_ip_sans: false,
        allow_any_name: false,
      },
    ],
    // Was allowed_domains ['*', 'system:node:*'] (the hole: the apiserver's names and the service IP):
    // without worker node names, no DNS names and no address in the service CIDR.
    [
      'kubelet',
      true,
      false,
      ['system:nodes'],
      {
        allowed_domains: ['system:node:*'],
        allow_ip_sans: true,
        allowed_ip_sans_cidr: complementCidrs('10.96.0.0/12'),
      },
    ],
    [
      'component',
      false,
      true,
      [],
      {
        allowed_domains: ['system:kube-controller-manager', 'system:kube-scheduler'],
        allow_bare_domains: true,
        allow_glob_domains: false,
        allow_any_name: false,
      },
    ],
    [
      'kubelet-client-admin',
      false,
      true,
      ['kubeadm:cluster-admins'],
      { allowed_domains: ['kube-apiserver-kubelet-client'], allow_any_name: false },
    ],
    ['admin', false, true, ['kubeadm:cluster-admins'], { allow_any_name: true, max_ttl: 24 * 3600 }],
    [
      'front-proxy-client',
      false,
      true,
      [],
      { allowed_domains: ['front-proxy-client'], allow_any_name: false },
    ],
    [
      'engineer',
      false,
      true,
      [],
      {
        allowed_domains: ['{{identity.entity.aliases.auth_userpass_1.name}}'],
        allowed_domains_template: true,
        allow_any_name: false,
        max_ttl: 12 * 3600,
      },
    ],
  ])('role %s', (name, server, client, organization, rules) => {
    const fields = role.get(name);
    expect(fields).toBeDefined();
    expect(fields).toMatchObject({
      server_flag: server,
      client_flag: client,
      organization,
      allow_wildcard_certificates: false,
      ...rules,
    });
  });

  it('apiserver with known node names admits exactly those, the kubernetes names and the load balancers', () => {
    const tight = roles(
      computeDesiredState(settings('nodeNames: ["ip-10-*"]\nloadBalancers: [api.example]'), 'http://v'),
    );
    expect(tight.get('apiserver')?.allowed_domains).toEqual([
      'api.example',
      'ip-10-*',
      'kube-apiserver',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ]);
    expect(tight.get('apiserver')?.allow_any_name).toBe(false);
    // A plain list applies to every node type: the kubelet CN is bounded to the same names.
    expect(tight.get('kubelet')?.allowed_domains).toEqual(['ip-10-*', 'system:node:ip-10-*']);
    expect(tight.get('kubelet-client')?.allowed_domains).toEqual(['system:node:ip-10-*']);
  });

  it("node names per node type: each role admits only its owners' names; addresses bound the IP SANs", () => {
    const s = computeDesiredState(
      settings(
        [
          'nodeNames:',
          '  worker: ["ip-10-1-*"]',
          '  control-plane: [cp-*]',
          '  etcd-member: [etcd-*]',
          'nodeAddresses: { worker: [10.1.0.0/16], control-plane: [10.0.0.0/24] }',
          'serviceCidr: 10.100.0.0/16',
          'etcdClientNames: [etcd-probe]',
          'overlayClientNames: [flanneld, calico]',
        ].join('\n'),
      ),
      'http://v',
    );
    expect(roleAt(s, 'k8s/c1/pki/roles/kubelet')).toMatchObject({
      allowed_domains: ['ip-10-1-*', 'system:node:ip-10-1-*'],
      allowed_ip_sans_cidr: ['10.1.0.0/16'],
    });
    expect(roleAt(s, 'k8s/c1/pki/roles/kubelet-client')?.allowed_domains).toEqual(['system:node:ip-10-1-*']);
    // The apiserver keeps the service IP inside its bounds.
    expect(roleAt(s, 'k8s/c1/pki/roles/apiserver')).toMatchObject({
      allowed_ip_sans_cidr: ['10.0.0.0/24', '10.100.0.0/16'],
    });
    expect(roleAt(s, 'k8s/c1/pki/roles/apiserver')?.allowed_domains).toContain('cp-*');
    for (const member of ['etcd/c1/pki/roles/member', 'etcd-overlay/c1/pki/roles/member']) {
      expect(roleAt(s, member)).toMatchObject({ allowed_domains: ['etcd-*'], allowed_ip_sans_cidr: [] });
    }
    expect(roleAt(s, 'etcd/c1/pki/roles/client')?.allowed_domains).toEqual(['etcd-probe']);
    expect(roleAt(s, 'etcd-overlay/c1/pki/roles/client')?.allowed_domains).toEqual(['calico', 'flanneld']);
    expect(() => parseProvisionFile('nodeAddresses: { worker: [10.1.0.1/16] }', 'p.yaml')).toThrow(/CIDR/);
    expect(() => parseProvisionFile('overlayClientNames: ["*"]', 'p.yaml')).toThrow(/no globs/);
    expect(() => parseProvisionFile('nodeNames: { workers: [a] }', 'p.yaml')).toThrow(/workers/);
  });

  it("refuses worker name patterns that admit the apiserver's names, a load balancer or another node type's name", () => {
    const file = (workers: string, extra = '') =>
      `nodeNames:\n  worker: ${workers}\n  control-plane: [cp-1]\nloadBalancers: [api.prod.example]\n${extra}`;
    for (const [workers, hit] of [
      ['["*"]', 'kube-apiserver'],
      ['["kube*"]', 'kube-apiserver'],
      ['["ip-1", "*.svc"]', 'kubernetes.default.svc'],
      ['["*.prod.example"]', 'api.prod.example'],
      ['["cp-*"]', 'cp-1'],
      ['["KUBERNETES"]', 'kubernetes'],
    ] as const) {
      expect(() => parseProvisionFile(file(workers), 'p.yaml'), workers).toThrow(
        new RegExp(`p.yaml at line 2.*nodeNames.worker.*admits "${hit.replaceAll('.', '\\.')}"`),
      );
    }
    expect(() => parseProvisionFile(file('["*.svc.k8s.internal"]', 'dnsDomain: k8s.internal\n'))).toThrow(
      /kubernetes\.default\.svc\.k8s\.internal/,
    );
    expect(() => parseProvisionFile(file('["ip-10-1-*", "w-*.prod.example"]'))).not.toThrow();
  });

  it('the plan shows, per node type, the names it can obtain', () => {
    const text = formatPlan(
      planChanges(
        computeDesiredState(settings('nodeNames: { worker: ["ip-10-1-*"] }'), 'http://v'),
        new Map(),
      ),
    );
    const worker = text.slice(text.indexOf('# worker can obtain:'), text.indexOf('# nodeNames') >>> 0);
    expect(worker.split('\n').slice(0, 4)).toEqual([
      '# worker can obtain:',
      '#   k8s/c1/pki/kubelet: ip-10-1-*, system:node:ip-10-1-*; any IP outside 10.96.0.0/12 (server, O=system:nodes)',
      '#   k8s/c1/pki/kubelet-client: system:node:ip-10-1-*; no IP (client, O=system:nodes)',
      '#   etcd-overlay/c1/pki/client: flanneld; no IP (client)',
    ]);
    expect(text).toContain('#   etcd/c1/pki/grpc-proxy: no CN; no IP (client)');
    expect(text).not.toContain('# nodeNames.worker is not set');
    expect(formatPlan(planChanges(computeDesiredState(settings(), 'http://v'), new Map()))).toContain(
      '# nodeNames.worker is not set',
    );
  });

  it('policies grant only the node type paths plus token self-management', () => {
    const policy = (t: string) =>
      String(state.resources.find((r) => r.kind === 'policy' && r.nodeType === t)?.fields.policy);
    const paths = (t: string) => [...policy(t).matchAll(/path "([^"]+)"/g)].map((m) => m[1]);
    // Was etcd/c1/pki/{sign,issue}/client (the hole): a worker reaches no role of the Kubernetes etcd CA.
    expect(paths('worker')).toEqual([
      'k8s/c1/pki/sign/kubelet',
      'k8s/c1/pki/issue/kubelet',
      'k8s/c1/pki/revoke-with-key',
      'k8s/c1/pki/sign/kubelet-client',
      'k8s/c1/pki/issue/kubelet-client',
      'etcd-overlay/c1/pki/sign/client',
      'etcd-overlay/c1/pki/issue/client',
      'etcd-overlay/c1/pki/revoke-with-key',
      'auth/token/lookup-self',
      'auth/token/renew-self',
      'auth/token/revoke-self',
    ]);
    expect(paths('etcd-member').filter((p) => p?.startsWith('k8s'))).toEqual([]);
    expect(paths('control-plane').filter((p) => p?.startsWith('etcd/'))).toEqual([
      'etcd/c1/pki/sign/apiserver-etcd-client',
      'etcd/c1/pki/issue/apiserver-etcd-client',
      'etcd/c1/pki/revoke-with-key',
      'etcd/c1/pki/sign/client',
      'etcd/c1/pki/issue/client',
      'etcd/c1/pki/sign/grpc-proxy',
      'etcd/c1/pki/issue/grpc-proxy',
    ]);
    expect(paths('engineer').slice(0, 2)).toEqual(['k8s/c1/pki/sign/engineer', 'k8s/c1/pki/issue/engineer']);
    // Never the privileged revoke (any serial): only revoke-with-key, which needs the certificate's own key.
    for (const t of ['worker', 'etcd-member', 'control-plane', 'engineer']) {
      expect(paths(t).filter((p) => /\/revoke$/.test(p ?? ''))).toEqual([]);
    }
  });

  it('roles store no certificates and no leases; every mount tidies itself', () => {
    const roleResources = state.resources.filter((r) => r.kind === 'role');
    expect(roleResources.length).toBeGreaterThan(5);
    for (const r of roleResources) {
      expect(r.fields.no_store, r.id).toBe(true);
      expect(r.fields.generate_lease, r.id).toBe(false);
      // What a stolen node token mints is not recorded: it must not outlive two renewal periods (review F5).
      // (admin and engineer certificates are hours long: 1h, at most 24h / 12h.)
      if (r.kind === 'role' && !['admin', 'engineer'].includes(r.name)) {
        expect(Number(r.fields.max_ttl), r.id).toBeLessThanOrEqual(2 * Number(r.fields.ttl));
      }
    }
    const mounts = state.resources
      .filter((r) => r.kind === 'mount')
      .map((r) => (r.kind === 'mount' ? r.path : ''));
    const tidy = state.resources.filter((r) => r.kind === 'auto-tidy');
    expect(tidy.map((r) => (r.kind === 'auto-tidy' ? r.mount : ''))).toEqual(mounts);
    for (const r of tidy) {
      expect(r.fields).toMatchObject({ enabled: true, tidy_cert_store: true, tidy_revoked_certs: true });
    }
  });

  it('without --engineer-auth there is no engineer role or policy, and the plan says why', () => {
    const s = computeDesiredState(settings(), 'http://v');
    expect(roles(s).has('engineer')).toBe(false);
    expect(s.resources.some((r) => r.kind === 'policy' && r.nodeType === 'engineer')).toBe(false);
    expect(formatPlan(planChanges(s, new Map()))).toContain('# engineer role and policy left out');
  });

  it('token roles: one policy, orphan, periodic, no default policy; engineers get none', () => {
    const tokenRoles = state.resources.filter((r) => r.kind === 'token-role');
    expect(tokenRoles.map((r) => r.id)).toEqual([
      'token-role pki-c1-etcd-member',
      'token-role pki-c1-control-plane',
      'token-role pki-c1-worker',
    ]);
    expect(tokenRoles[2]?.fields).toMatchObject({
      allowed_policies: ['pki-c1-worker'],
      orphan: true,
      token_period: 168 * 3600,
      token_no_default_policy: true,
    });
  });

  it('names come from the provision config', () => {
    const s = computeDesiredState(
      settings('mounts: { etcd: pki/etcd-c1 }\npolicies: { worker: c1-nodes }'),
      'http://v',
    );
    expect(s.resources.map((r) => r.id)).toContain('mount pki/etcd-c1');
    expect(s.resources.map((r) => r.id)).toContain('policy c1-nodes');
    expect(() => parseProvisionFile('mounts: { etcd: "/bad/" }', 'p.yaml')).toThrow(
      /p.yaml at line 1.*mounts.etcd/,
    );
    expect(() => parseProvisionFile('nodenames: [a]', 'p.yaml')).toThrow(/nodenames/);
  });

  it('the provision file examples in docs/OPERATORS.md parse', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/OPERATORS.md'), 'utf8');
    const examples = [...doc.matchAll(/```yaml\n([\s\S]+?)```/g)].map((m) => m[1] as string);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const text of examples) expect(() => parseProvisionFile(text)).not.toThrow();
  });

  it('a role tuning must name a role provision creates (a misspelt one would tune nothing)', () => {
    expect(parseProvisionFile('roles: { apiserver: { ttl: 48h } }').roles?.apiserver?.ttl).toBe('48h');
    expect(() => parseProvisionFile('roles:\n  apiservr: { ttl: 48h }\n', 'p.yaml')).toThrow(
      /p.yaml at line 2.*roles.apiservr.*unknown role "apiservr" \(roles: .*apiserver.*\)/,
    );
  });
});

describe('role fields', () => {
  it('nameConstraints of no presets admits nothing', () => {
    expect(nameConstraints([], settings())).toMatchObject({
      allow_any_name: false,
      allowed_domains: [],
    });
  });
});
