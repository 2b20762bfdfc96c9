/**
 * Composition root for `bootstrap`: connects (wiring.ts), runs one certificate pass on the real adapters,
 * writes the outputs besides the sets, keeps the token up and records the pass.
 */
import { ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { tokenUpkeep } from '../plan/token-upkeep.js';
import type { VaultClient } from '../vault/vault-client.js';
import { type PassResult, runCertificatePass } from './certificate-pass.js';
import { type CliIo, loggerFor } from './cli-context.js';
import { scheduleFor } from './inspect-local.js';
import { writeOutputs } from './outputs.js';
import { publishState } from './publish.js';
import { loadState, recordPass, type TokenState, tokenState } from './state.js';
import type { TokenSource } from './token.js';
import {
  type BootstrapArgs,
  checkClockSkew,
  connect,
  createPassPorts,
  logTokenOk,
  printPassSummary,
  selectCertificates,
  totalRequests,
} from './wiring.js';

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
  // Outputs besides the sets (component kubeconfigs, service-account key): whatever `--only` picked.
  const outputs = args.dryRun ? undefined : await writeOutputs({ config: full, vault, log, readVault: true });
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
  const failure = result.failure ?? outputs?.failure;
  return failure ? failure.exitCode : ExitCode.ok;
}
