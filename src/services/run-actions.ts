/**
 * Runs a plan from `planActions` after the pass's sets are written. A unit that is not active is
 * left alone (a unit that has not started yet reads the new files when it starts; one an operator
 * stopped stays stopped) unless its action says `start: true`. One failure does not stop the others:
 * every action runs, and then a single ActionsFailedError (exit 6) names everything that failed.
 */
import { WriteError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PlannedAction } from '../plan/actions.js';
import { DEFAULT_EXEC_TIMEOUT_MS, runExecAction } from './exec-action.js';
import type { ServiceManager, ServiceVerb } from './service-manager.js';

export type ActionOutcome = 'ran' | 'started' | 'skipped-inactive' | 'left-running' | 'failed';

export interface ActionRecord {
  kind: 'systemd' | 'exec';
  /** The unit, or the program (argv[0]) of an exec action. */
  target: string;
  /** What was asked of systemd (`start` when an inactive unit was started). */
  verb?: ServiceVerb;
  certNames: string[];
  outcome: ActionOutcome;
  error?: string;
}

export interface RunActionsOptions {
  services: ServiceManager;
  log: Logger;
  /** At boot an inactive unit is one that has not started yet; only the log wording differs. */
  atBoot: boolean;
  execTimeoutMs?: number;
  /** Replaceable for tests; defaults to running the argv through the program runner (util/program.ts). */
  runExec?: typeof runExecAction;
}

/** Every failed action of a pass, with the record of everything that ran (for status/metrics). */
export class ActionsFailedError extends WriteError {
  constructor(
    readonly records: ActionRecord[],
    failures: unknown[],
  ) {
    const failed = records.filter((r) => r.outcome === 'failed');
    const names = failed.map((r) => r.target);
    super(
      'action-failed',
      `${failed.length} action(s) failed: ${failed.map((r) => `${r.target}: ${r.error}`).join('; ')}`,
      { cause: new AggregateError(failures), details: { failed: names.join(',') } },
    );
    this.name = 'ActionsFailedError';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runActions(
  planned: readonly PlannedAction[],
  options: RunActionsOptions,
): Promise<ActionRecord[]> {
  const { services, log, atBoot } = options;
  const runExec = options.runExec ?? runExecAction;
  const records: ActionRecord[] = [];
  const failures: unknown[] = [];

  for (const action of planned) {
    if (action.kind === 'exec') {
      const target = action.argv[0] ?? '';
      const record: ActionRecord = { kind: 'exec', target, certNames: [action.certName], outcome: 'ran' };
      try {
        await runExec(
          action.argv,
          { VPA_CERT_NAME: action.certName, VPA_CERT_DIR: action.certDir },
          options.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
        );
        log.info('exec action ran', { program: target, cert: action.certName });
      } catch (error) {
        record.outcome = 'failed';
        record.error = messageOf(error);
        failures.push(error);
        log.error('exec action failed', { program: target, cert: action.certName, error: record.error });
      }
      records.push(record);
      continue;
    }

    const { unit, certNames } = action;
    const record: ActionRecord = { kind: 'systemd', target: unit, certNames: [...certNames], outcome: 'ran' };
    try {
      const active = await services.isActive(unit);
      if (active && action.action === 'start') {
        // `start`: the component watches its files and picks up the renewed set by itself.
        record.outcome = 'left-running';
        log.info('unit reads the renewed files by itself: left running', {
          unit,
          certs: certNames.join(','),
        });
      } else if (!active && !action.start && action.action !== 'start') {
        record.outcome = 'skipped-inactive';
        log.info(
          atBoot
            ? 'unit not started yet: left alone, it reads the new files when it starts'
            : 'unit not active: left alone',
          { unit, certs: certNames.join(','), wanted: action.action },
        );
      } else {
        const verb: ServiceVerb = active ? action.action : 'start';
        record.verb = verb;
        record.outcome = active ? 'ran' : 'started';
        await services.run(unit, verb);
        log.info(active ? 'unit action ran' : 'unit started', { unit, verb, certs: certNames.join(',') });
      }
    } catch (error) {
      record.outcome = 'failed';
      record.error = messageOf(error);
      failures.push(error);
      log.error('unit action failed', { unit, verb: record.verb ?? 'is-active', error: record.error });
    }
    records.push(record);
  }

  if (failures.length > 0) throw new ActionsFailedError(records, failures);
  return records;
}
