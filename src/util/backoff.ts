/**
 * Capped exponential backoff with full jitter: the one formula behind every retry the agent makes, Vault
 * requests (vault/retry.ts, short base and cap) and failed passes of `run` (app/run.ts, long ones). Pure.
 */
import { AgentError, ExitCode } from '../errors.js';

export interface RetryDelayOptions {
  /** Ceiling of the first retry (default 10s). */
  baseMs?: number;
  /**
   * Largest ceiling (default 5 min): while Vault is down each host retries on average every 2.5 min,
   * so a 1,000-host fleet sends ~7 requests/s instead of a storm, and recovery is noticed within minutes.
   */
  capMs?: number;
  /** Uniform in [0, 1); default Math.random. */
  random?: () => number;
}

const DEFAULT_RETRY_BASE_MS = 10_000;
const DEFAULT_RETRY_CAP_MS = 5 * 60_000;

function fail(message: string): never {
  throw new AgentError('internal', ExitCode.internal, `backoff: ${message}`);
}

function finiteNumber(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (!Number.isFinite(n) || n < 0) fail(`${what} must be a finite number >= 0, got ${String(value)}`);
  return n;
}

/**
 * Delay before retry `attempt` (0 = the first retry): "full jitter", uniform in
 * [0, min(cap, base × 2^attempt)), so hosts that failed together do not retry together.
 */
export function retryDelay(attempt: number, options: RetryDelayOptions = {}): number {
  if (!Number.isInteger(attempt) || attempt < 0) fail(`attempt must be an integer >= 0, got ${attempt}`);
  const base = finiteNumber(options.baseMs, DEFAULT_RETRY_BASE_MS, 'baseMs');
  const cap = finiteNumber(options.capMs, DEFAULT_RETRY_CAP_MS, 'capMs');
  const random = options.random ?? Math.random;
  // 2^30 already exceeds any sane cap; bounding the exponent keeps base × 2^n finite.
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  const r = random();
  if (!(r >= 0 && r < 1)) fail(`random() must return a number in [0, 1), got ${r}`);
  return Math.floor(r * ceiling);
}
