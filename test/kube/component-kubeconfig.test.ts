import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { CertSpec, KubeconfigSpec } from '../../src/config/types.js';
import { renderComponentKubeconfig } from '../../src/kube/component-kubeconfig.js';

const spec: KubeconfigSpec = {
  path: '/etc/kubernetes/scheduler.conf',
  certificate: 'scheduler',
  server: 'https://10.0.0.10:6443',
};
const cert = {
  name: 'scheduler',
  files: {
    dir: '/etc/kubernetes/pki/scheduler',
    names: { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt', fullchain: 'fullchain.pem' },
  },
} as unknown as CertSpec;

describe('renderComponentKubeconfig', () => {
  it("points at the set's stable file names, kubeadm's layout otherwise", () => {
    const text = renderComponentKubeconfig(spec, cert, 'prod');
    expect(
      text.startsWith('# Written by vault-pki-agent from its config; edits are replaced at its next run.\n'),
    ).toBe(true);
    expect(parse(text)).toEqual({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'prod',
          cluster: {
            server: 'https://10.0.0.10:6443',
            'certificate-authority': '/etc/kubernetes/pki/scheduler/ca.crt',
          },
        },
      ],
      users: [
        {
          name: 'scheduler',
          user: {
            'client-certificate': '/etc/kubernetes/pki/scheduler/tls.crt',
            'client-key': '/etc/kubernetes/pki/scheduler/tls.key',
          },
        },
      ],
      contexts: [{ name: 'scheduler@prod', context: { cluster: 'prod', user: 'scheduler' } }],
      'current-context': 'scheduler@prod',
      preferences: {},
    });
  });

  it('is deterministic: the same config gives the same bytes, another server other bytes', () => {
    expect(renderComponentKubeconfig(spec, cert, 'prod')).toBe(renderComponentKubeconfig(spec, cert, 'prod'));
    expect(renderComponentKubeconfig({ ...spec, server: 'https://lb:6443' }, cert, 'prod')).toContain(
      'server: https://lb:6443\n',
    );
  });
});
