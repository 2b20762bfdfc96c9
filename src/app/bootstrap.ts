/**
 * Composition root for `bootstrap` (and the first pass of `run`): builds the real adapters (config file,
 * host facts, node-vault client, atomic writer, systemctl) and runs one certificate pass.
 */
import { join } from 'node:path';
import type { GlobalArgs } from '../cli/global-options.js';
import type { CliIo } from '../cli/run-cli.js';
import type { AgentConfig } from '../config/types.js';
import { AgentError, ExitCode, UsageError } from '../errors.js';
import { readCertificateSet } from '../files/read-set.js';
import { rollbackCertificateSet, tidyCertificateDir } from '../files/recover.js';
import { writeCertificateSet } from '../files/write-set.js';
import type { Logger } from '../log.js';
import { tokenUpkeep } from '../plan/token-upkeep.js';
import { runHealthCheck } from '../services/health-check.js';
import { runActions } from '../services/run-actions.js';
import { SystemctlServiceManager } from '../services/service-manager.js';
import { createVaultClient } from '../vault/client.js';
import type { ResolvedVaultSettings } from '../vault/settings.js';
import type { TokenInfo, VaultClient } from '../vault/vault-client.js';
import { type PassPorts, type PassResult, runCertificatePass } from './certificate-pass.js';
import { loggerFor, timeoutMsOf } from './cli-context.js';
import { scheduleFor } from './inspect-local.js';
import { writeKubeconfigFiles } from './kubeconfig-files.js';
import { loadConfig } from './load-config.js';
import { publishState } from './publish.js';
import { writeServiceAccountFiles } from './service-account-files.js';
import { loadState, recordPass, type TokenState, tokenState } from './state.js';
import { activateToken, prepareToken, resolveToken, type TokenSource } from './token.js';
import { sessionSettings } from './vault-session.js';

export interface BootstrapArgs extends GlobalArgs {
  dryRun?: boolean;
  only?: string[];
}

export function selectCertificates(config: AgentConfig, only: string[] | undefined): AgentConfig {
  if (!only || only.length === 0) return config;
  const names = new Set(config.certificates.map((c) => c.name));
  const unknown = only.filter((n) => !names.has(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `--only names no configured certificate: ${unknown.join(', ')} (have: ${[...names].join(', ')})`,
    );
  }
  return { ...config, certificates: config.certificates.filter((c) => only.includes(c.name)) };
}

/**
 * Config, token and Vault client, ready for a pass. `lookupToken` asks Vault about the token up front
 * (`run` needs its TTL); without it the token is only unwrapped when wrapped, and `info` may be absent.
 */
export async function connect(
  args: GlobalArgs,
  io: CliIo,
  log: Logger,
  opts: { needToken: boolean; lookupToken: boolean },
): Promise<{
  config: AgentConfig;
  settings: ResolvedVaultSettings;
  vault: VaultClient;
  token?: { source: TokenSource; info?: TokenInfo };
  /** When --timeout runs out (epoch ms): bounds the Vault requests and the wait for a set's lock. */
  deadline: number;
}> {
  const timeoutMs = timeoutMsOf(args);
  // --timeout bounds the command, not each request: a pass of seven sets in an outage gives up after one
  // --timeout, not after two rounds of four concurrent requests.
  const deadline = Date.now() + timeoutMs;
  const config = await loadConfig(args.config, io.env);
  const settings = sessionSettings(args, io, log, config.vault);
  const vault = createVaultClient({ settings, timeoutMs, deadline: () => deadline, log });
  if (!opts.needToken) return { config, settings, vault, deadline };
  const resolved = await resolveToken({
    flagFile: args.tokenFile,
    configFile: config.vault.tokenFile,
    env: io.env,
    log,
  });
  const token = opts.lookupToken
    ? await activateToken(resolved, vault, config.vault.wrappedToken, log)
    : await prepareToken(resolved, vault, config.vault.wrappedToken, log);
  if (token.info) logTokenOk(log, token.source, token.info);
  return { config, settings, vault, token, deadline };
}

function logTokenOk(log: Logger, source: TokenSource, info: TokenInfo): void {
  log.info('vault token ok', {
    origin: source.origin,
    ttl_s: info.ttlSeconds,
    renewable: info.renewable,
    policies: info.policies.join(','),
  });
}

export function printPassSummary(result: PassResult, io: CliIo): void {
  const width = Math.max(4, ...result.outcomes.map((o) => o.name.length));
  for (const o of result.outcomes) {
    const parts = [o.name.padEnd(width), o.action.padEnd(11)];
    if (o.verdict && o.action !== 'up-to-date') parts.push(`reason: ${o.verdict.message}`);
    if (o.notAfter) parts.push(`not after ${o.notAfter.toISOString()}`);
    if (o.renewalTime) parts.push(`renews ${o.renewalTime.toISOString()}`);
    if (o.error) parts.push(`error: ${o.error.message}`);
    io.stdout(`${parts.join('  ')}\n`);
  }
  for (const a of result.actions) {
    io.stdout(
      `action ${a.kind} ${a.target}${a.verb ? ` ${a.verb}` : ''}: ${a.outcome}${a.error ? ` (${a.error})` : ''}\n`,
    );
  }
}

/** Clock guard: Vault's Date header against the local clock; more than 5 s apart is reported. */
export function checkClockSkew(vault: VaultClient, log: Logger): number | undefined {
  const skewMs = vault.clockSkewMs();
  if (skewMs !== undefined && Math.abs(skewMs) > 5_000) {
    log.warn("this host's clock differs from Vault's (Date header): check time sync", {
      skew_s: Math.round(skewMs / 1000),
    });
  }
  return skewMs;
}

