import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import {
  jitterFraction,
  nextWake,
  type RenewalTimeInput,
  renewalTime,
  renewalWindow,
} from '../../src/plan/schedule.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

// Every host of the simulated stack got its certificate in this very second.
const BOOT = new Date('2025-03-04T05:06:07.000Z');
const at = (offsetMs: number) => new Date(BOOT.getTime() + offsetMs);

const hex = (text: string) => createHash('sha256').update(text).digest('hex');
/** 1,000 distinct hosts: EC2-style instance ids and per-host seeds (deterministic, so failures reproduce). */
const FLEET = Array.from({ length: 1000 }, (_, i) => ({
  hostId: `i-0${hex(`host ${i}`).slice(0, 16)}`,
  seed: hex(`seed ${i}`).slice(0, 32),
}));

function fleetTimes(lifetimeMs: number, extra: Partial<RenewalTimeInput> = {}): number[] {
  return FLEET.map((h) =>
    renewalTime({
      notBefore: BOOT,
      notAfter: at(lifetimeMs),
      renewAt: 2 / 3,
      certName: 'etcd-peer',
      ...h,
      ...extra,
    }).getTime(),
  );
}

/** Most hosts in any one 60-second interval (sliding, so stricter than calendar minutes). */
function busiestMinute(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= MINUTE) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('renewalTime: the window', () => {
  // Expected windows worked out by hand from the documented defaults (spread 0.1, at least 1h,
  // at most half the time before the nominal moment), not by calling renewalWindow.
  const cases = [
    { name: '720h', lifetime: 720 * HOUR, start: 408 * HOUR, end: 480 * HOUR, window: '[408h, 480h]' },
    { name: '24h', lifetime: 24 * HOUR, start: 13.6 * HOUR, end: 16 * HOUR, window: '[13.6h, 16h]' },
    { name: '1h', lifetime: HOUR, start: 20 * MINUTE, end: 40 * MINUTE, window: '[20m, 40m]' },
  ];
  for (const c of cases) {
    it(`${c.name}: every host renews within ${c.window} after issue`, () => {
      const times = fleetTimes(c.lifetime);
      expect(Math.min(...times)).toBeGreaterThanOrEqual(at(c.start).getTime());
      expect(Math.max(...times)).toBeLessThanOrEqual(at(c.end).getTime());
      // ...and the fleet actually uses the window, rather than sitting in a corner of it.
      expect(Math.min(...times) - at(c.start).getTime()).toBeLessThan((c.end - c.start) / 50);
      expect(at(c.end).getTime() - Math.max(...times)).toBeLessThan((c.end - c.start) / 50);
      const w = renewalWindow({
        ...FLEET[0]!,
        notBefore: BOOT,
        notAfter: at(c.lifetime),
        renewAt: 2 / 3,
        certName: 'x',
      });
      expect([w.start.getTime(), w.end.getTime()]).toEqual([at(c.start).getTime(), at(c.end).getTime()]);
    });
  }

  it('honours an explicit spread and renewAt', () => {
    const times = fleetTimes(100 * HOUR, { renewAt: 0.5, spread: 0.2 });
    expect(Math.min(...times)).toBeGreaterThanOrEqual(at(30 * HOUR).getTime());
    expect(Math.max(...times)).toBeLessThanOrEqual(at(50 * HOUR).getTime());
  });

  it('spread 0 and no minimum: exactly the nominal moment (computeRenewalTime semantics)', () => {
    const times = fleetTimes(90 * HOUR, { spread: 0, minSpreadMs: 0 });
    expect(new Set(times)).toEqual(new Set([at(60 * HOUR).getTime()]));
  });
});

describe('renewalTime: a fleet that booted in the same second spreads out', () => {
  for (const [name, lifetime] of [
    ['720h', 720 * HOUR],
    ['24h', 24 * HOUR],
  ] as const) {
    it(`${name}: no minute holds more than 5% of 1,000 hosts`, () => {
      const most = busiestMinute(fleetTimes(lifetime));
      expect(most).toBeLessThanOrEqual(50);
    });
  }

  // 1h certificates: the jitter may take at most half the time to the nominal moment (20 of 40 minutes), so
  // that a certificate is never due right after it was issued (Vault backdates notBefore by 30 s); 1,000 hosts
  // in 20 minutes average 5% a minute.
  it('1h: no minute holds more than 8% of 1,000 hosts', () => {
    expect(busiestMinute(fleetTimes(HOUR))).toBeLessThanOrEqual(80);
  });

  it('the check can fail: without jitter the whole fleet lands in one minute', () => {
    expect(busiestMinute(fleetTimes(720 * HOUR, { spread: 0, minSpreadMs: 0 }))).toBe(1000);
    // A too-narrow window (10% of 1h, no floor) also breaks the 5% bound.
    expect(busiestMinute(fleetTimes(HOUR, { minSpreadMs: 0 }))).toBeGreaterThan(50);
  });

  it('the certificates of one host are spread too (certName is part of the hash)', () => {
    const names = Array.from({ length: 50 }, (_, i) => `cert-${i}`);
    const times = names.map((certName) =>
      renewalTime({ ...FLEET[0]!, certName, notBefore: BOOT, notAfter: at(720 * HOUR), renewAt: 2 / 3 }),
    );
    expect(new Set(times.map((t) => t.getTime())).size).toBe(50);
  });
});

