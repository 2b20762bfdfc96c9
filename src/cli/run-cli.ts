/**
 * argv -> command. Each command lives in its own module and is imported only when it runs, so
 * `--version` and `--help` stay fast. Returns the exit code; never calls process.exit.
 */
import yargs from 'yargs';
import { AgentError, ExitCode, exitCodeOf, UsageError } from '../errors.js';
import { createLogger, redact } from '../log.js';
import { COMMANDS } from './commands.js';
import { withGlobalOptions } from './global-options.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
};

export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let parser = withGlobalOptions(yargs(argv))
    .scriptName('vault-pki-agent')
    .usage('$0 <command> [options]')
    .strict()
    .version(false)
    .option('version', { type: 'boolean', describe: 'print the version and exit' })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err && !msg ? err : new UsageError(msg ?? String(err));
    });
  for (const command of COMMANDS) {
    parser = parser.command(
      command.command,
      command.describe,
      command.builder,
      async (args: Record<string, unknown>) => {
        exitCode = await command.run(args, io);
      },
    );
  }
  try {
    const parsed = await parser.demandCommand(1, 'name a command').parseAsync();
    if (parsed.version) {
      const { versionText } = await import('./version.js');
      io.stdout(`${versionText()}\n`);
      return ExitCode.ok;
    }
    return exitCode;
  } catch (error) {
    return reportFailure(error, argv, io);
  }
}

function reportFailure(error: unknown, argv: string[], io: CliIo): number {
  // `check --exec-condition` answers systemd, which skips a unit quietly on 1-254: a usage error there must
  // let the renewal run (and fail visibly) instead of silently disabling renewals.
  const code = argv.includes('--exec-condition') ? ExitCode.ok : exitCodeOf(error);
  // The parser may not have got as far as --log-format: read it from argv (`--log-format json` or `=json`).
  const at = argv.findIndex((a) => a === '--log-format' || a.startsWith('--log-format='));
  const value =
    at < 0 ? undefined : (argv[at] as string).includes('=') ? argv[at]?.split('=')[1] : argv[at + 1];
  const format = value === 'json' ? 'json' : 'text';
  const log = createLogger({ format, write: (l) => io.stderr(`${l}\n`) });
  if (AgentError.is(error)) {
    log.error(error.message, { code: error.code, exit: code });
    if (error.code === 'usage') io.stderr('run `vault-pki-agent --help` for usage\n');
  } else {
    const e = error as Error;
    log.error(`internal error: ${redact(e?.message ?? String(error))}`, { exit: code });
    if (process.env.VPA_DEBUG && e?.stack) io.stderr(`${redact(e.stack)}\n`);
  }
  return code;
}
