/**
 * Composition root for `bootstrap` (and the first pass of `run`): builds the real adapters (config file,
 * host facts, node-vault client, atomic writer, systemctl) and runs one certificate pass.
 */
import type { GlobalArgs } from '../cli/global-options.js';
import type { CliIo } from '../cli/run-cli.js';
import type { AgentConfig } from '../config/types.js';
import { ExitCode, UsageError } from '../errors.js';
import { readCertificateSet, writeCertificateSet } from '../files/atomic-writer.js';
import { createLogger, type Logger } from '../log.js';
import { runActions } from '../services/run-actions.js';
import { SystemctlServiceManager } from '../services/service-manager.js';
import { parseDurationSeconds } from '../util/duration.js';
import { createVaultClient } from '../vault/node-vault-client.js';
import { resolveVaultSettings } from '../vault/settings.js';
import type { VaultClient } from '../vault/vault-client.js';
import { type PassResult, runCertificatePass } from './certificate-pass.js';
import { loadConfig } from './load-config.js';
import { resolveToken, unwrapTokenSource } from './token.js';

export interface BootstrapArgs extends GlobalArgs {
  dryRun?: boolean;
  only?: string[];
}

export function loggerFor(args: GlobalArgs, io: CliIo): Logger {
  return createLogger({ level: args.logLevel, format: args.logFormat, write: (l) => io.stderr(`${l}\n`) });
}

export function timeoutMsOf(args: GlobalArgs): number {
  const seconds = parseDurationSeconds(args.timeout);
  if (seconds === undefined || seconds <= 0)
    throw new UsageError(`--timeout "${args.timeout}" is not a duration`);
  return seconds * 1000;
}

function selectCertificates(config: AgentConfig, only: string[] | undefined): AgentConfig {
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

/** Config, token and Vault client, ready for a pass. */
export async function connect(
  args: GlobalArgs,
  io: CliIo,
  log: Logger,
  opts: { needToken: boolean },
): Promise<{ config: AgentConfig; vault: VaultClient }> {
  const timeoutMs = timeoutMsOf(args);
  const config = await loadConfig(args.config, io.env);
  const settings = resolveVaultSettings(config.vault, io.env, { tlsSkipVerify: args.tlsSkipVerify });
  if (settings.skipVerify)
    log.warn('TLS verification of Vault is OFF (VAULT_SKIP_VERIFY + --tls-skip-verify)');
  const vault = createVaultClient({ settings, timeoutMs, log });
  if (opts.needToken) {
    let source = await resolveToken({
      flagFile: args.tokenFile,
      configFile: config.vault.tokenFile,
      env: io.env,
      log,
    });
    vault.setToken(source.token);
    if (config.vault.wrappedToken) source = await unwrapTokenSource(source, vault, log);
    const info = await vault.lookupSelf();
    log.info('vault token ok', {
      origin: source.origin,
      ttl_s: info.ttlSeconds,
      renewable: info.renewable,
      policies: info.policies.join(','),
    });
  }
  return { config, vault };
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

export async function runBootstrap(args: BootstrapArgs, io: CliIo): Promise<number> {
  const log = loggerFor(args, io);
  const { config: full, vault } = await connect(args, io, log, { needToken: !args.dryRun });
  const config = selectCertificates(full, args.only);
  const services = new SystemctlServiceManager();
  const result = await runCertificatePass(
    config,
    {
      vault,
      store: { read: readCertificateSet, write: (spec, files) => writeCertificateSet(spec, files) },
      runActions: (planned) => runActions(planned, { services, log, atBoot: true }),
      log,
      now: () => new Date(),
    },
    { dryRun: args.dryRun },
  );
  printPassSummary(result, io);
  const requests = [...vault.stats.requests.values()].reduce((a, b) => a + b, 0);
  log.info('bootstrap finished', {
    issued: result.outcomes.filter((o) => o.action === 'issued').length,
    failed: result.outcomes.filter((o) => o.action === 'failed').length,
    vault_requests: requests,
    retries: vault.stats.retries,
  });
  return result.failure ? result.failure.exitCode : ExitCode.ok;
}
