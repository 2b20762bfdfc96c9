/**
 * The agent's own small state file (`<stateDir>/state.json`): the per-host random seed behind the renewal
 * jitter (so `check`, `status` and `run` agree on when each certificate is due), and the last result of
 * every certificate and of the token, for `status` and metrics. Holds no secrets.
 */

import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-file.js';
import { mkdir, readFile } from '../files/local-fs.js';
import { generateScheduleSeed } from '../plan/renewal.js';
import type { CertificateOutcome, PassResult } from './certificate-pass.js';

export interface CertificateState {
  lastResult: CertificateOutcome['action'];
  lastAttempt: string;
  lastSuccess?: string;
  lastError?: string;
  issueFailures: number;
  rollbacks: number;
  serial?: string;
  notAfter?: string;
  renewalTime?: string;
}

export interface TokenState {
  ttlSeconds: number;
  renewable: boolean;
  periodSeconds?: number;
  checkedAt: string;
}

export interface AgentState {
  version: 1;
  seed: string;
  certificates: Record<string, CertificateState>;
  token?: TokenState;
  lastPass?: { at: string; success: boolean; vaultRequests: number; clockSkewSeconds?: number };
  /** Requests sent to Vault by every pass so far (a counter for metrics). */
  vaultRequestsTotal?: number;
}

export const STATE_FILE = 'state.json';

export function freshState(): AgentState {
  return { version: 1, seed: generateScheduleSeed(), certificates: {} };
}

/** The state, or a fresh one (with a new seed) when there is none or it cannot be parsed. */
export async function loadState(dir: string): Promise<{ state: AgentState; existed: boolean }> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as Partial<AgentState>;
    if (parsed.version === 1 && typeof parsed.seed === 'string' && parsed.certificates) {
      return { state: parsed as AgentState, existed: true };
    }
  } catch {
    // missing or unreadable: start over (the seed only spreads renewals; a new one is harmless)
  }
  return { state: freshState(), existed: false };
}

export async function saveState(dir: string, state: AgentState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, 0o640);
}

/** Fold a pass's outcomes into the state (pure). */
export function recordPass(
  state: AgentState,
  result: PassResult,
  now: Date,
  extra: { vaultRequests: number; clockSkewSeconds?: number },
): AgentState {
  const certificates = { ...state.certificates };
  for (const o of result.outcomes) {
    if (o.action === 'would-issue') continue;
    const prev = certificates[o.name];
    const ok = o.action === 'up-to-date' || o.action === 'issued';
    certificates[o.name] = {
      lastResult: o.action,
      lastAttempt: now.toISOString(),
      lastSuccess: ok ? now.toISOString() : prev?.lastSuccess,
      lastError: o.error?.message,
      issueFailures: (prev?.issueFailures ?? 0) + (o.action === 'failed' ? 1 : 0),
      rollbacks: (prev?.rollbacks ?? 0) + (o.action === 'rolled-back' ? 1 : 0),
      serial: o.serial ?? prev?.serial,
      notAfter: o.notAfter?.toISOString() ?? prev?.notAfter,
      renewalTime: o.renewalTime?.toISOString() ?? prev?.renewalTime,
    };
  }
  return {
    ...state,
    certificates,
    lastPass: {
      at: now.toISOString(),
      success: !result.failure,
      vaultRequests: extra.vaultRequests,
      clockSkewSeconds: extra.clockSkewSeconds,
    },
    vaultRequestsTotal: (state.vaultRequestsTotal ?? 0) + extra.vaultRequests,
  };
}

export function tokenState(
  ttlSeconds: number,
  renewable: boolean,
  periodSeconds?: number,
  now = new Date(),
): TokenState {
  return { ttlSeconds, renewable, periodSeconds, checkedAt: now.toISOString() };
}
