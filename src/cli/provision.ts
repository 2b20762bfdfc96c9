/** Operator commands: `provision` and `token create` (SPEC "Commands"). Implementations load on first use. */
import type { CommandModule } from './commands.js';

export const provisionCommand: CommandModule = {
  command: 'provision',
  describe:
    'operators: create or update the mounts, CAs, URLs, roles, policies and token roles of a cluster; --plan only prints the diff',
  builder: (y) =>
    y
      .option('cluster', {
        type: 'string',
        demandOption: true,
        describe: 'cluster name (mounts etcd/<c>/pki, ...)',
      })
      .option('plan', { type: 'boolean', default: false, describe: 'print the diff and change nothing' })
      .option('parent', {
        type: 'string',
        describe: 'PKI mount whose CA signs each cluster CA as an intermediate (default: internal roots)',
      })
      .option('engineer-auth', {
        type: 'string',
        describe:
          "engineers' auth method mount (e.g. oidc, userpass): the engineer role binds the CN to the login name",
      })
      .option('provision-config', {
        type: 'string',
        describe: 'YAML file overriding names, TTLs and name constraints (docs/OPERATORS.md)',
      })
      .option('vault-addr', { type: 'string', describe: 'Vault address (default VAULT_ADDR)' }),
  run: async (args, io) => {
    const { runProvision } = await import('../app/provision.js');
    return runProvision(args as never, io);
  },
};

export const tokenCommand: CommandModule = {
  command: 'token <action>',
  describe:
    'operators: `token create` mints a node token (periodic, orphan, one policy) and prints it on stdout only',
  builder: (y) =>
    y
      .positional('action', { type: 'string', choices: ['create'] })
      .option('cluster', { type: 'string', demandOption: true })
      .option('node-type', {
        type: 'string',
        demandOption: true,
        choices: ['etcd-member', 'control-plane', 'worker'],
      })
      .option('period', {
        type: 'string',
        describe: "override the token role's period (needs a root or sudo token)",
      })
      .option('wrap-ttl', {
        type: 'string',
        describe: 'print a response-wrapping token with this TTL instead',
      })
      .option('provision-config', {
        type: 'string',
        describe: 'the provision config, when it renames token roles',
      })
      .option('vault-addr', { type: 'string', describe: 'Vault address (default VAULT_ADDR)' }),
  run: async (args, io) => {
    const { runTokenCreate } = await import('../app/token-create.js');
    return runTokenCreate(args as never, io);
  },
};