/**
 * The real adapters a pass runs on: atomic writer, systemctl/exec actions, health checks. `deadline` bounds
 * the wait for a set another process is writing (default: the writer's own minute).
 */
export function createPassPorts(
  vault: VaultClient,
  log: Logger,
  atBoot: boolean,
  opts: { deadline?: () => number; dryRun?: boolean } = {},
): PassPorts {
  const { deadline } = opts;
  const services = new SystemctlServiceManager();
  return {
    vault,
    store: {
      // Every pass, written or not: a killed writer's leftovers are removed and an earlier layout's set
      // directory is made root's (files/set-directory.ts); an unsafe directory fails its set here.
      read: async (spec) => {
        const tidied = opts.dryRun
          ? []
          : await tidyCertificateDir(spec).catch((error: unknown) => {
              // An unsafe directory fails its set; anything else (a read-only disk) only costs the clean-up.
              if (AgentError.is(error) && error.code === 'unsafe-target') throw error;
              log.warn('cannot tidy certificate directory', {
                dir: spec.dir,
                error: (error as Error).message,
              });
              return [] as string[];
            });
        if (tidied.length > 0)
          log.info('certificate directory tidied', { dir: spec.dir, detail: tidied.join('; ') });
        return readCertificateSet(spec);
      },
      write: (spec, files, recheck) => writeCertificateSet(spec, files, { deadline: deadline?.(), recheck }),
      rollback: async (spec) => (await rollbackCertificateSet(spec, { deadline: deadline?.() })).rolledBack,
    },
    runActions: (planned) => runActions(planned, { services, log, atBoot }),
    healthCheck: (spec) =>
      runHealthCheck(spec.name, spec.healthCheck!, {
        cert: join(spec.files.dir, spec.files.names.cert),
        key: join(spec.files.dir, spec.files.names.key),
        ca: join(spec.files.dir, spec.files.names.ca),
      }),
    log,
    now: () => new Date(),
  };
}

/**
 * The token's upkeep after a pass (plan/token-upkeep.ts): renew it at half its TTL (the timer deployment
 * has no daemon doing it); otherwise, when nothing was issued (CA reads need no token), look it up so a
 * dead or revoked token still fails the run (exit 4) and `status` and the metrics show its TTL. A
 * certificate issued in this pass already proved the token: no extra request on a first boot.
 */
async function tokenUpkeepAfterPass(
  vault: VaultClient,
  log: Logger,
  source: TokenSource,
  known: TokenState | undefined,
  result: PassResult,
): Promise<TokenState | undefined> {
  const upkeep = tokenUpkeep(known, new Date());
  if (upkeep.action === 'renew') {
    const renewed = await vault.renewSelf();
    log.info('vault token renewed', { reason: upkeep.reason, ttl_s: renewed.leaseDurationSeconds });
    return tokenState(renewed.leaseDurationSeconds, renewed.renewable, known?.periodSeconds);
  }
  if (result.outcomes.some((o) => o.action === 'issued')) return undefined;
  const info = await vault.lookupSelf();
  logTokenOk(log, source, info);
  return tokenState(info.ttlSeconds, info.renewable, info.periodSeconds);
}

/** Requests this client sent to Vault so far (every path). */
export const totalRequests = (vault: VaultClient) =>
  [...vault.stats.requests.values()].reduce((a, b) => a + b, 0);

export async function runBootstrap(args: BootstrapArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  const {
    config: full,
    vault,
    token,
    deadline,
  } = await connect(args, io, log, {
    needToken: !args.dryRun,
    lookupToken: false,
  });
  const config = selectCertificates(full, args.only);
  // The same fleet-jittered schedule as `run` and `check` (the seed lives in the state file).
  const { state } = await loadState(config.stateDir);
  const result = await runCertificatePass(
    config,
    createPassPorts(vault, log, true, { deadline: () => deadline, dryRun: args.dryRun }),
    {
      dryRun: args.dryRun,
      renewalTime: scheduleFor(config, state),
    },
  );
  printPassSummary(result, io);
  // The component kubeconfigs name the sets by path: written (when they differ) whatever `--only` picked.
  const kubeconfigs = args.dryRun ? undefined : await writeKubeconfigFiles(full, log);
  const serviceAccount = args.dryRun ? undefined : await writeServiceAccountFiles(full, vault, log);
  if (!args.dryRun) {
    let info =
      token?.info && tokenState(token.info.ttlSeconds, token.info.renewable, token.info.periodSeconds);
    // After a failed pass the failure is the answer: no token request on top of it (in an outage it would
    // only add one more failure). A failing upkeep still lets this pass be recorded before it fails the run.
    let upkeepError: unknown;
    if (token && !info && !result.failure) {
      try {
        info = await tokenUpkeepAfterPass(vault, log, token.source, state.token, result);
      } catch (error) {
        upkeepError = error;
      }
    }
    const skewMs = checkClockSkew(vault, log);
    const next = recordPass(state, result, new Date(), {
      vaultRequests: totalRequests(vault),
      clockSkewSeconds: skewMs === undefined ? undefined : skewMs / 1000,
    });
    if (info) next.token = info;
    await publishState(full, next, log);
    if (upkeepError) throw upkeepError;
  }
  log.info('bootstrap finished', {
    issued: result.outcomes.filter((o) => o.action === 'issued').length,
    failed: result.outcomes.filter((o) => o.action === 'failed').length,
    vault_requests: totalRequests(vault),
    retries: vault.stats.retries,
  });
  const failure = result.failure ?? kubeconfigs?.failure ?? serviceAccount?.failure;
  return failure ? failure.exitCode : ExitCode.ok;
}
