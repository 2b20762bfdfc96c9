import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.js';
import { createCsr } from '../../src/pki/csr.js';
import { generateKey } from '../../src/pki/keys.js';
import {
  decideSet,
  hostSchedule,
  nextWake,
  type RenewalSchedule,
  type RenewalTimeInput,
  renewalWindow,
  withReissueInterval,
} from '../../src/plan/renewal.js';
import { createTestCa, makeTempDir, opensslTime, signCsr, type TestCa } from '../support/openssl-ca.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

// Every host of the simulated stack got its certificate in this very second.
const BOOT = new Date('2025-03-04T05:06:07.000Z');
const at = (offsetMs: number) => new Date(BOOT.getTime() + offsetMs);

/** This host's moment (what every caller gets through `hostSchedule`). */
const renewalTime = (input: RenewalTimeInput) => renewalWindow(input).time;
/** This host's position in the window: the jitter hash of (seed, host, certificate). */
const jitterFraction = (hostId: string, certName: string, seed: string) =>
  renewalWindow({ notBefore: BOOT, notAfter: at(HOUR), renewAt: 2 / 3, hostId, certName, seed }).fraction;

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

  it('720h certificates: the loop wakes at least every 15 minutes and renews once per ~20 days', () => {
    const { renewals, wakes } = simulate(720 * HOUR, 0, 60 * 24 * HOUR);
    expect(renewals.length).toBeGreaterThanOrEqual(2);
    expect(renewals.length).toBeLessThanOrEqual(4);
    expect(wakes).toBeGreaterThanOrEqual(60 * 24 - renewals.length);
    expect(wakes).toBeGreaterThanOrEqual(4 * 60 * 24 - renewals.length);
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
  it('sleeps at most 15 minutes (the run loop re-reads the token file at every wake)', () => {
    expect(nextWake([], now)).toEqual(plus(15 * MINUTE));
    expect(nextWake([plus(400 * HOUR)], now)).toEqual(plus(15 * MINUTE));
    expect(nextWake([undefined, plus(14 * MINUTE)], now)).toEqual(plus(14 * MINUTE));
  });
});

/*
 * The re-issue interval of `run` (issue 13): a lifetime shorter than Vault's backdating of notBefore makes a
 * certificate due the moment it is issued; `run` must not then re-issue it many times a second.
 * A simulated loop: every pass takes 10 ms, a due certificate is re-issued (notBefore backdated 30 s like
 * Vault's default, notAfter = now + ttl), and the loop sleeps until the next renewal time.
 */
const RI_SPEC = { name: 'etcd-peer', renewAt: 2 / 3 };
const plain: RenewalSchedule = (spec, notBefore, notAfter) =>
  renewalTime({
    notBefore,
    notAfter,
    renewAt: spec.renewAt,
    hostId: 'node-1',
    certName: spec.name,
    seed: 's',
  });

function simulate(
  make: (issuedAt: (name: string) => number | undefined) => RenewalSchedule,
  ttlMs: number,
  backdateMs: number,
  forMs: number,
): number[] {
  let t = 1_700_000_000_000;
  const end = t + forMs;
  const last = new Map<string, number>();
  const schedule = make((name) => last.get(name));
  // X.509 times have a resolution of one second.
  const second = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);
  const issue = () => ({ notBefore: second(t - backdateMs), notAfter: second(t + ttlMs) });
  let leaf = issue(); // on disk at start
  const issuedAt: number[] = [];
  while (t < end) {
    if (schedule(RI_SPEC, leaf.notBefore, leaf.notAfter).getTime() <= t) {
      leaf = issue();
      last.set(RI_SPEC.name, t);
      issuedAt.push(t);
    }
    const next = schedule(RI_SPEC, leaf.notBefore, leaf.notAfter).getTime();
    t = Math.max(t + 10, next);
  }
  return issuedAt;
}

