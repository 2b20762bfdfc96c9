import { describe, expect, it } from 'vitest';
import { formatDuration, parseDurationSeconds } from '../../src/util/duration.js';

describe('parseDurationSeconds', () => {
  it('reads Go/Vault durations, compound ones, days and plain seconds', () => {
    expect(parseDurationSeconds('90s')).toBe(90);
    expect(parseDurationSeconds('30m')).toBe(1800);
    expect(parseDurationSeconds('720h')).toBe(2_592_000);
    expect(parseDurationSeconds('1h30m')).toBe(5400);
    expect(parseDurationSeconds('1.5h')).toBe(5400);
    expect(parseDurationSeconds('2d')).toBe(172_800);
    expect(parseDurationSeconds('250ms')).toBe(0.25);
    expect(parseDurationSeconds(' 42 ')).toBe(42);
    expect(parseDurationSeconds(7)).toBe(7);
  });

  it('refuses what does not parse', () => {
    for (const bad of ['', 'h', '1y', '-5s', '1h 30m', 'ten minutes', '5s5']) {
      expect(parseDurationSeconds(bad), bad).toBeUndefined();
    }
    expect(parseDurationSeconds(-1)).toBeUndefined();
    expect(parseDurationSeconds(Number.NaN)).toBeUndefined();
    expect(parseDurationSeconds(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('writes the compact form, largest unit first, zero parts left out', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(3661)).toBe('1h1m1s');
    expect(formatDuration(86_400 + 60)).toBe('1d1m');
    expect(formatDuration(59.6)).toBe('1m');
    expect(formatDuration(-5)).toBe('0s');
  });

  it('round-trips with parseDurationSeconds', () => {
    for (const seconds of [1, 59, 3600, 93_784, 2_592_000]) {
      expect(parseDurationSeconds(formatDuration(seconds))).toBe(seconds);
    }
  });
});
