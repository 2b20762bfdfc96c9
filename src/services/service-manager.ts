/**
 * The ServiceManager port and its systemctl adapter. systemctl runs through the program runner
 * (util/program.ts: argv, timeout, environment), and every failure becomes a WriteError
 * ('action-failed', exit 6) in the runner's wording, naming the unit, the verb, the exit status and the tail
 * of stderr.
 *
 * The binary is `systemctl` from PATH unless the constructor or `VPA_SYSTEMCTL` names another one
 * (tests use test/support/fake-systemctl). The per-call timeout (default 90s) can be changed with
 * `VPA_SYSTEMCTL_TIMEOUT` (a duration like `2s` or `500ms`; a bare number is seconds).
 */

import type { SystemdVerb } from '../config/types.js';
import { ConfigError, WriteError } from '../errors.js';
import { parseDurationSeconds } from '../util/duration.js';
import { ProgramError, runProgram } from '../util/program.js';

export type ServiceVerb = SystemdVerb | 'start';

export interface ServiceManager {
  /** True when the unit is active (running); false when inactive, failed or unknown. */
  isActive(unit: string): Promise<boolean>;
  run(unit: string, verb: ServiceVerb): Promise<void>;
}

export interface SystemctlOptions {
  binary?: string;
  /** Per systemctl call; a restart that takes longer is killed and reported. Default: VPA_SYSTEMCTL_TIMEOUT, else 90s. */
  timeoutMs?: number;
  /** Extra environment for systemctl (tests configure the fake through it). */
  env?: Record<string, string>;
  /**
   * Queue restarts without waiting for them (`systemctl --no-block`). Needed when the agent itself runs in
   * a unit the restarted services are ordered after (the boot unit): waiting would deadlock until the
   * timeout. Default: on when VPA_SYSTEMCTL_NO_BLOCK=1 (set by units/vault-pki-agent.service).
   */
  noBlock?: boolean;
}

const DEFAULT_TIMEOUT_MS = 90_000;

/** VPA_SYSTEMCTL_TIMEOUT: lets an operator (or a test) shorten or lengthen the wait for a hung unit. */
export function systemctlTimeoutFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined || seconds <= 0) {
    throw new ConfigError(`VPA_SYSTEMCTL_TIMEOUT "${value}" is not a duration (e.g. 90s, 500ms or 90)`);
  }
  return Math.round(seconds * 1000);
}

export class SystemctlServiceManager implements ServiceManager {
  readonly binary: string;
  readonly timeoutMs: number;
  private readonly env: Record<string, string>;
  readonly noBlock: boolean;

  constructor(options: SystemctlOptions = {}) {
    this.noBlock = options.noBlock ?? process.env.VPA_SYSTEMCTL_NO_BLOCK === '1';
    this.binary = options.binary ?? process.env.VPA_SYSTEMCTL ?? 'systemctl';
    this.timeoutMs =
      options.timeoutMs ?? systemctlTimeoutFromEnv(process.env.VPA_SYSTEMCTL_TIMEOUT) ?? DEFAULT_TIMEOUT_MS;
    this.env = options.env ?? {};
  }

  /** Runs `systemctl <args> <unit>`; with `answerAll` every exit code is an answer (is-active), not a failure. */
  private async systemctl(verb: string, unit: string, args: string[], answerAll: boolean): Promise<number> {
    // A unit name starting with '-' would be read by systemctl as an option.
    if (unit.startsWith('-')) {
      throw new WriteError(
        'action-failed',
        `refusing to pass unit name ${JSON.stringify(unit)} to systemctl`,
        {
          details: { unit },
        },
      );
    }
    try {
      const result = await runProgram([this.binary, ...args, unit], {
        label: `${this.binary} ${verb} ${unit}`,
        timeoutMs: this.timeoutMs,
        env: this.env,
        answers: answerAll ? 'any' : [],
      });
      return result.exitCode;
    } catch (error) {
      if (!(error instanceof ProgramError)) throw error;
      throw new WriteError('action-failed', error.message, {
        cause: error,
        details: { unit, verb, exitCode: error.exitCode, timedOut: error.timedOut },
      });
    }
  }

  async isActive(unit: string): Promise<boolean> {
    // A non-zero answer means "not active"; not getting an answer at all (timeout, signal, no binary) is a failure.
    return (await this.systemctl('is-active', unit, ['is-active', '--quiet'], true)) === 0;
  }

  async run(unit: string, verb: ServiceVerb): Promise<void> {
    await this.systemctl(verb, unit, this.noBlock ? ['--no-block', verb] : [verb], false);
  }
}
