/** Engineer commands: `kubeconfig` and the kubectl exec plugin `kube-credential`. Implementations load on first use. */
import type { CommandModule } from './commands.js';

export const kubeconfigCommand: CommandModule = {
  command: 'kubeconfig',
  describe:
    'engineers: add or update a cluster/user/context in a kubeconfig (merged, 0600); the user runs kube-credential unless --embed',
  builder: (y) =>
    y
      .option('cluster', { type: 'string', demandOption: true })
      .option('server', { type: 'string', demandOption: true, describe: 'API server URL (https://...)' })
      .option('user', { type: 'string', describe: 'user entry name (default <cluster>-vault)' })
      .option('context', { type: 'string', describe: 'context name (default <cluster>)' })
      .option('use-context', { type: 'boolean', default: false, describe: 'make the context current' })
      .option('embed', {
        type: 'boolean',
        default: false,
        describe: 'write a certificate and key instead of the plugin',
      })
      .option('kubeconfig', {
        type: 'string',
        describe: 'file to merge into (default $KUBECONFIG or ~/.kube/config)',
      })
      .option('mount', { type: 'string', describe: 'Kubernetes PKI mount (default k8s/<cluster>/pki)' })
      .option('common-name', { type: 'string', describe: 'your login name, when the token does not tell it' })
      .option('ttl', { type: 'string', describe: 'certificate lifetime for --embed (default: the role)' })
      .option('exec-command', {
        type: 'string',
        describe: 'plugin command in the kubeconfig (default vault-pki-agent)',
      })
      .option('vault-addr', { type: 'string', describe: 'Vault address (default VAULT_ADDR)' }),
  run: async (args, io) => {
    const { runKubeconfig } = await import('../app/kubeconfig.js');
    return runKubeconfig(args as never, io);
  },
};

export const kubeCredentialCommand: CommandModule = {
  command: 'kube-credential',
  describe: 'kubectl exec plugin: prints a client.authentication.k8s.io/v1 ExecCredential (cached, 0600)',
  builder: (y) =>
    y
      .option('cluster', { type: 'string', demandOption: true })
      .option('mount', { type: 'string', describe: 'Kubernetes PKI mount (default k8s/<cluster>/pki)' })
      .option('role', { type: 'string', default: 'engineer' })
      .option('common-name', { type: 'string', describe: 'your login name, when the token does not tell it' })
      .option('ttl', { type: 'string', describe: 'certificate lifetime (default: the role)' })
      .option('vault-addr', { type: 'string', describe: 'Vault address (default VAULT_ADDR)' }),
  run: async (args, io) => {
    const { runKubeCredential } = await import('../app/kube-credential.js');
    return runKubeCredential(args as never, io);
  },
};
