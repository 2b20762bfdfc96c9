import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type KubeconfigEntry, mergeKubeconfig } from '../../src/kube/kubeconfig.js';

const entry = (over: Partial<KubeconfigEntry> = {}): KubeconfigEntry => ({
  clusterName: 'c1',
  server: 'https://api.c1:6443',
  caPem: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
  userName: 'c1-vault',
  user: { kind: 'exec', command: 'vault-pki-agent', args: ['kube-credential', '--cluster', 'c1'], env: [] },
  contextName: 'c1',
  useContext: false,
  ...over,
});

const existing = `apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: { server: https://other:6443, proxy-url: http://proxy:3128 }
- name: c1
  cluster: { server: https://old:6443 }
users:
- name: other
  user: { token: abc }
contexts:
- name: other
  context: { cluster: other, user: other, namespace: ns }
current-context: other
preferences: { colors: true }
extensions: [{ name: x, extension: { a: 1 } }]
`;

describe('mergeKubeconfig', () => {
  it('replaces its own entries and keeps every other one, current-context included', () => {
    const before = parse(existing);
    const after = parse(mergeKubeconfig(existing, entry()));
    expect(after.clusters[0]).toEqual(before.clusters[0]);
    expect(after.clusters).toHaveLength(2);
    expect(after.clusters[1].cluster.server).toBe('https://api.c1:6443');
    expect(after.users[0]).toEqual(before.users[0]);
    expect(after.contexts[0]).toEqual(before.contexts[0]);
    expect(after.contexts[1]).toEqual({ name: 'c1', context: { cluster: 'c1', user: 'c1-vault' } });
    expect(after['current-context']).toBe('other');
    expect(after.preferences).toEqual({ colors: true });
    expect(after.extensions).toEqual(before.extensions);
    expect(after.users[1].user.exec).toMatchObject({
      apiVersion: 'client.authentication.k8s.io/v1',
      interactiveMode: 'Never',
    });
  });

  it('--use-context switches; a new file gets the context as current', () => {
    expect(parse(mergeKubeconfig(existing, entry({ useContext: true })))['current-context']).toBe('c1');
    const fresh = parse(mergeKubeconfig(undefined, entry()));
    expect(fresh).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': 'c1' });
  });

  it('embeds certificate and key as base64, replacing the exec stanza', () => {
    const once = mergeKubeconfig(existing, entry());
    const embedded = parse(
      mergeKubeconfig(once, entry({ user: { kind: 'embedded', certificatePem: 'CERT', keyPem: 'KEY' } })),
    );
    const user = embedded.users.find((u: { name: string }) => u.name === 'c1-vault').user;
    expect(user).toEqual({ 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' });
  });

  it('refuses a file that is not a kubeconfig rather than clobbering it', () => {
    expect(() => mergeKubeconfig('- a\n- b\n', entry())).toThrow(/not a mapping/);
    expect(() => mergeKubeconfig('clusters: {a: 1}\n', entry())).toThrow(/"clusters" is not a list/);
  });

  it('a kubeconfig that is not YAML: the error names line and column, never the text of the line', () => {
    const secret = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tc2VjcmV0';
    const broken = `users:\n- name: x\n  user:\n    client-key-data: ${secret}\n   token: [\n`;
    let message = '';
    try {
      mergeKubeconfig(broken, entry());
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^kubeconfig is not valid YAML at line \d+, column \d+ \(\w+\)$/);
    expect(message).not.toContain(secret.slice(0, 12));
  });
});
