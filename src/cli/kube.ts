/** Engineer commands: `kubeconfig` and the kubectl exec plugin `kube-credential`. Implementations load on first use. */
import type { KubeCredentialArgs } from '../app/kube-credential.js';
import type { KubeconfigArgs } from '../app/kubeconfig.js';
import { type CommandModule, defineCommand } from './options.js';

export const kubeconfigCommand: CommandModule = defineCommand<KubeconfigArgs>({
  command: 'kubeconfig',
  describe:
    'engineers: add or update a cluster/user/context in a kubeconfig (merged, 0600); the user runs kube-credential unless --embed',
  examples: [
    [
      'kubeconfig --cluster prod-eu1 --server https://api.prod-eu1.example.com:6443',
      'add the cluster to ~/.kube/config; kubectl then runs kube-credential',
    ],
    ['kubeconfig --cluster prod-eu1 --server https://api:6443 --embed', 'embed a certificate instead'],
  ],
  options: {
    cluster: { type: 'string', demandOption: true },
    server: { type: 'string', demandOption: true, describe: 'API server URL (https://...)' },
    user: { type: 'string', describe: 'user entry name (default <cluster>-vault)' },
    context: { type: 'string', describe: 'context name (default <cluster>)' },
    'use-context': { type: 'boolean', default: false, describe: 'make the context current' },
    embed: {
      type: 'boolean',
      default: false,
      describe: 'write a certificate and key instead of the plugin',
    },
    kubeconfig: {
      type: 'string',
      describe: 'file to merge into (default $KUBECONFIG or ~/.kube/config)',
    },
    mount: { type: 'string', describe: 'Kubernetes PKI mount (default k8s/<cluster>/pki)' },
    'common-name': { type: 'string', describe: 'your login name, when the token does not tell it' },
    ttl: { type: 'string', describe: 'certificate lifetime for --embed (default: the role)' },
    'exec-command': {
      type: 'string',
      describe: 'plugin command in the kubeconfig (default vault-pki-agent)',
    },
    'vault-addr': { type: 'string', describe: 'Vault address (default VAULT_ADDR)' },
  },
  run: async (args, io) => {
    const { runKubeconfig } = await import('../app/kubeconfig.js');
    return runKubeconfig(args, io);
  },
});

export const kubeCredentialCommand: CommandModule = defineCommand<KubeCredentialArgs>({
  command: 'kube-credential',
  describe: 'kubectl exec plugin: prints a client.authentication.k8s.io/v1 ExecCredential (cached, 0600)',
  examples: [
    [
      'kube-credential --cluster prod-eu1',
      'what kubectl runs: prints an ExecCredential, cached until near expiry',
    ],
  ],
  options: {
    cluster: { type: 'string', demandOption: true },
    mount: { type: 'string', describe: 'Kubernetes PKI mount (default k8s/<cluster>/pki)' },
    role: { type: 'string', default: 'engineer' },
    'common-name': { type: 'string', describe: 'your login name, when the token does not tell it' },
    ttl: { type: 'string', describe: 'certificate lifetime (default: the role)' },
    'vault-addr': { type: 'string', describe: 'Vault address (default VAULT_ADDR)' },
  },
  run: async (args, io) => {
    const { runKubeCredential } = await import('../app/kube-credential.js');
    return runKubeCredential(args, io);
  },
});
