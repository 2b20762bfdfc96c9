/** `status`: per certificate what is on disk, when it renews and how the last attempt went; plus the token. */

import { ExitCode } from '../errors.js';
import type { CliIo, GlobalArgs } from './cli-context.js';
import { inspectLocally } from './inspect-local.js';
import { loadConfig } from './load-config.js';
import { buildStatusReport, renderStatusTable } from './status-report.js';

export interface StatusArgs extends GlobalArgs {
  json?: boolean;
}

export async function runStatus(args: StatusArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args.config, io.env);
  const now = new Date();
  const { state, results } = await inspectLocally(config, now);
  const report = buildStatusReport(results, state, now);
  io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatusTable(report));
  return ExitCode.ok;
}
