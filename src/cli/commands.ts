/** The command list: one entry per command, each loading its implementation on first use. */
import type { Argv } from 'yargs';
import type { BootstrapArgs } from '../app/bootstrap.js';
import type { CliIo } from './run-cli.js';

export interface CommandModule {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  run: (args: Record<string, unknown>, io: CliIo) => Promise<number>;
}

export const COMMANDS: CommandModule[] = [
  {
    command: 'bootstrap',
    describe:
      'issue every certificate that is missing, changed or due; write each set atomically; run actions',
    builder: (y) =>
      y
        .option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'decide and print the plan; issue and write nothing',
        })
        .option('only', {
          type: 'string',
          array: true,
          describe: 'limit the run to these certificate names',
        }),
    run: async (args, io) => {
      const { runBootstrap } = await import('../app/bootstrap.js');
      return runBootstrap(args as unknown as BootstrapArgs, io);
    },
  },
  {
    command: 'version',
    describe: 'print version and build information',
    builder: (y) => y,
    run: async (_args, io) => {
      const { versionText } = await import('./version.js');
      io.stdout(`${versionText()}\n`);
      return 0;
    },
  },
];
