/**
 * What every command derives from the global flags: its logger and its --timeout. Kept apart from
 * bootstrap.ts so that commands importing these (check, status, provision, the engineer commands) do not
 * load the certificate pass, the Vault client and the writer with it.
 */
import type { GlobalArgs } from '../cli/global-options.js';
import type { CliIo } from '../cli/run-cli.js';
import { UsageError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { parseDurationSeconds } from '../util/duration.js';

export function loggerFor(args: GlobalArgs, io: CliIo): Logger {
  return createLogger({ level: args.logLevel, format: args.logFormat, write: (l) => io.stderr(`${l}\n`) });
}

export function timeoutMsOf(args: GlobalArgs): number {
  const seconds = parseDurationSeconds(args.timeout);
  if (seconds === undefined || seconds <= 0)
    throw new UsageError(`--timeout "${args.timeout}" is not a duration`);
  return seconds * 1000;
}
