/**
 * The wiring `bootstrap`, `run` and `revoke` share: config + token + Vault client for a command (`connect`),
 * the real adapters a pass runs on (`createPassPorts`), and what is said after a pass. The composition roots
 * (bootstrap.ts, run.ts, revoke.ts) import it from here, never from each other.
 */
import { join } from 'node:path';
import type { AgentConfig } from '../config/types.js';
import { AgentError, UsageError } from '../errors.js';
import { readCertificateSet } from '../files/read-set.js';
import { rollbackCertificateSet, tidyCertificateDir } from '../files/recover.js';
import { writeCertificateSet } from '../files/write-set.js';
import type { Logger } from '../log.js';
import { runHealthCheck } from '../services/health-check.js';
import { runActions } from '../services/run-actions.js';
import { SystemctlServiceManager } from '../services/service-manager.js';
import type { AuthMethod } from '../vault/auth-method.js';
import { createVaultClient } from '../vault/client.js';
import type { ResolvedVaultSettings } from '../vault/settings.js';
import type { TokenInfo, VaultClient } from '../vault/vault-client.js';
import type { PassPorts, PassResult } from './certificate-pass.js';
import { type CliIo, type GlobalArgs, timeoutMsOf } from './cli-context.js';
import { loadConfig } from './load-config.js';
import { type TokenSource, tokenFileAuth } from './token.js';
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
 * Config, auth method, token and Vault client, ready for a pass. `lookupToken` asks Vault about the token up
 * front (`run` needs its TTL); without it the token is only unwrapped when wrapped, and `info` may be absent.
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
  /** How this command gets its token (the token file today): `run` asks it again at each wake. */
  auth: AuthMethod;
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
  const auth = tokenFileAuth({
    flagFile: args.tokenFile,
    configFile: config.vault.tokenFile,
    env: io.env,
    log,
    wrapped: config.vault.wrappedToken,
  });
  if (!opts.needToken) return { config, settings, vault, auth, deadline };
  const login = await auth.login(vault, { lookup: opts.lookupToken });
  const token = { source: login.session, info: login.info };
  if (token.info) logTokenOk(log, token.source, token.info);
  return { config, settings, vault, auth, token, deadline };
}

export function logTokenOk(log: Logger, source: TokenSource, info: TokenInfo): void {
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

/** Requests this client sent to Vault so far (every path). */
export const totalRequests = (vault: VaultClient) =>
  [...vault.stats.requests.values()].reduce((a, b) => a + b, 0);
