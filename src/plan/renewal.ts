/**
 * The one renewal policy: when a certificate renews, whether a set must be (re-)issued now, and how long the
 * `run` loop may sleep. `check`, `status`, `bootstrap`, `run` and the pass all ask this module, so they agree
 * without talking. Pure: the clock, the host identity and the per-host seed come in as arguments.
 *
 * Renewal moment: a certificate is due at `notBefore + renewAt × lifetime`, pulled earlier by a jitter
 * that is a deterministic function of (seed, hostId, certName). Deterministic, so `check` (a timer unit)
 * and `run` (a daemon) agree on the moment without talking to each other and an operator can audit it;
 * seeded per host, so a fleet whose certificates were all issued in the same second (one CloudFormation
 * stack) spreads its renewals out instead of hitting Vault together.
 *
 * Defaults, and why:
 * - spread 0.1 of the lifetime (720h → a 72h window, 24h → 2.4h): wide enough to flatten a fleet, small
 *   enough that renewing early costs about 8% more issuance on average with the default renewAt of 2/3.
 * - but at least 1h (`minSpreadMs`): Vault's load is requests per wall-clock minute, so short-lived
 *   certificates need an absolute floor (10% of 1h would squeeze a fleet into 6 minutes).
 * - and never more than half the time between notBefore and the nominal moment: a certificate is never
 *   due right after it was issued (Vault backdates notBefore, 30 s by default), which with short lifetimes
 *   would become a renewal loop. For 1h certificates this gives a 20-minute window.
 * - safety margin min(10% of the lifetime, 24h): renewal is never later than `notAfter − margin`, whatever
 *   renewAt says (e.g. 0.99), so a retry or two still fits before expiry. The jitter window is clamped as a
 *   whole, so a clamped fleet is still spread rather than piled up on the margin.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AgentError, ExitCode } from '../errors.js';
import {
  checkCertificateSet,
  type ExpectedCertificate,
  type FindingCode,
  reissueFinding,
  type SetFiles,
} from '../pki/check-set.js';
import type { CertificateInfo } from '../pki/inspect.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

const DEFAULT_SPREAD = 0.1;
const DEFAULT_MIN_SPREAD_MS = HOUR_MS;
/** The jitter never eats more than this share of the time between notBefore and the nominal moment. */
const MAX_JITTER_SHARE = 0.5;
const DEFAULT_SAFETY_MARGIN_SHARE = 0.1;
const DEFAULT_SAFETY_MARGIN_CAP_MS = 24 * HOUR_MS;

export interface RenewalTimeInput {
  notBefore: Date;
  notAfter: Date;
  /** Fraction of the lifetime after which the certificate is due (CertSpec.renewAt). */
  renewAt: number;
  /** Stable host identity: EC2 instance-id, else hostname. */
  hostId: string;
  /**
   * The certificate's name. Pass a shared key instead (e.g. the unit they feed) to make several
   * certificates of one host renew in the same pass.
   */
  certName: string;
  /** Per-host random seed, generated once (`generateScheduleSeed`) and persisted by the caller. */
  seed: string;
  /** Jitter window as a fraction of the lifetime (default 0.1). */
  spread?: number;
  /** Lower bound of the jitter window in ms (default 1h), still subject to MAX_JITTER_SHARE. */
  minSpreadMs?: number;
  /** Renewal is never later than notAfter minus this (default min(10% of the lifetime, 24h)). */
  safetyMarginMs?: number;
}

export interface RenewalWindow {
  /** Earliest possible renewal moment for this certificate on any host. */
  start: Date;
  /** Latest possible renewal moment: min(nominal, notAfter − margin). */
  end: Date;
  /** This host's position in the window: 0 = end (no jitter), towards 1 = start. */
  fraction: number;
  /** This host's renewal moment. */
  time: Date;
}

function fail(message: string): never {
  throw new AgentError('internal', ExitCode.internal, `schedule: ${message}`);
}

