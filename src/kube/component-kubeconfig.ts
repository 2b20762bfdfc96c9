/**
 * A component's kubeconfig as kubeadm writes them (admin.conf, controller-manager.conf, scheduler.conf,
 * kubelet.conf), except that the CA, certificate and key are the agent's set files by path: the stable
 * names in the set directory follow every renewal through the `..data` switch, so the file changes only
 * when the config does. Pure and deterministic: the same config gives the same bytes.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { CertSpec, KubeconfigSpec } from '../config/types.js';

export function renderComponentKubeconfig(spec: KubeconfigSpec, cert: CertSpec, cluster: string): string {
  const file = (name: string) => join(cert.files.dir, name);
  const context = `${cert.name}@${cluster}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { server: spec.server, 'certificate-authority': file(cert.files.names.ca) },
      },
    ],
    users: [
      {
        name: cert.name,
        user: {
          'client-certificate': file(cert.files.names.cert),
          'client-key': file(cert.files.names.key),
        },
      },
    ],
    contexts: [{ name: context, context: { cluster, user: cert.name } }],
    'current-context': context,
    preferences: {},
  };
  return `# Written by vault-pki-agent from its config; edits are replaced at its next run.\n${stringify(doc, { lineWidth: 0 })}`;
}
