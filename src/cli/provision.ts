/** Operator commands: `provision` and `token create` (SPEC "Commands"). Implementations load on first use. */
import type { ProvisionArgs } from '../app/provision.js';
import type { TokenCreateArgs } from '../app/token-create.js';
import { type CommandModule, defineCommand } from './options.js';

export const provisionCommand: CommandModule = defineCommand<ProvisionArgs>({
  command: 'provision',
  describe:
    'operators: create or update the mounts, CAs, URLs, roles, policies and token roles of a cluster; --plan only prints the diff',
  examples: [
    ['provision --cluster prod-eu1 --plan', 'show what would be created or changed; change nothing'],
    [
      'provision --cluster prod-eu1 --engineer-auth oidc --provision-config prod-eu1.yaml',
      'create or update mounts, CAs, roles and policies',
    ],
  ],
  options: {
    cluster: {
      type: 'string',
      demandOption: true,
      describe: 'cluster name (mounts etcd/<c>/pki, ...)',
    },
    plan: { type: 'boolean', default: false, describe: 'print the diff and change nothing' },
    parent: {
      type: 'string',
      describe: 'PKI mount whose CA signs each cluster CA as an intermediate (default: internal roots)',
    },
    'engineer-auth': {
      type: 'string',
      describe:
        "engineers' auth method mount (e.g. oidc, userpass): the engineer role binds the CN to the login name",
    },
    'provision-config': {
      type: 'string',
      describe: 'YAML file overriding names, TTLs and name constraints (docs/OPERATORS.md)',
    },
    'rotate-service-account-key': {
      type: 'boolean',
      default: false,
      describe:
        'new service-account signing key; the previous public keys stay in the verification set (docs/OPERATORS.md)',
    },
    'vault-addr': { type: 'string', describe: 'Vault address (default VAULT_ADDR)' },
  },
  run: async (args, io) => {
    const { runProvision } = await import('../app/provision.js');
    return runProvision(args, io);
  },
});

export const tokenCommand: CommandModule = defineCommand<TokenCreateArgs, 'action'>({
  command: 'token <action>',
  describe:
    'operators: `token create` mints a node token (periodic, orphan, one policy) and prints it on stdout only',
  positionals: { action: { type: 'string', choices: ['create'] } },
  examples: [
    ['token create --cluster prod-eu1 --node-type worker', 'the VaultToken parameter of the workers stack'],
    [
      'token create --cluster prod-eu1 --node-type worker --wrap-ttl 1h',
      'a single-use response-wrapped token',
    ],
  ],
  options: {
    cluster: { type: 'string', demandOption: true },
    'node-type': {
      type: 'string',
      demandOption: true,
      choices: ['etcd-member', 'control-plane', 'worker'],
    },
    period: {
      type: 'string',
      describe: "override the token role's period (needs a root or sudo token)",
    },
    'wrap-ttl': {
      type: 'string',
      describe: 'print a response-wrapping token with this TTL instead',
    },
    'provision-config': {
      type: 'string',
      describe: 'the provision config, when it renames token roles',
    },
    'vault-addr': { type: 'string', describe: 'Vault address (default VAULT_ADDR)' },
  },
  run: async (args, io) => {
    const { runTokenCreate } = await import('../app/token-create.js');
    return runTokenCreate(args, io);
  },
});
