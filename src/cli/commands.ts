/** The command list: one entry per command, each loading its implementation on first use. */

import type { CheckArgs } from '../app/check.js';
import type { GlobalArgs } from '../app/cli-context.js';
import type { RevokeArgs } from '../app/revoke.js';
import type { StatusArgs } from '../app/status.js';
import type { BootstrapArgs } from '../app/wiring.js';
import { kubeCredentialCommand, kubeconfigCommand } from './kube.js';
import { type CommandModule, defineCommand } from './options.js';
import { provisionCommand, tokenCommand } from './provision.js';

export type { CommandModule } from './options.js';

export const COMMANDS: CommandModule[] = [
  defineCommand<BootstrapArgs>({
    command: 'bootstrap',
    describe:
      'issue every certificate that is missing, changed or due; write each set atomically; run actions',
    examples: [
      [
        'bootstrap --config /etc/vault-pki-agent/config.yaml',
        'issue what is due, write each set, restart its units',
      ],
      ['bootstrap --dry-run', 'print what would be issued and why; change nothing'],
      [
        'bootstrap --only etcd-peer --timeout 2m',
        'one certificate, giving up after 2 minutes of Vault outage',
      ],
    ],
    options: {
      'dry-run': {
        type: 'boolean',
        default: false,
        describe: 'decide and print the plan; issue and write nothing',
      },
      only: { type: 'string', array: true, describe: 'limit the run to these certificate names' },
    },
    run: async (args, io) => {
      const { runBootstrap } = await import('../app/bootstrap.js');
      return runBootstrap(args, io);
    },
  }),
  defineCommand<GlobalArgs>({
    command: 'run',
    describe:
      'bootstrap, then stay up and renew each certificate when due (SIGHUP: check now; SIGTERM: finish and exit)',
    examples: [['run --log-format json', 'the long-running daemon (units/vault-pki-agent-run.service)']],
    options: {},
    run: async (args, io) => {
      const { runDaemon } = await import('../app/run.js');
      return runDaemon(args, io);
    },
  }),
  defineCommand<CheckArgs>({
    command: 'check',
    describe:
      'exit 0 when nothing is due, 10 when a certificate needs issuing or the token its lookup or renewal; no Vault calls',
    examples: [
      ['check', 'exit 10 when something is due, 0 when not'],
      ['check --exec-condition', 'for systemd ExecCondition=: 0 runs the renewal service, 1 skips it'],
    ],
    options: {
      'exec-condition': {
        type: 'boolean',
        default: false,
        describe: 'answer for systemd ExecCondition=: 0 when something is due (run), 1 when not (skip)',
      },
    },
    run: async (args, io) => {
      const { runCheck } = await import('../app/check.js');
      return runCheck(args, io);
    },
  }),
  defineCommand<StatusArgs>({
    command: 'status',
    describe: 'show each certificate, its expiry, next renewal and last result, and the token TTL',
    examples: [
      ['status', 'a table: each certificate, its expiry, next renewal and last result'],
      ['status --json | jq .certificates', 'the same for machines'],
    ],
    options: { json: { type: 'boolean', default: false, describe: 'machine-readable output' } },
    run: async (args, io) => {
      const { runStatus } = await import('../app/status.js');
      return runStatus(args, io);
    },
  }),
  defineCommand<RevokeArgs>({
    command: 'revoke',
    describe:
      "decommission: revoke this node's current certificates in Vault (by PEM, proven with their keys); changes no file",
    examples: [
      ['revoke', "from an instance-termination hook: revoke every set's certificate"],
      ['revoke --only kubelet-client', 'one certificate'],
    ],
    options: {
      only: { type: 'string', array: true, describe: 'limit it to these certificate names' },
    },
    run: async (args, io) => {
      const { runRevoke } = await import('../app/revoke.js');
      return runRevoke(args, io);
    },
  }),
  provisionCommand,
  tokenCommand,
  kubeconfigCommand,
  kubeCredentialCommand,
  defineCommand<GlobalArgs>({
    command: 'version',
    describe: 'print version and build information',
    examples: [['version', 'version and build information']],
    options: {},
    run: async (_args, io) => {
      const { versionText } = await import('./version.js');
      io.stdout(`${versionText()}\n`);
      return 0;
    },
  }),
];
