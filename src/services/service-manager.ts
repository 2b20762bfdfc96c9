/**
 * The ServiceManager port and its systemctl adapter. systemctl is spawned with argv arrays (never a
 * shell), with a timeout after which it is killed, and every failure becomes a WriteError
 * ('action-failed', exit 6) naming the unit, the verb, the exit status and the tail of stderr.
 *
 * The binary is `systemctl` from PATH unless the constructor or `VPA_SYSTEMCTL` names another one
 * (tests use test/support/fake-systemctl). The per-call timeout (default 90s) can be changed with
 * `VPA_SYSTEMCTL_TIMEOUT` (a duration like `2s` or `500ms`; a bare number is seconds).
 */

import type { SystemdVerb } from '../config/types.js';
import { ConfigError, WriteError } from '../errors.js';
import { redact } from '../log.js';
import { parseDurationSeconds } from '../util/duration.js';
import { childEnvironment } from './child-env.js';
import { loadExeca } from './load-execa.js';

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

/** The last non-empty lines of a command's stderr, short enough for one log line. */
export function tailOf(stderr: string, lines = 2): string {
  // A child's words go into errors, the pass summary and the state file: redacted like a log line.
  const tail = redact(stderr)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' ');
  return tail.length > 400 ? `…${tail.slice(-400)}` : tail;
}

interface Outcome {
  exitCode?: number;
  signal?: string;
  timedOut: boolean;
  failed: boolean;
  stderr: string;
  spawnError?: string;
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

  private async spawn(args: string[]): Promise<Outcome> {
    const unit = args[args.length - 1] ?? '';
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
    const execa = await loadExeca();
    const result = await execa(this.binary, args, {
      reject: false,
      stdin: 'ignore',
      env: childEnvironment(this.env),
      extendEnv: false,
      timeout: this.timeoutMs,
      killSignal: 'SIGTERM',
      // systemctl waits for the job; if SIGTERM is not enough, do not wait forever for it either.
      forceKillAfterDelay: 2000,
    });
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      failed: result.failed,
      stderr: typeof result.stderr === 'string' ? result.stderr : '',
      spawnError:
        result.exitCode === undefined && !result.timedOut ? (result.code ?? result.shortMessage) : undefined,
    };
  }

  private failure(unit: string, verb: string, outcome: Outcome): WriteError {
    const what = `${this.binary} ${verb} ${unit}`;
    let reason: string;
    if (outcome.timedOut) reason = `timed out after ${this.timeoutMs}ms and was killed`;
    else if (outcome.spawnError) reason = `could not be run (${outcome.spawnError})`;
    else if (outcome.exitCode !== undefined) reason = `failed with exit code ${outcome.exitCode}`;
    else reason = `was killed by ${outcome.signal ?? 'a signal'}`;
    const tail = tailOf(outcome.stderr);
    return new WriteError('action-failed', `${what} ${reason}${tail ? `: ${tail}` : ''}`, {
      details: { unit, verb, exitCode: outcome.exitCode, timedOut: outcome.timedOut },
    });
  }

  async isActive(unit: string): Promise<boolean> {
    const outcome = await this.spawn(['is-active', '--quiet', unit]);
    if (outcome.exitCode === 0) return true;
    // A non-zero answer means "not active"; not getting an answer at all is a failure.
    if (outcome.timedOut || outcome.exitCode === undefined) throw this.failure(unit, 'is-active', outcome);
    return false;
  }

  async run(unit: string, verb: ServiceVerb): Promise<void> {
    const outcome = await this.spawn(this.noBlock ? ['--no-block', verb, unit] : [verb, unit]);
    if (outcome.failed) throw this.failure(unit, verb, outcome);
  }
}
