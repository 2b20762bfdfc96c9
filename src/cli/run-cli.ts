/**
 * argv -> command. Each command lives in its own module and is imported only when it runs, so
 * `--version` and `--help` stay fast. The plain command lines are parsed without yargs (fast-argv.ts);
 * everything else, help included, goes through yargs. Returns the exit code; never calls process.exit.
 */
import type { CliIo } from '../app/cli-context.js';
import { AgentError, ExitCode, exitCodeOf, UsageError } from '../errors.js';
import { createLogger, redact } from '../log.js';
import { COMMANDS, type CommandModule } from './commands.js';
import { fastParse, type Invocation } from './fast-argv.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { withOptions, withPositionals } from './options.js';

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
};

const SCRIPT_NAME = 'vault-pki-agent';

export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  try {
    const invocation = fastInvocation(argv) ?? (await yargsInvocation(argv, io));
    return invocation ? await invocation.command.run(invocation.args, io) : ExitCode.ok;
  } catch (error) {
    return reportFailure(error, argv, io);
  }
}

/** The command and its arguments when argv is one of the plain forms; undefined sends argv to yargs. */
export function fastInvocation(argv: readonly string[]): Invocation<CommandModule> | undefined {
  return fastParse(argv, COMMANDS, GLOBAL_OPTIONS, SCRIPT_NAME);
}

/**
 * The command and its arguments as yargs parses argv; undefined when yargs answered by itself (help or
 * `--version`). Throws a UsageError for a command line yargs rejects.
 */
export async function yargsInvocation(
  argv: readonly string[],
  io: CliIo,
): Promise<Invocation<CommandModule> | undefined> {
  const { default: yargs } = await import('yargs');
  let invocation: Invocation<CommandModule> | undefined;
  let parser = withOptions(yargs([...argv]), GLOBAL_OPTIONS)
    .scriptName(SCRIPT_NAME)
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
      (y) => {
        let built = withOptions(withPositionals(y, command.positionals ?? {}), command.options);
        for (const [line, what] of command.examples ?? []) built = built.example(`$0 ${line}`, what);
        return built;
      },
      (args: Record<string, unknown>) => {
        invocation = { command, args };
      },
    );
  }
  const parsed = await parser.demandCommand(1, 'name a command').parseAsync();
  if (parsed.version) {
    const { versionText } = await import('./version.js');
    io.stdout(`${versionText()}\n`);
    return undefined;
  }
  return invocation;
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
