/**
 * `check`: is anything due? No Vault calls, so it is cheap enough for a systemd timer's ExecCondition=.
 * Exit 0 when nothing is due, 10 when a certificate must be issued (SPEC). With --exec-condition the
 * answer is turned around for systemd (0 = run the renewal service, 1 = skip it quietly); when check
 * itself cannot decide (bad config, a usage error) it answers 0 so `bootstrap` runs and fails visibly.
 */
import type { GlobalArgs } from '../cli/global-options.js';
import type { CliIo } from '../cli/run-cli.js';
import { AgentError, ExitCode } from '../errors.js';
import { loggerFor } from './bootstrap.js';
import { inspectLocally } from './inspect-local.js';
import { loadConfig } from './load-config.js';

export interface CheckArgs extends GlobalArgs {
  execCondition?: boolean;
}

export async function runCheck(args: CheckArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  try {
    const config = await loadConfig(args.config, io.env);
    const { results } = await inspectLocally(config, new Date());
    const due = results.filter((r) => r.inspection.verdict);
    for (const r of results) {
      const v = r.inspection.verdict;
      io.stdout(
        v
          ? `${r.spec.name}: due (${v.reason}): ${v.message}\n`
          : `${r.spec.name}: ok, renews ${r.inspection.renewalTime?.toISOString()}\n`,
      );
    }
    if (args.execCondition) return due.length > 0 ? 0 : 1;
    return due.length > 0 ? ExitCode.renewalDue : ExitCode.ok;
  } catch (error) {
    if (!args.execCondition) throw error;
    // systemd skips the unit quietly on 1-254: when in doubt, let the renewal run and fail loudly itself.
    log.warn(`check failed, letting the renewal run: ${(error as Error).message}`, {
      code: AgentError.is(error) ? error.code : 'internal',
    });
    return 0;
  }
}