describe('withReissueInterval', () => {
  it('12 s certificates, 30 s backdating: without it a storm, with it one issue per 6 s (half the life)', () => {
    const storm = simulate(() => plain, 12_000, 30_000, 60_000);
    expect(storm.length).toBeGreaterThan(1000);
    const calm = simulate((issued) => withReissueInterval(plain, issued), 12_000, 30_000, 60_000);
    expect(calm.length).toBeLessThanOrEqual(11);
    for (let i = 1; i < calm.length; i++)
      expect((calm[i] as number) - (calm[i - 1] as number)).toBeGreaterThanOrEqual(6_000);
  });

  it('a certificate issued already expired: at most one issue per floor interval', () => {
    const calm = simulate((issued) => withReissueInterval(plain, issued), -5_000, 30_000, 60_000);
    expect(calm.length).toBeLessThanOrEqual(60_000 / 2_000 + 1 /* the 2 s floor */);
  });

  it('changes nothing for ordinary lifetimes, nor for certificates this process has not issued', () => {
    const nb = new Date('2026-01-01T00:00:00Z');
    const na = new Date('2026-01-31T00:00:00Z');
    const wrapped = withReissueInterval(plain, () => nb.getTime() + 30_000);
    expect(wrapped(RI_SPEC, nb, na)).toEqual(plain(RI_SPEC, nb, na));
    // A certificate due at start (none issued yet) is due at once.
    const old = { nb: new Date(0), na: new Date(60_000) };
    const atStart = withReissueInterval(plain, () => undefined);
    expect(atStart(RI_SPEC, old.nb, old.na)).toEqual(plain(RI_SPEC, old.nb, old.na));
  });
});

