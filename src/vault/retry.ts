/**
 * Retry policy for Vault calls: exponential backoff with full jitter (sleep = random(0, min(cap, base * 2^n))),
 * never shorter than a server's Retry-After, bounded by a deadline. Only errors marked `retryable`
 * (network errors, 5xx, 412, 429, sealed) are retried; every other error surfaces at once.
 */

import { AgentError, VaultUnavailableError } from '../errors.js';
import { retryDelay } from '../util/backoff.js';

export interface RetryPolicy {
  /** First backoff ceiling in ms. */
  baseMs: number;
  /** Largest backoff ceiling in ms. */
  capMs: number;
  /** Absolute time (ms since epoch) after which no new attempt starts. */
  deadline: number;
}

export interface RetryHooks {
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: (info: { attempt: number; delayMs: number; error: AgentError }) => void;
}

export const DEFAULT_BACKOFF = { baseMs: 250, capMs: 15_000 } as const;

/** Full-jitter backoff for attempt n (0-based), raised to the server's Retry-After when it gave one. */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, 'baseMs' | 'capMs'>,
  random: () => number,
  retryAfterMs?: number,
): number {
  const jittered = retryDelay(attempt, { baseMs: policy.baseMs, capMs: policy.capMs, random });
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}

export function retryAfterMsOf(error: unknown): number | undefined {
  if (!AgentError.is(error)) return undefined;
  const value = error.details.retryAfterMs;
  return typeof value === 'number' ? value : undefined;
}

export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<T> {
  const now = hooks.now ?? Date.now;
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = hooks.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!AgentError.is(error) || !error.retryable) throw error;
      const remaining = policy.deadline - now();
      if (remaining <= 0) throw giveUp(error, attempt + 1);
      // A backoff that would end past the deadline is cut short: one last attempt at the deadline, so the
      // agent never gives up before --timeout has really passed.
      const delayMs = Math.min(backoffDelay(attempt, policy, random, retryAfterMsOf(error)), remaining);
      hooks.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs);
    }
  }
}

function giveUp(last: AgentError, attempts: number): AgentError {
  const code = last instanceof VaultUnavailableError ? last.code : 'vault-unavailable';
  return new VaultUnavailableError(
    code,
    `${last.message} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: deadline reached)`,
    { cause: last, details: { ...last.details, attempts } },
  );
}
