/**
 * Outputs besides the certificate sets: files a node needs that are made from the sets or read from Vault,
 * written after each pass by one loop (`writeOutputs`), each through files/owned-file.ts (only when bytes,
 * owner or mode differ). Today: the component kubeconfigs (`kubeconfigs:`) and the service-account key pair
 * (`serviceAccountKey:`). A new kind of output is one more entry in OUTPUTS; `bootstrap` and `run` need no
 * change.
 */
import type { AgentConfig } from '../config/types.js';
import type { AgentError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VaultClient } from '../vault/vault-client.js';
import { writeKubeconfigFiles } from './kubeconfig-files.js';
import { writeServiceAccountFiles } from './service-account-files.js';

export interface OutputContext {
  config: AgentConfig;
  vault: VaultClient;
  log: Logger;
  /**
   * Whether outputs read from Vault are read this time. `run` reads them with the CAs (first pass, SIGHUP,
   * hourly), not at every wake: one Vault read per wake would break the one-request-per-renewal economy.
   */
  readVault: boolean;
}

export interface OutputResult {
  /** Paths written (changed) this time. */
  written: string[];
  /** The first failure; every output was still tried. Failures are logged by the output itself. */
  failure?: AgentError;
}

interface Output {
  /** Reads Vault: skipped when the context says not to read it this time. */
  readsVault: boolean;
  write(ctx: OutputContext): Promise<OutputResult>;
}

const OUTPUTS: readonly Output[] = [
  // The component kubeconfigs name the sets by path: a renewal leaves them as they are.
  { readsVault: false, write: ({ config, log }) => writeKubeconfigFiles(config, log) },
  { readsVault: true, write: ({ config, vault, log }) => writeServiceAccountFiles(config, vault, log) },
];

/** Every output in order; a failing one does not stop the others. */
export async function writeOutputs(ctx: OutputContext): Promise<OutputResult> {
  const written: string[] = [];
  let failure: AgentError | undefined;
  for (const output of OUTPUTS) {
    if (output.readsVault && !ctx.readVault) continue;
    const result = await output.write(ctx);
    written.push(...result.written);
    failure ??= result.failure;
  }
  return failure === undefined ? { written } : { written, failure };
}
