/**
 * `check`: is anything due? No Vault calls, so it is cheap enough for a systemd timer's ExecCondition=.
 * Exit 0 when nothing is due, 10 when a certificate must be issued, a set directory holds a killed writer's
 * leftovers (removed by the next pass), or the token needs its upkeep (a first lookup, or a renewal at half
 * its TTL: plan/token-upkeep.ts). With --exec-condition the
 * answer is turned around for systemd (0 = run the renewal service, 1 = skip it quietly); when check
 * itself cannot decide (bad config, a usage error) it answers 0 so `bootstrap` runs and fails visibly.
 */
import { AgentError, ExitCode } from '../errors.js';
import { tokenUpkeep } from '../plan/token-upkeep.js';
import { type CliIo, type GlobalArgs, loggerFor } from './cli-context.js';
import { inspectLocally } from './inspect-local.js';
import { loadConfig } from './load-config.js';

export interface CheckArgs extends GlobalArgs {
  execCondition?: boolean;
}

export async function runCheck(args: CheckArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  try {
    const config = await loadConfig(args.config, io.env);
    const now = new Date();
    const { state, results } = await inspectLocally(config, now);
    const due: unknown[] = results.filter((r) => r.inspection.verdict);
    for (const r of results) {
      const v = r.inspection.verdict;
      io.stdout(
        v
          ? `${r.spec.name}: due (${v.reason}): ${v.message}\n`
          : `${r.spec.name}: ok, renews ${r.inspection.renewalTime?.toISOString()}\n`,
      );
      // Leftovers of a killed writer (a private key in an orphan generation among them): due too, so the
      // renewal service runs and its pass removes them.
      for (const l of r.leftovers) io.stdout(`${r.spec.name}: leftover: ${l}\n`);
      if (r.leftovers.length > 0 && !v) due.push(r);
    }
    const token = tokenUpkeep(state.token, now);
    if (token.action === 'none') {
      if (token.renewAt) io.stdout(`token: ok, renews ${token.renewAt.toISOString()}\n`);
    } else {
      io.stdout(`token: due (${token.action}): ${token.reason}\n`);
      due.push(token);
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
