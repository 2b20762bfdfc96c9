import { describe, expect, it } from 'vitest';
import {
  defaultMountNaming,
  expandPreset,
  listPresetRoles,
  NODE_TYPES,
  PRESET_NAMES,
  PRESETS,
  type PresetName,
  type PresetParams,
} from '../../src/config/presets.js';

const params: PresetParams = {
  node: 'node-1',
  ip: '10.0.1.5',
  loadBalancer: 'api.prod.example.com',
  serviceIp: '10.96.0.1',
  dnsDomain: 'cluster.local',
  mounts: defaultMountNaming('prod'),
};

// SPEC "Presets" table and reference A.1, written out literally (not derived from PRESETS).
const expected: Record<
  PresetName,
  { mount: string; role: string; cn: string | undefined; dns: string[]; ip: string[]; usages: string[] }
> = {
  'etcd-server': {
    mount: 'etcd/prod/pki',
    role: 'member',
    cn: 'node-1',
    dns: ['node-1', 'localhost', 'api.prod.example.com'],
    ip: ['10.0.1.5', '127.0.0.1', '::1'],
    usages: ['server', 'client'],
  },
  'etcd-peer': {
    mount: 'etcd/prod/pki',
    role: 'member',
    cn: 'node-1',
    dns: ['node-1', 'localhost'],
    ip: ['10.0.1.5', '127.0.0.1', '::1'],
    usages: ['server', 'client'],
  },
  'etcd-client': {
    mount: 'etcd/prod/pki',
    role: 'client',
    cn: undefined,
    dns: [],
    ip: [],
    usages: ['client'],
  },
  // Its own role (one role per identity): the health-check client role takes other, configured CNs.
  'apiserver-etcd-client': {
    mount: 'etcd/prod/pki',
    role: 'apiserver-etcd-client',
    cn: 'kube-apiserver-etcd-client',
    dns: [],
    ip: [],
    usages: ['client'],
  },
  // SPEC: etcd CA, no CN (etcd 3.4's grpc-proxy refuses one), client.
  'etcd-grpc-proxy': {
    mount: 'etcd/prod/pki',
    role: 'grpc-proxy',
    cn: '',
    dns: [],
    ip: [],
    usages: ['client'],
  },
  // The overlay network's etcd: its own CA, which the Kubernetes etcd does not trust.
  'etcd-overlay-server': {
    mount: 'etcd-overlay/prod/pki',
    role: 'member',
    cn: 'node-1',
    dns: ['node-1', 'localhost', 'api.prod.example.com'],
    ip: ['10.0.1.5', '127.0.0.1', '::1'],
    usages: ['server', 'client'],
  },
  'etcd-overlay-peer': {
    mount: 'etcd-overlay/prod/pki',
    role: 'member',
    cn: 'node-1',
    dns: ['node-1', 'localhost'],
    ip: ['10.0.1.5', '127.0.0.1', '::1'],
    usages: ['server', 'client'],
  },
  'etcd-overlay-client': {
    mount: 'etcd-overlay/prod/pki',
    role: 'client',
    cn: undefined,
    dns: [],
    ip: [],
    usages: ['client'],
  },
  apiserver: {
    mount: 'k8s/prod/pki',
    role: 'apiserver',
    cn: 'kube-apiserver',
    dns: [
      'node-1',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
      'api.prod.example.com',
    ],
    ip: ['10.96.0.1', '10.0.1.5'],
    usages: ['server'],
  },
  'apiserver-kubelet-client': {
    mount: 'k8s/prod/pki',
    role: 'kubelet-client-admin',
    cn: 'kube-apiserver-kubelet-client',
    dns: [],
    ip: [],
    usages: ['client'],
  },
  'controller-manager': {
    mount: 'k8s/prod/pki',
    role: 'component',
    cn: 'system:kube-controller-manager',
    dns: [],
    ip: [],
    usages: ['client'],
  },
  scheduler: {
    mount: 'k8s/prod/pki',
    role: 'component',
    cn: 'system:kube-scheduler',
    dns: [],
    ip: [],
    usages: ['client'],
  },
  'kubelet-serving': {
    mount: 'k8s/prod/pki',
    role: 'kubelet',
    cn: 'system:node:node-1',
    dns: ['node-1'],
    ip: ['10.0.1.5'],
    usages: ['server'],
  },
  'kubelet-client': {
    mount: 'k8s/prod/pki',
    role: 'kubelet-client',
    cn: 'system:node:node-1',
    dns: [],
    ip: [],
    usages: ['client'],
  },
  admin: { mount: 'k8s/prod/pki', role: 'admin', cn: undefined, dns: [], ip: [], usages: ['client'] },
  'front-proxy-client': {
    mount: 'k8s-front-proxy/prod/pki',
    role: 'front-proxy-client',
    cn: 'front-proxy-client',
    dns: [],
    ip: [],
    usages: ['client'],
  },
  engineer: { mount: 'k8s/prod/pki', role: 'engineer', cn: undefined, dns: [], ip: [], usages: ['client'] },
};

