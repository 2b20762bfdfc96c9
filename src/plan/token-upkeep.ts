/**
 * What the node token needs, decided from the state file alone (no Vault call), so that `check` — the
 * renewal timer's ExecCondition — and `bootstrap` agree. The timer deployment has no daemon that keeps a
 * periodic token alive: without this a 168h node token would expire a week after boot and every later
 * renewal would fail.
 *
 * - `lookup`: the token's TTL is not known yet (a first boot issues its certificates without asking
 *   about the token: the requests themselves prove it works).
 * - `renew`: renewable and half of the TTL seen at the last check has passed (what `run` does too).
 * - `none`: known and fresh, never expiring, or not renewable (nothing would help; `status` shows its TTL).
 * A state entry that cannot be read (a hand-edited or damaged state file) counts as never checked.
 */

/** What the state file recorded at the token's last check (app/state.ts TokenState). */
export interface CheckedToken {
  ttlSeconds: number;
  renewable: boolean;
  checkedAt: string;
}

export type TokenUpkeep = { action: 'none'; renewAt?: Date } | { action: 'lookup' | 'renew'; reason: string };

/**
 * The one rule for a token's times, from a check at `checkedAtMs` that saw `ttlSeconds`: it expires after its TTL
 * and is renewed once half of it has passed (only a renewable one). A TTL of 0 means it never expires. `run` keeps
 * its clock with it; `check` and `bootstrap` apply it to the state file through tokenUpkeep.
 */
export function tokenTimes(
  ttlSeconds: number,
  renewable: boolean,
  checkedAtMs: number,
): { expiresAt?: number; renewAt?: number } {
  if (!(ttlSeconds > 0)) return {};
  return {
    expiresAt: checkedAtMs + ttlSeconds * 1000,
    renewAt: renewable ? checkedAtMs + (ttlSeconds * 1000) / 2 : undefined,
  };
}

export function tokenUpkeep(token: CheckedToken | undefined, now: Date): TokenUpkeep {
  if (token === undefined) return { action: 'lookup', reason: 'the token has not been checked yet' };
  const checkedAt = Date.parse(token.checkedAt);
  if (Number.isNaN(checkedAt) || !Number.isFinite(token.ttlSeconds) || typeof token.renewable !== 'boolean')
    return { action: 'lookup', reason: 'the recorded token check cannot be read' };
  const times = tokenTimes(token.ttlSeconds, token.renewable, checkedAt);
  if (times.renewAt === undefined) return { action: 'none' };
  const renewAt = new Date(times.renewAt);
  if (now.getTime() >= renewAt.getTime()) {
    return {
      action: 'renew',
      reason: `half of its TTL (${token.ttlSeconds}s at ${token.checkedAt}) has passed`,
    };
  }
  return { action: 'none', renewAt };
}
