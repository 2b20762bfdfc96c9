/**
 * `run`: bootstrap, then stay up and renew each certificate when it is due.
 * Each wake: re-read the token file (a rotated token is used at once), renew the token when half its TTL
 * is gone, run one certificate pass with the fleet-jittered schedule, record state and metrics, and sleep
 * until the next renewal, the next token renewal, or a capped backoff after a failure.
 * SIGHUP: check everything now (and re-read the mounts' CAs). SIGTERM/SIGINT: finish the pass in progress
 * (a write is never cut in half), then exit 0.
 */

import { AgentError, ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { nextWake, withReissueInterval } from '../plan/renewal.js';
import { tokenTimes } from '../plan/token-upkeep.js';
import { retryDelay } from '../util/backoff.js';
import { createVaultClient } from '../vault/client.js';
import type { VaultClient } from '../vault/vault-client.js';
import { runCertificatePass } from './certificate-pass.js';
import { type CliIo, loggerFor, timeoutMsOf } from './cli-context.js';
import { scheduleFor } from './inspect-local.js';
import { writeOutputs } from './outputs.js';
import { publishState } from './publish.js';
import { loadState, recordPass, tokenState } from './state.js';
import {
  type BootstrapArgs,
  checkClockSkew,
  connect,
  createPassPorts,
  printPassSummary,
  totalRequests,
} from './wiring.js';

/** Sleep that SIGHUP cuts short and SIGTERM/SIGINT end. */
export interface Waker {
  wait(ms: number): Promise<'timeout' | 'hup' | 'stop'>;
  readonly stopping: boolean;
  /** SIGHUP arrived since the last call. */
  takeHup(): boolean;
  dispose(): void;
}

export function processWaker(proc: NodeJS.Process = process): Waker {
  let stopping = false;
  let hup = false;
  let wake: ((why: 'hup' | 'stop') => void) | undefined;
  const onHup = () => {
    hup = true;
    wake?.('hup');
  };
  const onStop = () => {
    stopping = true;
    wake?.('stop');
  };
  proc.on('SIGHUP', onHup);
  proc.on('SIGTERM', onStop);
  proc.on('SIGINT', onStop);
  return {
    get stopping() {
      return stopping;
    },
    takeHup() {
      const was = hup;
      hup = false;
      return was;
    },
    wait(ms) {
      if (stopping) return Promise.resolve('stop');
      if (hup) return Promise.resolve('hup');
      return new Promise((resolve) => {
        const timer = setTimeout(
          () => {
            wake = undefined;
            resolve('timeout');
          },
          Math.max(0, ms),
        );
        wake = (why) => {
          clearTimeout(timer);
          wake = undefined;
          resolve(why);
        };
      });
    },
    dispose() {
      proc.off('SIGHUP', onHup);
      proc.off('SIGTERM', onStop);
      proc.off('SIGINT', onStop);
    },
  };
}

/** The VaultClient, noting when each certificate was last issued or signed (for the re-issue interval). */
function recordingIssues(vault: VaultClient, issuedAt: Map<string, number>): VaultClient {
  const note = <T>(name: string | undefined, result: T): T => {
    if (name !== undefined) issuedAt.set(name, Date.now());
    return result;
  };
  return {
    ...vault,
    issue: async (mount, role, req, ctx) => note(ctx?.certName, await vault.issue(mount, role, req, ctx)),
    sign: async (mount, role, csr, req, ctx) =>
      note(ctx?.certName, await vault.sign(mount, role, csr, req, ctx)),
  };
}

/** The mounts' CAs are re-read at least this often (and on SIGHUP) to notice a CA rotation. */
const CA_MAX_AGE_MS = 60 * 60_000;
/** Retry budget of each wake after the first, all its requests together: the loop itself retries with backoff. */
const LOOP_PASS_TIMEOUT_MS = 60_000;

export async function runDaemon(
  args: BootstrapArgs,
  io: CliIo,
  waker: Waker = processWaker(),
): Promise<number> {
  const log = loggerFor(args, io);
  try {
    return await loop(args, io, log, waker);
  } finally {
    waker.dispose();
  }
}

async function loop(args: BootstrapArgs, io: CliIo, log: Logger, waker: Waker): Promise<number> {
  const first = await connect(args, io, log, { needToken: true, lookupToken: true });
  const { config } = first;
  let vault: VaultClient = first.vault;
  const firstInfo = first.token?.info;
  if (!first.token || !firstInfo) throw new Error('internal: connect returned no token information');
  let source = first.token.source;
  let clock = tokenTimes(firstInfo.ttlSeconds, firstInfo.renewable, Date.now());
  // Each wake after the first (token upkeep and pass) retries for a minute at most, all its requests
  // together: the loop itself retries with backoff.
  const cycleMs = Math.min(timeoutMsOf(args), LOOP_PASS_TIMEOUT_MS);
  let cycleDeadline = 0;
  const loopVault = createVaultClient({
    settings: first.settings,
    token: source.token,
    timeoutMs: cycleMs,
    deadline: () => cycleDeadline,
    log,
  });

  let { state } = await loadState(config.stateDir);
  state = {
    ...state,
    token: tokenState(firstInfo.ttlSeconds, firstInfo.renewable, firstInfo.periodSeconds),
  };
  // A certificate this loop issued is not re-issued within seconds, however short its lifetime (no storm).
  const issuedAt = new Map<string, number>();
  const schedule = withReissueInterval(scheduleFor(config, state), (name) => issuedAt.get(name));
  if (clock.expiresAt !== undefined && !firstInfo.renewable) {
    log.warn('vault token is not renewable: renewals stop working when it expires', {
      expires: new Date(clock.expiresAt).toISOString(),
    });
  }

  const mountCas = new Map<string, string>();
  let casReadAt = Date.now();
  let failures = 0;
  let passNumber = 0;
  let warnedSkew = false;
  let warnedToken = false;

  while (!waker.stopping) {
    cycleDeadline = Date.now() + cycleMs;
    // 1. A rotated token file is picked up without a restart (the auth method re-reads it).
    const changed = passNumber > 0 ? await first.auth.refresh?.(loopVault, source) : undefined;
    if (changed) {
      source = changed.session;
      clock = tokenTimes(changed.info.ttlSeconds, changed.info.renewable, Date.now());
      state = {
        ...state,
        token: tokenState(changed.info.ttlSeconds, changed.info.renewable, changed.info.periodSeconds),
      };
    }
    if (passNumber > 0) vault = loopVault;

    // 2. Token upkeep: renew-self once half the TTL is gone.
    if (clock.renewAt !== undefined && Date.now() >= clock.renewAt) {
      try {
        const renewed = await vault.renewSelf();
        clock = tokenTimes(renewed.leaseDurationSeconds, renewed.renewable, Date.now());
        state = {
          ...state,
          token: tokenState(renewed.leaseDurationSeconds, renewed.renewable, state.token?.periodSeconds),
        };
        log.info('vault token renewed', { ttl_s: renewed.leaseDurationSeconds });
      } catch (error) {
        log.error('vault token renewal failed', { error: (error as Error).message });
        clock = { ...clock, renewAt: Date.now() + retryDelay(1, { baseMs: 5_000, capMs: 60_000 }) };
      }
    }

    // 3. One pass. SIGHUP or an old CA cache makes it read the mounts' CAs again.
    const refresh = waker.takeHup() || Date.now() - casReadAt > CA_MAX_AGE_MS;
    if (refresh) {
      mountCas.clear();
      casReadAt = Date.now();
    }
    const before = totalRequests(vault);
    let result: Awaited<ReturnType<typeof runCertificatePass>> | undefined;
    try {
      const ports = {
        ...createPassPorts(vault, log, passNumber === 0),
        vault: recordingIssues(vault, issuedAt),
      };
      result = await runCertificatePass(config, ports, {
        renewalTime: schedule,
        mountCas,
      });
      if (passNumber === 0) printPassSummary(result, io);
      // Failures are logged inside; the next pass tries again. What is read from Vault (the service-account
      // key) is read with the CAs: first pass, SIGHUP, hourly.
      await writeOutputs({ config, vault, log, readVault: refresh || passNumber === 0 });
    } catch (error) {
      // Vault unreachable while reading CAs etc.: keep the sets on disk, retry with backoff.
      log.error('pass failed', {
        error: (error as Error).message,
        code: AgentError.is(error) ? error.code : 'internal',
      });
    }
    passNumber++;
    // Reported once per process: a skewed clock stays skewed until time sync fixes it.
    const skewMs = warnedSkew ? vault.clockSkewMs() : checkClockSkew(vault, log);
    if (skewMs !== undefined && Math.abs(skewMs) > 5_000) warnedSkew = true;
    const now = new Date();
    if (result) {
      state = recordPass(state, result, now, {
        vaultRequests: totalRequests(vault) - before,
        clockSkewSeconds: skewMs === undefined ? undefined : skewMs / 1000,
      });
    } else {
      const vaultRequests = totalRequests(vault) - before;
      state = {
        ...state,
        lastPass: { at: now.toISOString(), success: false, vaultRequests },
        vaultRequestsTotal: (state.vaultRequestsTotal ?? 0) + vaultRequests,
      };
    }
    await publishState(config, state, log);

    // A token that cannot be renewed and runs out before the next renewal: say so now, not at 3 a.m.
    const nextRenewal = Math.min(
      ...(result?.outcomes ?? []).flatMap((o) => (o.renewalTime ? [o.renewalTime.getTime()] : [])),
    );
    if (
      clock.expiresAt !== undefined &&
      clock.renewAt === undefined &&
      clock.expiresAt < nextRenewal &&
      !warnedToken
    ) {
      warnedToken = true;
      log.error('vault token expires before the next certificate renewal and cannot be renewed: rotate it', {
        token_expires: new Date(clock.expiresAt).toISOString(),
        next_renewal: new Date(nextRenewal).toISOString(),
      });
    }

    // 4. Sleep until the next thing is due.
    const ok = result !== undefined && !result.failure;
    failures = ok ? 0 : failures + 1;
    const at = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
    const wakeAt = nextWake(
      [
        ...(result?.outcomes ?? []).map((o) => o.renewalTime),
        at(clock.renewAt),
        at(ok ? undefined : Date.now() + retryDelay(failures, { baseMs: 1_000, capMs: 5 * 60_000 })),
      ],
      new Date(),
    );
    log.debug('sleeping', { until: wakeAt.toISOString(), failures });
    const why = await waker.wait(wakeAt.getTime() - Date.now());
    if (why === 'hup') log.info('SIGHUP: checking every certificate now');
  }
  log.info('stopping: the pass in progress finished');
  return ExitCode.ok;
}
