import { describe, expect, it } from 'vitest';
import { tokenState } from '../../src/app/state.js';
import { tokenTimes, tokenUpkeep } from '../../src/plan/token-upkeep.js';

const at = (iso: string) => new Date(iso);
const checked = (ttlSeconds: number, renewable: boolean) =>
  tokenState(ttlSeconds, renewable, undefined, at('2026-11-24T00:00:00Z'));

describe('tokenUpkeep (what check and bootstrap do about the token)', () => {
  it('never checked: look it up', () => {
    expect(tokenUpkeep(undefined, at('2026-11-24T00:00:00Z'))).toMatchObject({ action: 'lookup' });
  });

  it('renewable: nothing before half the TTL seen at the last check, renew from then on', () => {
    const t = checked(168 * 3600, true);
    expect(tokenUpkeep(t, at('2026-11-27T11:59:59Z'))).toEqual({
      action: 'none',
      renewAt: at('2026-11-27T12:00:00Z'),
    });
    expect(tokenUpkeep(t, at('2026-11-27T12:00:00Z'))).toMatchObject({ action: 'renew' });
    expect(tokenUpkeep(t, at('2026-12-24T00:00:00Z'))).toMatchObject({ action: 'renew' });
  });

  it('not renewable, or never expiring: nothing to do (status shows the TTL)', () => {
    expect(tokenUpkeep(checked(3600, false), at('2026-11-25T00:00:00Z'))).toEqual({ action: 'none' });
    expect(tokenUpkeep(checked(0, true), at('2030-01-01T00:00:00Z'))).toEqual({ action: 'none' });
  });

  it('a recorded check that cannot be read counts as never checked: look the token up', () => {
    const broken = [
      { ttlSeconds: 60, renewable: true, checkedAt: 'garbage' },
      { ttlSeconds: Number.NaN, renewable: true, checkedAt: '2026-11-24T00:00:00Z' },
      { ttlSeconds: 60, renewable: 'yes' as unknown as boolean, checkedAt: '2026-11-24T00:00:00Z' },
    ];
    for (const token of broken) expect(tokenUpkeep(token, new Date())).toMatchObject({ action: 'lookup' });
  });
});

describe('tokenTimes (the rule run keeps its clock with)', () => {
  it('expires after the TTL, renews at half of it, only when renewable; TTL 0 never expires', () => {
    const t = Date.parse('2026-11-25T00:00:00Z');
    expect(tokenTimes(3600, true, t)).toEqual({ expiresAt: t + 3_600_000, renewAt: t + 1_800_000 });
    expect(tokenTimes(3600, false, t)).toEqual({ expiresAt: t + 3_600_000, renewAt: undefined });
    expect(tokenTimes(0, true, t)).toEqual({});
  });
});