describe('renewalTime: deterministic', () => {
  const input: RenewalTimeInput = {
    notBefore: BOOT,
    notAfter: at(720 * HOUR),
    renewAt: 2 / 3,
    hostId: 'i-0123456789abcdef0',
    certName: 'etcd-server',
    seed: '5f2b6c0a9d8e7f6a5b4c3d2e1f0a9b8c',
  };

  it('the same inputs give the same moment (check and run agree without talking)', () => {
    const first = renewalTime(input);
    const fromAnotherProcess = renewalTime({ ...input, notBefore: new Date(BOOT), notAfter: at(720 * HOUR) });
    expect(fromAnotherProcess.getTime()).toBe(first.getTime());
    // Pinned: a change of the hash would silently move every host's renewal moment.
    expect(jitterFraction(input.hostId, input.certName, input.seed)).toMatchInlineSnapshot(
      `0.9349795075200262`,
    );
    expect(first.toISOString()).toMatchInlineSnapshot(`"2025-03-21T09:47:00.312Z"`);
  });

  it('each of host, certificate and seed moves the moment', () => {
    const base = renewalTime(input).getTime();
    expect(renewalTime({ ...input, hostId: 'i-0123456789abcdef1' }).getTime()).not.toBe(base);
    expect(renewalTime({ ...input, certName: 'etcd-peer' }).getTime()).not.toBe(base);
    expect(renewalTime({ ...input, seed: `${input.seed.slice(0, -1)}d` }).getTime()).not.toBe(base);
    // Separators matter: moving a character between fields is a different input.
    expect(jitterFraction('ab', 'c', 's')).not.toBe(jitterFraction('a', 'bc', 's'));
  });

  it('the position in the window is the same for every certificate generation', () => {
    const w1 = renewalWindow(input);
    const w2 = renewalWindow({ ...input, notBefore: at(500 * HOUR), notAfter: at(1220 * HOUR) });
    expect(w2.time.getTime() - w1.time.getTime()).toBe(500 * HOUR);
  });
});