describe('presets', () => {
  it('covers exactly the presets of the SPEC table', () => {
    expect([...PRESET_NAMES].sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s fills mount, role, CN, SANs and usages', (name, want) => {
    const got = expandPreset(name as PresetName, params);
    expect(got.mount).toBe(want.mount);
    expect(got.role).toBe(want.role);
    expect(got.commonName).toBe(want.cn);
    expect(got.dnsSans).toEqual(want.dns);
    expect(got.ipSans).toEqual(want.ip);
    expect(got.usages).toEqual(want.usages);
    expect(got.missing).toEqual([]);
  });

  it('omits an empty or absent load balancer', () => {
    for (const loadBalancer of ['', undefined]) {
      const got = expandPreset('apiserver', { ...params, loadBalancer });
      expect(got.dnsSans).toEqual([
        'node-1',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ]);
      expect(got.dnsSans).not.toContain('');
    }
  });

  it('puts a load balancer given as an IP among the IP SANs', () => {
    const got = expandPreset('etcd-server', { ...params, loadBalancer: '10.0.0.100' });
    expect(got.dnsSans).toEqual(['node-1', 'localhost']);
    expect(got.ipSans).toEqual(['10.0.0.100', '10.0.1.5', '127.0.0.1', '::1']);
  });

  it('uses the cluster DNS domain, service IP and an IPv6 node address', () => {
    const got = expandPreset('apiserver', {
      ...params,
      dnsDomain: 'k8s.internal',
      serviceIp: 'fd00:10:96::1',
      ip: '2001:DB8::5',
    });
    expect(got.dnsSans).toContain('kubernetes.default.svc.k8s.internal');
    expect(got.ipSans).toEqual(['fd00:10:96::1', '2001:db8::5']);
  });

  it('reports <ip> as missing when the node has no address', () => {
    const { ip: _ip, ...noIp } = params;
    expect(expandPreset('etcd-peer', noIp).missing).toEqual(['<ip>']);
    expect(expandPreset('kubelet-client', noIp).missing).toEqual([]);
  });

  it('follows a custom mount naming', () => {
    const mounts = {
      etcd: 'pki/prod/etcd',
      kubernetes: 'pki/prod/k8s',
      frontProxy: 'pki/prod/fp',
      etcdOverlay: 'pki/prod/overlay',
    };
    expect(expandPreset('etcd-peer', { ...params, mounts }).mount).toBe('pki/prod/etcd');
    expect(expandPreset('scheduler', { ...params, mounts }).mount).toBe('pki/prod/k8s');
    expect(expandPreset('front-proxy-client', { ...params, mounts }).mount).toBe('pki/prod/fp');
    expect(expandPreset('etcd-overlay-client', { ...params, mounts }).mount).toBe('pki/prod/overlay');
  });
});

describe('node types', () => {
  it.each([
    ['etcd-member', ['etcd-server', 'etcd-peer', 'etcd-client', 'etcd-overlay-server', 'etcd-overlay-peer']],
    [
      'control-plane',
      [
        'apiserver',
        'apiserver-etcd-client',
        'apiserver-kubelet-client',
        'controller-manager',
        'scheduler',
        'front-proxy-client',
        'etcd-client',
        'etcd-grpc-proxy',
      ],
    ],
    // No preset of the Kubernetes etcd's CA: the network plugin's client is the overlay CA's.
    ['worker', ['kubelet-serving', 'kubelet-client', 'etcd-overlay-client']],
    ['engineer', ['engineer']],
  ])('%s may issue %j', (type, presets) => {
    expect([...NODE_TYPES[type as keyof typeof NODE_TYPES]].sort()).toEqual([...presets].sort());
  });
});

describe('roles for provision', () => {
  it('gives one role per (CA, role) and the O the Vault role must stamp', () => {
    const roles = listPresetRoles();
    const key = (r: { ca: string; role: string }) => `${r.ca}/${r.role}`;
    expect(new Set(roles.map(key)).size).toBe(roles.length);
    const byKey = Object.fromEntries(roles.map((r) => [key(r), r]));
    expect(byKey['etcd/member']?.presets).toEqual(['etcd-server', 'etcd-peer']);
    expect(byKey['kubernetes/component']?.presets).toEqual(['controller-manager', 'scheduler']);
    expect(byKey['kubernetes/kubelet']?.organization).toBe('system:nodes');
    expect(byKey['kubernetes/kubelet-client']?.organization).toBe('system:nodes');
    expect(byKey['kubernetes/kubelet-client-admin']?.organization).toBe('kubeadm:cluster-admins');
    expect(byKey['kubernetes/admin']?.organization).toBe('kubeadm:cluster-admins');
    expect(byKey['kubernetes/apiserver']?.organization).toBeUndefined();
  });

  it('never shares a role between presets with different usages or O', () => {
    for (const role of listPresetRoles()) {
      for (const name of role.presets) {
        expect(PRESETS[name].usages).toEqual(role.usages);
        expect(PRESETS[name].organization).toBe(role.organization);
      }
    }
  });
});
