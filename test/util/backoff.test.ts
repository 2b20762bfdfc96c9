import { describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { retryDelay } from '../../src/util/backoff.js';

const MINUTE = 60_000;

/** Mulberry32: a small seeded PRNG so the simulations are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('retryDelay: capped exponential backoff with full jitter', () => {
  it('ceiling doubles from 10s and stops at 5 min', () => {
    const almostOne = 1 - 2 ** -53;
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 10, 50, 5000].map(
      (a) => retryDelay(a, { random: () => almostOne }) + 1,
    );
    expect(ceilings).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000, 300_000, 300_000,
    ]);
    expect(retryDelay(7, { random: () => 0 })).toBe(0);
    expect(retryDelay(2, { random: () => 0.5, baseMs: 1000, capMs: 60_000 })).toBe(2000);
  });

  it('rejects a negative attempt and a broken random source', () => {
    expect(() => retryDelay(-1)).toThrow(AgentError);
    expect(() => retryDelay(1.5)).toThrow(/attempt/);
    expect(() => retryDelay(0, { random: () => 1 })).toThrow(/random/);
  });

  it('1,000 hosts failing together against a down Vault: no retry storm', () => {
    const random = prng(42);
    const perMinute = new Map<number, number>();
    for (let host = 0; host < 1000; host++) {
      let t = 0;
      for (let attempt = 0; t < 60 * MINUTE; attempt++) {
        const minute = Math.floor(t / MINUTE);
        perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
        t += retryDelay(attempt, { random });
      }
    }
    // After the first minutes every host retries on average every 2.5 min: ~400 requests/min for the
    // fleet, never the 6,000/min a fixed 10s retry would cause.
    const settled = [...perMinute].filter(([m]) => m >= 10).map(([, n]) => n);
    expect(Math.max(...settled)).toBeLessThan(600);
    const mean = settled.reduce((a, b) => a + b, 0) / settled.length;
    expect(mean).toBeGreaterThan(300);
    expect(mean).toBeLessThan(500);
    // Even the first minute, when all hosts fail at once, stays far from a fixed-interval storm.
    expect(perMinute.get(0)!).toBeLessThan(6000);
  });
});