describe('renewalTime: safety margin', () => {
  it('renewAt 0.99 on 720h: never later than notAfter − 24h (margin capped at 24h)', () => {
    const times = fleetTimes(720 * HOUR, { renewAt: 0.99 });
    expect(Math.max(...times)).toBeLessThanOrEqual(at(696 * HOUR).getTime());
    // Clamped as a window, so the fleet is still spread rather than piled up on the margin.
    expect(busiestMinute(times)).toBeLessThanOrEqual(50);
  });

  it('renewAt 0.99 on 1h: never later than notAfter − 6 min (10% of the lifetime)', () => {
    const times = fleetTimes(HOUR, { renewAt: 0.99 });
    expect(Math.max(...times)).toBeLessThanOrEqual(at(54 * MINUTE).getTime());
    expect(Math.max(...times)).toBeGreaterThan(at(53 * MINUTE).getTime());
  });

  it('an explicit safety margin wins over renewAt', () => {
    const times = fleetTimes(10 * HOUR, { renewAt: 0.99, safetyMarginMs: 3 * HOUR });
    expect(Math.max(...times)).toBeLessThanOrEqual(at(7 * HOUR).getTime());
  });

  it('an empty or inverted validity is due at notBefore', () => {
    const same = { ...FLEET[0]!, certName: 'x', renewAt: 2 / 3 };
    expect(renewalTime({ ...same, notBefore: BOOT, notAfter: BOOT }).getTime()).toBe(BOOT.getTime());
    expect(renewalTime({ ...same, notBefore: BOOT, notAfter: at(-HOUR) }).getTime()).toBe(BOOT.getTime());
  });

  it('rejects invalid input with a typed error', () => {
    const bad = { ...FLEET[0]!, certName: 'x', renewAt: 2 / 3, notAfter: at(HOUR) };
    expect(() => renewalTime({ ...bad, notBefore: new Date(Number.NaN) })).toThrow(AgentError);
    expect(() => renewalTime({ ...bad, notBefore: BOOT, renewAt: Number.NaN })).toThrow(/renewAt/);
    expect(() => renewalTime({ ...bad, notBefore: BOOT, spread: -1 })).toThrow(/spread/);
  });

  it('property: always within [notBefore, notAfter − margin] and never after the nominal moment', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.integer({ min: 1, max: 10 * 365 * 24 * HOUR }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
        fc.string(),
        fc.string(),
        fc.string(),
        (start, lifetime, renewAt, spread, hostId, certName, seed) => {
          const t = renewalTime({
            notBefore: new Date(start),
            notAfter: new Date(start + lifetime),
            renewAt,
            spread,
            hostId,
            certName,
            seed,
          }).getTime();
          const margin = Math.min(lifetime * 0.1, 24 * HOUR);
          expect(t).toBeGreaterThanOrEqual(start);
          expect(t).toBeLessThanOrEqual(start + lifetime - margin);
          expect(t).toBeLessThanOrEqual(start + renewAt * lifetime);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('renewal loop with an injected clock', () => {
  // A tiny model of `run`: issue, sleep until nextWake, renew when due. It shows that short lifetimes
  // do not turn into a renewal loop (the jitter never reaches notBefore) and that nothing expires.
  function simulate(lifetimeMs: number, hostIndex: number, horizonMs: number) {
    let now = BOOT.getTime();
    let cert = { notBefore: now, notAfter: now + lifetimeMs };
    const renewals: number[] = [];
    let wakes = 0;
    while (now < BOOT.getTime() + horizonMs) {
      const due = renewalTime({
        ...FLEET[hostIndex]!,
        certName: 'kubelet-client',
        renewAt: 2 / 3,
        notBefore: new Date(cert.notBefore),
        notAfter: new Date(cert.notAfter),
      });
      if (due.getTime() <= now) {
        expect(now).toBeLessThan(cert.notAfter);
        cert = { notBefore: now, notAfter: now + lifetimeMs };
        renewals.push(now);
        continue;
      }
      now = nextWake([due], new Date(now)).getTime();
      wakes++;
    }
    return { renewals, wakes };
  }

  it('30s certificates for 10 minutes: renews between 10% and 100% of 2/3 of the lifetime, never expires', () => {
    for (const host of [0, 1, 2, 3]) {
      const { renewals } = simulate(30 * SECOND, host, 10 * MINUTE);
      const gaps = renewals.slice(1).map((t, i) => t - renewals[i]!);
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(2 * SECOND);
        expect(gap).toBeLessThanOrEqual(20 * SECOND);
      }
      expect(renewals.length).toBeGreaterThan((10 * MINUTE) / (20 * SECOND) - 1);
    }
  });

  it('720h certificates: the loop wakes at least hourly and renews once per ~20 days', () => {
    const { renewals, wakes } = simulate(720 * HOUR, 0, 60 * 24 * HOUR);
    expect(renewals.length).toBeGreaterThanOrEqual(2);
    expect(renewals.length).toBeLessThanOrEqual(4);
    expect(wakes).toBeGreaterThanOrEqual(60 * 24 - renewals.length);
  });
});

describe('nextWake', () => {
  const now = new Date('2025-01-01T00:00:00Z');
  const plus = (ms: number) => new Date(now.getTime() + ms);

  it('the earliest time wins', () => {
    expect(nextWake([plus(30 * MINUTE), plus(5 * MINUTE), plus(50 * MINUTE)], now)).toEqual(plus(5 * MINUTE));
  });
  it('a time in the past means now', () => {
    expect(nextWake([plus(-HOUR), plus(HOUR)], now)).toEqual(now);
  });
  it('sleeps at most an hour by default, or maxSleepMs', () => {
    expect(nextWake([], now)).toEqual(plus(HOUR));
    expect(nextWake([plus(400 * HOUR)], now)).toEqual(plus(HOUR));
    expect(nextWake([plus(400 * HOUR)], now, { maxSleepMs: 24 * HOUR })).toEqual(plus(24 * HOUR));
  });
  it('minSleepMs holds the loop back (e.g. after a failure)', () => {
    expect(nextWake([plus(-HOUR)], now, { minSleepMs: 10 * SECOND })).toEqual(plus(10 * SECOND));
  });
});
