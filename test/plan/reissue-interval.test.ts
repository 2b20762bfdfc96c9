/**
 * The re-issue interval of `run` (issue 13): a lifetime shorter than Vault's backdating of notBefore makes a
 * certificate due the moment it is issued; `run` must not then re-issue it many times a second.
 * A simulated loop: every pass takes 10 ms, a due certificate is re-issued (notBefore backdated 30 s like
 * Vault's default, notAfter = now + ttl), and the loop sleeps until the next renewal time.
 */
import { describe, expect, it } from 'vitest';
import {
  type CertificateSchedule,
  MIN_REISSUE_FLOOR_MS,
  renewalTime,
  withReissueInterval,
} from '../../src/plan/schedule.js';

const SPEC = { name: 'etcd-peer', renewAt: 2 / 3 };
const plain: CertificateSchedule<typeof SPEC> = (spec, notBefore, notAfter) =>
  renewalTime({
    notBefore,
    notAfter,
    renewAt: spec.renewAt,
    hostId: 'node-1',
    certName: spec.name,
    seed: 's',
  });

function simulate(
  make: (issuedAt: (name: string) => number | undefined) => CertificateSchedule<typeof SPEC>,
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
    if (schedule(SPEC, leaf.notBefore, leaf.notAfter).getTime() <= t) {
      leaf = issue();
      last.set(SPEC.name, t);
      issuedAt.push(t);
    }
    const next = schedule(SPEC, leaf.notBefore, leaf.notAfter).getTime();
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
    expect(calm.length).toBeLessThanOrEqual(60_000 / MIN_REISSUE_FLOOR_MS + 1);
  });

  it('changes nothing for ordinary lifetimes, nor for certificates this process has not issued', () => {
    const nb = new Date('2026-01-01T00:00:00Z');
    const na = new Date('2026-01-31T00:00:00Z');
    const wrapped = withReissueInterval(plain, () => nb.getTime() + 30_000);
    expect(wrapped(SPEC, nb, na)).toEqual(plain(SPEC, nb, na));
    // A certificate due at start (none issued yet) is due at once.
    const old = { nb: new Date(0), na: new Date(60_000) };
    const atStart = withReissueInterval(plain, () => undefined);
    expect(atStart(SPEC, old.nb, old.na)).toEqual(plain(SPEC, old.nb, old.na));
  });
});
