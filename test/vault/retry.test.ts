import { describe, expect, it } from 'vitest';
import { AgentError, VaultRefusedError, VaultUnavailableError } from '../../src/errors.js';
import { backoffDelay, withRetry } from '../../src/vault/retry.js';

const unavailable = (retryAfterMs?: number) =>
  new VaultUnavailableError('vault-unavailable', 'down', { retryable: true, details: { retryAfterMs } });

describe('backoff with full jitter', () => {
  it('stays within [0, min(cap, base*2^n))', () => {
    const policy = { baseMs: 100, capMs: 5000 };
    for (let n = 0; n < 12; n++) {
      const ceiling = Math.min(5000, 100 * 2 ** n);
      expect(backoffDelay(n, policy, () => 0)).toBe(0);
      expect(backoffDelay(n, policy, () => 0.999999)).toBe(ceiling - 1);
    }
  });

  it('never waits less than Retry-After', () => {
    expect(backoffDelay(0, { baseMs: 100, capMs: 5000 }, () => 0.5, 3000)).toBe(3000);
    expect(backoffDelay(10, { baseMs: 100, capMs: 5000 }, () => 0.9, 1000)).toBe(4500);
  });
});

describe('withRetry', () => {
  const fakeClock = () => {
    let t = 0;
    return {
      now: () => t,
      sleep: async (ms: number) => {
        t += ms;
      },
      random: () => 0.5,
    };
  };

  it('retries retryable errors until success', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 4) throw unavailable();
        return 'ok';
      },
      { baseMs: 100, capMs: 1000, deadline: 60_000 },
      fakeClock(),
    );
    expect(result).toBe('ok');
    expect(calls).toBe(4);
  });

  it('does not retry a 4xx refusal', async () => {
    let calls = 0;
    const refused = new VaultRefusedError('permission-denied', 'no');
    await expect(
      withRetry(
        async () => {
          calls++;
          throw refused;
        },
        { baseMs: 100, capMs: 1000, deadline: 60_000 },
        fakeClock(),
      ),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it('gives up at the deadline with exit 5 and the attempt count', async () => {
    const clock = fakeClock();
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw unavailable();
      },
      { baseMs: 1000, capMs: 8000, deadline: 30_000 },
      clock,
    ).catch((e: unknown) => e);
    expect(AgentError.is(err) && err.exitCode).toBe(5);
    expect((err as Error).message).toContain(`gave up after ${calls} attempts`);
    // It kept trying until the deadline itself (the last backoff is cut short), not a backoff earlier.
    expect(clock.now()).toBe(30_000);
    expect(calls).toBeGreaterThan(3);
  });

  it('honours Retry-After between attempts', async () => {
    const waits: number[] = [];
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls < 3) throw unavailable(2000);
        return 1;
      },
      { baseMs: 10, capMs: 20, deadline: 60_000 },
      { now: () => 0, sleep: async (ms) => void waits.push(ms), random: () => 0.5 },
    );
    expect(waits).toEqual([2000, 2000]);
  });
});