describe('decideSet: must a set be (re-)issued now, and when does it renew', () => {
  const tmp = makeTempDir();
  let ca: TestCa;
  beforeAll(() => {
    ca = createTestCa(tmp.dir, 'etcd-ca');
  });
  afterAll(() => tmp.cleanup());
  const DAY = 24 * HOUR;
  // Whole seconds: certificates carry no sub-second precision.
  const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
  const SPEC = {
    name: 'etcd-server',
    commonName: 'etcd-1',
    dnsSans: ['etcd-1'],
    ipSans: ['10.0.1.5'],
    usages: ['server', 'client'] as const,
    renewAt: 2 / 3,
  };
  /** notBefore + renewAt × lifetime, no jitter: the nominal moment. */
  const nominal: RenewalSchedule = (cert, notBefore, notAfter) =>
    renewalWindow({
      notBefore,
      notAfter,
      renewAt: cert.renewAt,
      hostId: 'h',
      certName: cert.name,
      seed: 's',
      spread: 0,
      minSpreadMs: 0,
    }).time;
  async function makeSet(startAgoMs: number, lifetimeMs: number, cn = SPEC.commonName) {
    const key = await generateKey({ type: 'ec', bits: 256 });
    const csr = createCsr(key, { commonName: cn, dnsSans: SPEC.dnsSans, ipSans: SPEC.ipSans });
    const start = NOW.getTime() - startAgoMs;
    const cert = signCsr(ca, csr, {
      startDate: opensslTime(new Date(start)),
      endDate: opensslTime(new Date(start + lifetimeMs)),
    });
    return { cert, key: key.privateKeyPem, ca: ca.certPem };
  }

  it('nominal schedule: renewAt × lifetime (the computeRenewalTime of old)', () => {
    const t = renewalWindow({
      notBefore: new Date(0),
      notAfter: new Date(300_000),
      renewAt: 2 / 3,
      hostId: 'h',
      certName: 'c',
      seed: 's',
      spread: 0,
      minSpreadMs: 0,
    });
    expect(t.time.getTime()).toBe(200_000);
  });

  it('a set that matches: nothing due, and the renewal time of the schedule', async () => {
    const files = await makeSet(DAY, 30 * DAY);
    const result = decideSet({ spec: SPEC, files, now: NOW, schedule: nominal, mountCaPem: ca.certPem });
    expect(result.verdict).toBeUndefined();
    expect(result.leaf?.commonName).toBe('etcd-1');
    // 1 day in of 30: renewal at 20 days after notBefore.
    expect(result.renewalTime?.toISOString()).toBe(new Date(NOW.getTime() - DAY + 20 * DAY).toISOString());
  });

  it('renewal-due follows the clock and the schedule given', async () => {
    // 30-day certificate that started 20 days + 1 s ago: 2/3 of its life is over.
    const old = await makeSet(20 * DAY + 1000, 30 * DAY);
    const due = decideSet({ spec: SPEC, files: old, now: NOW, schedule: nominal });
    expect(due.verdict?.reason).toBe('renewal-due');
    expect(due.verdict?.message).toMatch(/^renewal is due: since 20\d\d-.*, not after 20\d\d-/);
    // ... but not yet at 3/4, and it is due at once with a (jittered) schedule whose moment has passed.
    expect(
      decideSet({ spec: { ...SPEC, renewAt: 0.75 }, files: old, now: NOW, schedule: nominal }).verdict,
    ).toBeUndefined();
    const good = await makeSet(DAY, 30 * DAY);
    const past = () => new Date(NOW.getTime() - 1);
    expect(decideSet({ spec: SPEC, files: good, now: NOW, schedule: past }).verdict?.reason).toBe(
      'renewal-due',
    );
  });

  it('a finding of the set check comes first, with its words; missing files have no renewal time', async () => {
    const old = await makeSet(20 * DAY + 1000, 30 * DAY, 'etcd-9');
    const result = decideSet({ spec: SPEC, files: old, now: NOW, schedule: nominal });
    expect(result.verdict).toEqual({
      reason: 'cn-changed',
      message: 'the common name differs from the spec: "etcd-9" -> "etcd-1"',
    });
    expect(result.renewalTime).toBeDefined();
    const missing = decideSet({ spec: SPEC, files: { cert: old.cert }, now: NOW, schedule: nominal });
    expect(missing).toEqual({
      verdict: { reason: 'missing', message: 'certificate files are missing: key.pem, ca.pem' },
    });
  });

  it('property: due exactly when the moment of the host schedule has come, and that moment is the one reported', async () => {
    const sets = [await makeSet(30 * MINUTE, HOUR), await makeSet(5 * DAY, 30 * DAY)];
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1),
        fc.string(),
        fc.string(),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        fc.integer({ min: -40 * DAY, max: 40 * DAY }),
        (which, hostId, seed, renewAt, offset) => {
          const files = sets[which]!;
          const schedule = hostSchedule(hostId, seed);
          const now = new Date(NOW.getTime() + offset);
          const spec = { ...SPEC, renewAt };
          const d = decideSet({ spec, files, now, schedule });
          const leaf = d.leaf!;
          const expected = renewalWindow({
            notBefore: leaf.notBefore,
            notAfter: leaf.notAfter,
            renewAt,
            hostId,
            certName: spec.name,
            seed,
          }).time;
          expect(d.renewalTime).toEqual(expected);
          // run's view: the same moment (it issued nothing yet), and it wakes no later than that.
          expect(withReissueInterval(schedule, () => undefined)(spec, leaf.notBefore, leaf.notAfter)).toEqual(
            expected,
          );
          expect(nextWake([d.renewalTime], now).getTime()).toBeLessThanOrEqual(
            Math.max(expected.getTime(), now.getTime()),
          );
          const reason = d.verdict?.reason;
          if (now.getTime() >= leaf.notAfter.getTime()) expect(reason).toBe('expired');
          else if (now.getTime() < leaf.notBefore.getTime()) expect(reason).toBe('not-yet-valid');
          else expect(reason === 'renewal-due').toBe(now.getTime() >= expected.getTime());
        },
      ),
      { numRuns: 300 },
    );
  });
});
