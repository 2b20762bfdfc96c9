/** `kubeconfigs:`: the shape (strict, validated) and the rules that span keys; every refusal is exit 3. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { ConfigError } from '../../src/errors.js';
import { makeFacts } from '../support/config-facts.js';

const BASE = [
  'cluster: prod',
  'node: { name: cp-1, ip: 10.0.0.5 }',
  'certificates:',
  '  controller-manager:',
  '    preset: controller-manager',
  '    files: { dir: /etc/kubernetes/pki/controller-manager }',
  '  apiserver:',
  '    preset: apiserver',
  '    files: { dir: /etc/kubernetes/pki/apiserver }',
];

const withKubeconfigs = (...lines: string[]) => [...BASE, 'kubeconfigs:', ...lines].join('\n');

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, makeFacts());
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('kubeconfigs', () => {
  it('resolves a kubeconfig naming a client certificate of the config', () => {
    const config = parseConfig(
      withKubeconfigs(
        '  - path: /etc/kubernetes/controller-manager.conf',
        '    certificate: controller-manager',
        '    server: https://127.0.0.1:6443',
        '    owner: root',
        '    group: "0"',
      ),
      makeFacts(),
    );
    expect(config.kubeconfigs).toEqual([
      {
        path: '/etc/kubernetes/controller-manager.conf',
        certificate: 'controller-manager',
        server: 'https://127.0.0.1:6443',
        owner: 'root',
        group: '0',
      },
    ]);
  });

  it('no kubeconfigs key: none', () => {
    expect(parseConfig(BASE.join('\n'), makeFacts()).kubeconfigs).toBeUndefined();
  });

  it.each([
    [
      'an unknown key',
      [
        '  - path: /etc/kubernetes/a.conf',
        '    certificate: controller-manager',
        '    server: https://h:6443',
        '    mode: "0644"',
      ],
      /kubeconfigs\[0\]\.mode: unknown key "mode" \(allowed keys here: path, certificate, server, owner, group\)/,
    ],
    [
      'a certificate the config does not have',
      ['  - path: /etc/kubernetes/a.conf', '    certificate: schedular', '    server: https://h:6443'],
      /kubeconfigs\[0\]\.certificate: no certificate named "schedular" in this config \(known: controller-manager, apiserver\)/,
    ],
    [
      'a server certificate',
      ['  - path: /etc/kubernetes/a.conf', '    certificate: apiserver', '    server: https://h:6443'],
      /kubeconfigs\[0\]\.certificate: certificate apiserver is not a client certificate \(usages: server\)/,
    ],
    [
      'a plain-http server',
      [
        '  - path: /etc/kubernetes/a.conf',
        '    certificate: controller-manager',
        '    server: http://h:8080',
      ],
      /kubeconfigs\[0\]\.server: must be an https:\/\/ URL/,
    ],
    [
      'a relative path',
      ['  - path: kube/a.conf', '    certificate: controller-manager', '    server: https://h:6443'],
      /kubeconfigs\[0\]\.path: .*absolute/,
    ],
    [
      'a path inside a set directory',
      [
        '  - path: /etc/kubernetes/pki/controller-manager/kubeconfig',
        '    certificate: controller-manager',
        '    server: https://h:6443',
      ],
      /kubeconfigs\[0\]\.path: \/etc\/kubernetes\/pki\/controller-manager\/kubeconfig is inside the directory of certificate controller-manager/,
    ],
    [
      'the same path twice',
      [
        '  - { path: /etc/kubernetes/a.conf, certificate: controller-manager, server: "https://h:6443" }',
        '  - { path: /etc/kubernetes/a.conf, certificate: controller-manager, server: "https://h:6443" }',
      ],
      /kubeconfigs\[1\]\.path: \/etc\/kubernetes\/a\.conf is already the path of kubeconfigs\[0\]/,
    ],
    ['a mapping instead of a list', ['  a: 1'], /kubeconfigs: must be a list of kubeconfig files/],
  ])('refuses %s (exit 3)', (_what, lines, message) => {
    const error = errorOf(withKubeconfigs(...lines));
    expect(error.exitCode).toBe(3);
    expect(error.message).toMatch(message);
  });
});

describe('serviceAccountKey', () => {
  const withKey = (...lines: string[]) => [...BASE, 'serviceAccountKey:', ...lines].join('\n');

  it('resolves both paths, the owner and the default mount k8s/<cluster>/kv', () => {
    const config = parseConfig(
      withKey(
        '  key: /etc/kubernetes/pki/sa.key',
        '  publicKeys: /etc/kubernetes/pki/sa.pub',
        '  owner: root',
      ),
      makeFacts(),
    );
    expect(config.serviceAccountKey).toEqual({
      key: '/etc/kubernetes/pki/sa.key',
      publicKeys: '/etc/kubernetes/pki/sa.pub',
      owner: 'root',
      mount: 'k8s/prod/kv',
    });
  });

  it.each([
    [
      'an unknown key',
      ['  key: /etc/k/sa.key', '  publicKeys: /etc/k/sa.pub', '  mode: "0644"'],
      /serviceAccountKey\.mode: unknown key "mode" \(allowed keys here: key, publicKeys, owner, group, mount\)/,
    ],
    ['a missing publicKeys', ['  key: /etc/k/sa.key'], /serviceAccountKey\.publicKeys: is required/],
    [
      'one path for both',
      ['  key: /etc/k/sa', '  publicKeys: /etc/k/sa'],
      /serviceAccountKey\.publicKeys: \/etc\/k\/sa is also the path of key/,
    ],
    [
      'a file inside a set directory',
      ['  key: /etc/kubernetes/pki/apiserver/sa.key', '  publicKeys: /etc/k/sa.pub'],
      /serviceAccountKey\.key: \/etc\/kubernetes\/pki\/apiserver\/sa\.key is inside the directory of certificate apiserver/,
    ],
    [
      'a bad mount',
      ['  key: /etc/k/sa.key', '  publicKeys: /etc/k/sa.pub', '  mount: "/kv/"'],
      /serviceAccountKey\.mount: "\/kv\/" is not a mount path/,
    ],
  ])('refuses %s (exit 3)', (_what, lines, message) => {
    const error = errorOf(withKey(...lines));
    expect(error.exitCode).toBe(3);
    expect(error.message).toMatch(message);
  });
});
