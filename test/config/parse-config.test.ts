// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the config's variable syntax, not a template slip.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import type { CertSpec } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';
import { FIXTURES, makeFacts } from '../support/config-facts.js';

const goodNode = readFileSync(new URL('good/node.yaml', FIXTURES), 'utf8');

function cert(text: string, name: string, facts = makeFacts()): CertSpec {
  const found = parseConfig(text, facts).certificates.find((c) => c.name === name);
  if (!found) throw new Error(`no certificate ${name}`);
  return found;
}

/** A one-certificate config; `body` is the certificate's YAML, indented by the caller's lines. */
function oneCert(body: string[], top: string[] = []): string {
  return ['cluster: prod', ...top, 'certificates:', '  c:', ...body.map((l) => `    ${l}`)].join('\n');
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('the good node example', () => {
  const config = parseConfig(goodNode, makeFacts({ env: { API_LB: 'api.prod-eu1.example.com' } }), {
    source: 'good/node.yaml',
  });

  it('keeps the certificates in config order', () => {
    expect(config.certificates.map((c) => c.name)).toEqual([
      'etcd-server',
      'etcd-peer',
      'apiserver-etcd-client',
      'apiserver',
      'kubelet-serving',
      'kubelet-client',
    ]);
  });

  it('resolves the vault, metrics and node settings', () => {
    expect(config.cluster).toBe('prod-eu1');
    expect(config.vault).toEqual({
      address: 'https://vault.internal:8200',
      caCert: '/etc/vault-pki-agent/vault-ca.pem',
      tokenFile: '/etc/vault-pki-agent/token',
      wrappedToken: false,
      requestTimeoutMs: 30_000,
    });
    expect(config.metrics).toEqual({ textfile: '/var/lib/node_exporter/textfile/vault-pki-agent.prom' });
    expect(config.stateDir).toBe('/var/lib/vault-pki-agent');
    expect(config.node).toEqual({
      name: 'node-1',
      ip: '10.0.1.5',
      loadBalancer: 'api.prod-eu1.example.com',
      serviceIp: '10.96.0.1',
      dnsDomain: 'cluster.local',
    });
    expect(config.mounts).toEqual({
      etcd: 'etcd/prod-eu1/pki',
      kubernetes: 'k8s/prod-eu1/pki',
      frontProxy: 'k8s-front-proxy/prod-eu1/pki',
      etcdOverlay: 'etcd-overlay/prod-eu1/pki',
    });
  });

  it('fills the etcd server certificate from its preset, adding altNames', () => {
    const etcd = config.certificates[0] as CertSpec;
    expect(etcd).toEqual({
      name: 'etcd-server',
      preset: 'etcd-server',
      mount: 'etcd/prod-eu1/pki',
      role: 'member',
      mode: 'sign',
      commonName: 'node-1',
      dnsSans: ['node-1', 'localhost', 'api.prod-eu1.example.com', 'node-1.eu1.example.internal'],
      ipSans: ['10.0.1.5', '127.0.0.1', '::1'],
      usages: ['server', 'client'],
      key: { type: 'ec', bits: 256 },
      ttlSeconds: 720 * 3600,
      renewAt: 2 / 3,
      files: {
        dir: '/etc/etcd/pki/server',
        owner: 'etcd',
        group: 'etcd',
        names: { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem', fullchain: 'fullchain.pem' },
        certMode: 0o644,
        dirMode: 0o750,
      },
      actions: [{ kind: 'systemd', unit: 'etcd-member.service', action: 'restart', start: false }],
      healthCheck: { tls: '127.0.0.1:2379', timeoutMs: 20_000 },
    });
  });

  it('gives the apiserver every SAN of the reference table plus its overrides', () => {
    const api = config.certificates[3] as CertSpec;
    expect(api.commonName).toBe('kube-apiserver');
    expect(api.dnsSans).toEqual([
      'node-1',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
      'api.prod-eu1.example.com',
    ]);
    expect(api.ipSans).toEqual(['10.96.0.1', '10.0.1.5']);
    expect(api.ttlSeconds).toBe(168 * 3600);
    expect(api.files.names).toEqual({
      cert: 'apiserver.crt',
      key: 'apiserver.key',
      ca: 'ca.pem',
      fullchain: 'fullchain.pem',
    });
    expect(api.files.certMode).toBe(0o640);
    expect(api.files.owner).toBe('root');
    expect(api.actions).toEqual([
      { kind: 'systemd', unit: 'kube-apiserver.service', action: 'restart', start: true },
    ]);
    expect(api.healthCheck?.command?.[0]).toBe('/usr/bin/curl');
    expect(api.healthCheck?.timeoutMs).toBe(30_000);
  });

  it('applies the kubelet overrides: mode issue, rsa default bits, exec action, dir mode', () => {
    const kubelet = config.certificates[5] as CertSpec;
    expect(kubelet.commonName).toBe('system:node:node-1');
    expect(kubelet.mode).toBe('issue');
    expect(kubelet.key).toEqual({ type: 'rsa', bits: 2048 });
    expect(kubelet.files.dirMode).toBe(0o700);
    expect(kubelet.actions).toEqual([
      { kind: 'exec', argv: ['/usr/local/bin/notify-kubelet', '--reason', 'cert-rotated'] },
    ]);
    expect(kubelet.dnsSans).toEqual([]);
  });
});

describe('defaults', () => {
  it('fills every default for a minimal certificate', () => {
    const c = cert(
      oneCert(['mount: pki', 'role: web', 'commonName: web.example.com', 'files: { dir: /etc/web }']),
      'c',
    );
    expect(c).toEqual({
      name: 'c',
      mount: 'pki',
      role: 'web',
      mode: 'sign',
      commonName: 'web.example.com',
      dnsSans: [],
      ipSans: [],
      usages: ['server', 'client'],
      key: { type: 'ec', bits: 256 },
      ttlSeconds: 2_592_000,
      renewAt: 2 / 3,
      files: {
        dir: '/etc/web',
        names: { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem', fullchain: 'fullchain.pem' },
        certMode: 0o644,
        dirMode: 0o750,
      },
      actions: [],
    });
  });

  it('takes key, ttl, renewAt and file ownership from `defaults`, overridden per certificate', () => {
    const text = oneCert(
      ['preset: scheduler', 'renewAt: 0.5', 'files: { dir: /etc/s, group: kube, dirMode: "0o700" }'],
      [
        'defaults:',
        '  key: { type: rsa, bits: 4096 }',
        '  ttl: 24h',
        '  renewAt: 75%',
        '  files: { owner: root, group: root, certMode: "0600", dirMode: 0o755 }',
      ],
    );
    const c = cert(text, 'c');
    expect(c.key).toEqual({ type: 'rsa', bits: 4096 });
    expect(c.ttlSeconds).toBe(86_400);
    expect(c.renewAt).toBe(0.5);
    expect(c.files).toMatchObject({ owner: 'root', group: 'kube', certMode: 0o600, dirMode: 0o700 });
    const other = cert(
      oneCert(['preset: scheduler', 'files: { dir: /etc/s }'], ['defaults: { renewAt: 75% }']),
      'c',
    );
    expect(other.renewAt).toBe(0.75);
  });

  it('replaces the whole default key when a certificate names another type', () => {
    const text = oneCert(
      ['preset: scheduler', 'key: { type: ec }', 'files: { dir: /etc/s }'],
      ['defaults: { key: { type: rsa, bits: 4096 } }'],
    );
    expect(cert(text, 'c').key).toEqual({ type: 'ec', bits: 256 });
  });

  it('defaults the health check timeout to 30s and systemd start to false', () => {
    const c = cert(
      oneCert([
        'preset: scheduler',
        'files: { dir: /etc/s }',
        'actions: [{ systemd: { unit: kube-scheduler.service, action: reload } }]',
        'healthCheck: { command: [/bin/true] }',
      ]),
      'c',
    );
    expect(c.actions).toEqual([
      { kind: 'systemd', unit: 'kube-scheduler.service', action: 'reload', start: false },
    ]);
    expect(c.healthCheck).toEqual({ command: ['/bin/true'], timeoutMs: 30_000 });
  });

  it('has no vault settings but wrappedToken false when the vault block is absent', () => {
    expect(parseConfig('cluster: prod\n', makeFacts())).toEqual({
      cluster: 'prod',
      vault: { wrappedToken: false },
      certificates: [],
      stateDir: '/var/lib/vault-pki-agent',
      mounts: {
        etcd: 'etcd/prod/pki',
        kubernetes: 'k8s/prod/pki',
        frontProxy: 'k8s-front-proxy/prod/pki',
        etcdOverlay: 'etcd-overlay/prod/pki',
      },
      node: { name: 'node-1', ip: '10.0.1.5', serviceIp: '10.96.0.1', dnsDomain: 'cluster.local' },
    });
  });
});

describe('overrides of presets', () => {
  it('adds altNames and ipSans to the preset SANs, sorting IPs given as altNames', () => {
    const c = cert(
      oneCert([
        'preset: etcd-peer',
        'altNames: [etcd-1.example.com, 10.0.9.9, localhost]',
        'ipSans: ["2001:DB8::1", 10.0.1.5]',
        'files: { dir: /etc/etcd/pki }',
      ]),
      'c',
    );
    expect(c.dnsSans).toEqual(['node-1', 'localhost', 'etcd-1.example.com']);
    expect(c.ipSans).toEqual(['10.0.1.5', '127.0.0.1', '::1', '10.0.9.9', '2001:db8::1']);
  });

  it('replaces the preset SANs with replaceSans: true', () => {
    const c = cert(
      oneCert([
        'preset: apiserver',
        'replaceSans: true',
        'altNames: [api.example.com]',
        'ipSans: [10.0.0.1]',
        'files: { dir: /etc/k }',
      ]),
      'c',
    );
    expect(c.dnsSans).toEqual(['api.example.com']);
    expect(c.ipSans).toEqual(['10.0.0.1']);
  });

  it('lets every other key override the preset', () => {
    const c = cert(
      oneCert([
        'preset: etcd-client',
        'mount: etcd/other/pki',
        'role: flannel',
        'commonName: flanneld',
        'usages: [client, server, client]',
        'files: { dir: /etc/flannel/pki }',
      ]),
      'c',
    );
    expect(c).toMatchObject({
      preset: 'etcd-client',
      mount: 'etcd/other/pki',
      role: 'flannel',
      commonName: 'flanneld',
      usages: ['client', 'server'],
    });
  });

  it('uses the node block: name, IP, load balancer, service IP and DNS domain', () => {
    const c = cert(
      oneCert(
        ['preset: apiserver', 'files: { dir: /etc/k }'],
        [
          'node:',
          '  name: cp-1',
          '  ip: 192.168.7.1',
          '  loadBalancer: 192.168.7.100',
          '  serviceIp: 10.100.0.1',
          '  dnsDomain: k8s.internal',
        ],
      ),
      'c',
    );
    expect(c.dnsSans).toEqual([
      'cp-1',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.k8s.internal',
    ]);
    expect(c.ipSans).toEqual(['192.168.7.100', '10.100.0.1', '192.168.7.1']);
  });

  it('uses the host IPv6 address when there is no IPv4', () => {
    const facts = makeFacts({
      host: { hostname: 'v6-node', fqdn: 'v6-node.example', ipv6: '2001:db8:0:0::5' },
    });
    const c = cert(oneCert(['preset: kubelet-serving', 'files: { dir: /var/lib/kubelet/pki }']), 'c', facts);
    expect(c.commonName).toBe('system:node:v6-node');
    expect(c.ipSans).toEqual(['2001:db8::5']);
  });

  it('follows defaults.mountNaming', () => {
    const text = oneCert(
      ['preset: front-proxy-client', 'files: { dir: /etc/fp }'],
      ['defaults:', '  mountNaming: { frontProxy: "pki/${cluster}/front-proxy" }'],
    );
    const config = parseConfig(text, makeFacts());
    expect(config.certificates[0]?.mount).toBe('pki/prod/front-proxy');
    expect(config.mounts?.etcd).toBe('etcd/prod/pki');
  });
});

describe('variables', () => {
  const facts = makeFacts({
    ec2: {
      'local-ipv4': '172.31.5.6',
      'local-hostname': 'ip-172-31-5-6.eu-west-1.compute.internal',
      'instance-id': 'i-0abc',
    },
    env: { CLUSTER: 'prod-eu1', ETCD_DIR: '/srv/etcd', EMPTY: '' },
  });

  it('expands cluster, host, ec2 and env variables in every string value', () => {
    const text = [
      'cluster: ${env.CLUSTER}',
      'node: { name: "${ec2.local-hostname}", ip: "${ec2.local-ipv4}", loadBalancer: "${env.EMPTY}" }',
      'stateDir: /var/lib/vpa-${cluster}',
      'certificates:',
      '  peer:',
      '    preset: etcd-peer',
      '    commonName: ${host.hostname}-${ec2.instance-id}',
      '    altNames: ["${host.fqdn}", "${cluster}.etcd.example.com"]',
      '    ipSans: ["${host.ipv6}"]',
      '    files: { dir: "${env.ETCD_DIR}/peer" }',
      '    actions:',
      '      - exec: [/usr/local/bin/notify, "${cluster}", "$HOME is not a variable"]',
    ].join('\n');
    const config = parseConfig(text, facts);
    expect(config.cluster).toBe('prod-eu1');
    expect(config.stateDir).toBe('/var/lib/vpa-prod-eu1');
    expect(config.node).toEqual({
      name: 'ip-172-31-5-6.eu-west-1.compute.internal',
      ip: '172.31.5.6',
      serviceIp: '10.96.0.1',
      dnsDomain: 'cluster.local',
    });
    const peer = config.certificates[0] as CertSpec;
    expect(peer.mount).toBe('etcd/prod-eu1/pki');
    expect(peer.commonName).toBe('node-1-i-0abc');
    expect(peer.dnsSans).toEqual([
      'ip-172-31-5-6.eu-west-1.compute.internal',
      'localhost',
      'node-1.eu1.example.internal',
      'prod-eu1.etcd.example.com',
    ]);
    expect(peer.ipSans).toEqual(['172.31.5.6', '127.0.0.1', '::1', '2001:db8::5']);
    expect(peer.files.dir).toBe('/srv/etcd/peer');
    expect(peer.actions).toEqual([
      { kind: 'exec', argv: ['/usr/local/bin/notify', 'prod-eu1', '$HOME is not a variable'] },
    ]);
  });

  it.each([
    ['${nope}', 'unknown variable ${nope}'],
    ['${host.mac}', 'unknown variable ${host.mac}'],
    ['${ec2.ami-id}', 'unknown variable ${ec2.ami-id}'],
    ['${env.}', 'unknown variable ${env.}'],
    ['${env.UNSET_VAR}', 'environment variable UNSET_VAR is not set'],
    ['${ec2.public-ipv4}', 'instance metadata has no public-ipv4'],
    ['${env.LOOP}', 'expands to text containing "${"'],
    ['x${host.hostname', 'unterminated "${"'],
  ])('rejects %s in a value, naming the certificate and key', (value, reason) => {
    const text = oneCert([`commonName: "${value}"`, 'preset: admin', 'files: { dir: /etc/a }']);
    const error = errorOf(() => parseConfig(text, { ...facts, env: { ...facts.env, LOOP: '${cluster}' } }));
    expect(error.message).toContain('at line 4:17: certificates.c.commonName: ');
    expect(error.message).toContain(reason);
    expect(error.details.certificate).toBe('c');
  });

  it('rejects ${cluster} inside the cluster itself', () => {
    const error = errorOf(() => parseConfig('cluster: x-${cluster}\n', facts));
    expect(error.message).toBe(
      'config error at line 1:10: cluster: ${cluster} cannot be resolved: cluster is not valid',
    );
  });

  it('does not expand map keys', () => {
    const error = errorOf(() => parseConfig('cluster: prod\n"${cluster}": 1\n', facts));
    expect(error.message).toContain('unknown key "${cluster}"');
  });
});

describe('error reporting', () => {
  it('lists every schema problem, each with its own position, sorted by line', () => {
    const text = [
      'cluster: prod',
      'certificates:',
      '  b:',
      '    preset: etcd-peer',
      '    files: { dir: relative }',
      '  a:',
      '    preset: nope',
      '    files: { dir: /ok, extra: 1 }',
    ].join('\n');
    const error = errorOf(() =>
      parseConfig(text, makeFacts(), { source: '/etc/vault-pki-agent/config.yaml' }),
    );
    expect(error.message.split('\n')).toEqual([
      'config error in /etc/vault-pki-agent/config.yaml at line 5:19: certificates.b.files.dir: must be an absolute path, got "relative"',
      expect.stringContaining(
        'config error in /etc/vault-pki-agent/config.yaml at line 7:13: certificates.a.preset: unknown preset "nope"',
      ),
      expect.stringContaining('at line 8:24: certificates.a.files.extra: unknown key "extra"'),
    ]);
    expect(error.details).toMatchObject({ line: 5, column: 19, certificate: 'b', issues: 3 });
  });

  it('keeps a numeric certificate name in document order', () => {
    const text = [
      'cluster: prod',
      'certificates:',
      '  zeta: { preset: scheduler, files: { dir: /a } }',
      '  "10": { preset: controller-manager, files: { dir: /b } }',
      '  alpha: { preset: admin, commonName: ops, files: { dir: /c } }',
    ].join('\n');
    expect(parseConfig(text, makeFacts()).certificates.map((c) => c.name)).toEqual(['zeta', '10', 'alpha']);
  });

  it('refuses a mapping as the whole config body otherwise', () => {
    expect(errorOf(() => parseConfig('just a string', makeFacts())).message).toBe(
      'config error at line 1:1: the config must be a mapping, got the string "just a string"',
    );
  });

  it('stops alias bombs', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const error = errorOf(() => parseConfig(`${lines.join('\n')}\ncluster: prod\n`, makeFacts()));
    expect(error.message).toContain('invalid YAML');
  });
});
