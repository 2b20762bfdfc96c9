/**
 * What a command gets from the command line (cli/ parses argv into these and imports them from here, so
 * app/ never imports cli/): its console (`CliIo`) and the global flags (`GlobalArgs`), and what every command
 * derives from them: its logger and its --timeout. Kept apart from the wiring so that commands importing
 * these (check, status, provision, the engineer commands) do not load the certificate pass, the Vault client and
 * the writer with it.
 */
import { UsageError } from '../errors.js';
import { createLogger, type LogFormat, type Logger, type LogLevel } from '../log.js';
import { parseDurationSeconds } from '../util/duration.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

/** Flags every command takes (SPEC "Commands": global flags; the table is cli/global-options.ts). */
export interface GlobalArgs {
  config: string;
  logFormat: LogFormat;
  logLevel: LogLevel;
  tokenFile?: string;
  timeout: string;
  tlsSkipVerify: boolean;
}

export function loggerFor(args: GlobalArgs, io: CliIo): Logger {
  return createLogger({ level: args.logLevel, format: args.logFormat, write: (l) => io.stderr(`${l}\n`) });
}

export function timeoutMsOf(args: GlobalArgs): number {
  const seconds = parseDurationSeconds(args.timeout);
  if (seconds === undefined || seconds <= 0)
    throw new UsageError(`--timeout "${args.timeout}" is not a duration`);
  return seconds * 1000;
}