function finiteMs(date: Date, what: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) fail(`${what} is not a valid date`);
  return ms;
}

function finiteNumber(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (!Number.isFinite(n) || n < 0) fail(`${what} must be a finite number >= 0, got ${String(value)}`);
  return n;
}

/** A fresh per-host seed (128 bits, hex). Generate once, persist, reuse for the life of the host. */
export function generateScheduleSeed(): string {
  return randomBytes(16).toString('hex');
}

/** Uniform in [0, 1), a deterministic function of its inputs (48 bits of SHA-256). */
function jitterFraction(hostId: string, certName: string, seed: string): number {
  // NUL separators: ("ab","c") and ("a","bc") must not collide.
  const digest = createHash('sha256')
    .update(`vault-pki-agent/renewal-jitter/v1\0${seed}\0${hostId}\0${certName}`)
    .digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/**
 * The window every host may renew in, and this host's moment within it: `time` is within [notBefore,
 * notAfter − safety margin], never later than notBefore + renewAt × lifetime. Same inputs, same answer.
 */
export function renewalWindow(input: RenewalTimeInput): RenewalWindow {
  const notBefore = finiteMs(input.notBefore, 'notBefore');
  const notAfter = finiteMs(input.notAfter, 'notAfter');
  if (!Number.isFinite(input.renewAt)) fail(`renewAt must be a finite number, got ${String(input.renewAt)}`);
  const spread = finiteNumber(input.spread, DEFAULT_SPREAD, 'spread');
  const minSpread = finiteNumber(input.minSpreadMs, DEFAULT_MIN_SPREAD_MS, 'minSpreadMs');
  const fraction = jitterFraction(input.hostId, input.certName, input.seed);

  const lifetime = notAfter - notBefore;
  if (lifetime <= 0) {
    // Nothing to spread: an empty or inverted validity is due at once.
    const at = new Date(notBefore);
    return { start: at, end: at, fraction, time: at };
  }
  const defaultMargin = Math.min(lifetime * DEFAULT_SAFETY_MARGIN_SHARE, DEFAULT_SAFETY_MARGIN_CAP_MS);
  const margin = Math.min(finiteNumber(input.safetyMarginMs, defaultMargin, 'safetyMarginMs'), lifetime);

  const nominal = notBefore + Math.max(0, input.renewAt) * lifetime;
  const end = Math.floor(Math.max(notBefore, Math.min(nominal, notAfter - margin)));
  const width = Math.floor(
    Math.min(Math.max(spread * lifetime, minSpread), MAX_JITTER_SHARE * (end - notBefore)),
  );
  const time = end - Math.floor(fraction * width);
  return { start: new Date(end - width), end: new Date(end), fraction, time: new Date(time) };
}

/** When each certificate of a host renews: `(certificate, notBefore, notAfter) => moment`. */
export type RenewalSchedule = (
  cert: { name: string; renewAt: number },
  notBefore: Date,
  notAfter: Date,
) => Date;

/** The fleet-jittered schedule of one host (its identity and its persisted seed). */
export function hostSchedule(hostId: string, seed: string): RenewalSchedule {
  return (cert, notBefore, notAfter) =>
    renewalWindow({ notBefore, notAfter, renewAt: cert.renewAt, hostId, certName: cert.name, seed }).time;
}

/**
 * The shortest time `run` waits before it re-issues a certificate it has just issued (issue 13). Without it a
 * lifetime shorter than Vault's backdating of notBefore (30 s by default) makes a certificate due the moment
 * it is issued, and `run` re-issues it many times a second. Half the remaining life when that is shorter (a
 * 12 s certificate is renewed after 6 s), never less than MIN_REISSUE_FLOOR_MS.
 */
const MIN_REISSUE_INTERVAL_MS = 10_000;
const MIN_REISSUE_FLOOR_MS = 2_000;

/** The earliest moment a certificate issued at `issuedAt` (ms) and valid until `notAfter` may be re-issued. */
function earliestReissue(issuedAt: number, notAfter: Date): number {
  const halfLeft = (notAfter.getTime() - issuedAt) / 2;
  const wait = Math.min(
    MIN_REISSUE_INTERVAL_MS,
    Number.isFinite(halfLeft) ? halfLeft : MIN_REISSUE_INTERVAL_MS,
  );
  return issuedAt + Math.max(MIN_REISSUE_FLOOR_MS, wait);
}

/**
 * `schedule`, except that a certificate issued at `issuedAt(name)` (by this process; undefined when it has
 * issued none) is never due before `earliestReissue`. What was on disk at start is scheduled as is, so a
 * certificate already due then is renewed at once; `check` and `status` (no issuing) see the plain schedule.
 */
export function withReissueInterval(
  schedule: RenewalSchedule,
  issuedAt: (name: string) => number | undefined,
): RenewalSchedule {
  return (cert, notBefore, notAfter) => {
    const time = schedule(cert, notBefore, notAfter);
    const issued = issuedAt(cert.name);
    if (issued === undefined) return time;
    const earliest = earliestReissue(issued, notAfter);
    return time.getTime() >= earliest ? time : new Date(earliest);
  };
}

export type ReissueReason = FindingCode | 'renewal-due';

export interface ReissueVerdict {
  reason: ReissueReason;
  /** Human message with specifics, e.g. `the subject alternative names differ from the spec: missing 10.0.1.9`. */
  message: string;
}

export interface SetDecision {
  /** Why the set must be (re-)issued now; undefined when it is fine. */
  verdict?: ReissueVerdict;
  /** The current leaf, when it could be read. */
  leaf?: CertificateInfo;
  /** When the current leaf renews. */
  renewalTime?: Date;
}

/**
 * Must this set be (re-)issued now, and when does it renew? The first finding of the set check
 * (pki/check-set.ts) a new certificate cures, else `renewal-due` once the schedule's moment has come.
 */
export function decideSet(input: {
  spec: ExpectedCertificate & { name: string; renewAt: number };
  files: SetFiles;
  now: Date;
  schedule: RenewalSchedule;
  /** The CA the mount issues with now, when known (the pass); `check` and `status` ask Vault nothing. */
  mountCaPem?: string;
}): SetDecision {
  const { spec, now } = input;
  const check = checkCertificateSet({
    files: input.files,
    expected: spec,
    now,
    mountCaPem: input.mountCaPem,
  });
  const { leaf } = check;
  const renewalTime = leaf && input.schedule(spec, leaf.notBefore, leaf.notAfter);
  const first = reissueFinding(check);
  if (first) return { verdict: { reason: first.code, message: first.message }, leaf, renewalTime };
  if (!leaf || !renewalTime) return {};
  if (renewalTime.getTime() <= now.getTime())
    return {
      verdict: {
        reason: 'renewal-due',
        message: `renewal is due: since ${renewalTime.toISOString()}, not after ${leaf.notAfter.toISOString()}`,
      },
      leaf,
      renewalTime,
    };
  return { leaf, renewalTime };
}

/**
 * Longest sleep of the `run` loop (15 min): each wake re-reads the token file (SPEC: a rotated token is picked
 * up without a restart), notices a clock jump or a hand-edited set, and re-checks every set; a quarter of an
 * hour bounds how long a rotated token goes unused for the cost of four local reads an hour. Far below
 * setTimeout's 24.8-day limit.
 */
const MAX_SLEEP_MS = 15 * MINUTE_MS;

/**
 * The next moment the loop should wake: the earliest of `times` (undefined ones ignored), not before now, at
 * most MAX_SLEEP_MS away.
 */
export function nextWake(times: readonly (Date | undefined)[], now: Date): Date {
  const nowMs = finiteMs(now, 'now');
  let earliest = nowMs + MAX_SLEEP_MS;
  for (const t of times) if (t !== undefined) earliest = Math.min(earliest, finiteMs(t, 'a wake time'));
  return new Date(Math.max(earliest, nowMs));
}
