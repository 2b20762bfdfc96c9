/**
 * Vault connection for the operator and engineer commands (provision, token create, kubeconfig,
 * kube-credential). They run on a workstation, not a node: no agent config file; Vault's own
 * environment variables, an optional `--vault-addr`, and the token from their auth method (`sessionAuth`: the
 * token file from --token-file, VAULT_TOKEN or ~/.vault-token, SPEC "Token sources").
 */
import type { VaultSettings } from '../config/types.js';
import type { Logger } from '../log.js';
import type { AuthMethod } from '../vault/auth-method.js';
import { createVaultClient } from '../vault/client.js';
import {
  cleartextAddressNotice,
  type ResolvedVaultSettings,
  resolveVaultSettings,
} from '../vault/settings.js';
import type { VaultClient } from '../vault/vault-client.js';
import { type CliIo, type GlobalArgs, timeoutMsOf } from './cli-context.js';
import { tokenFileAuth } from './token.js';

export interface SessionArgs extends GlobalArgs {
  vaultAddr?: string;
}

export function sessionSettings(
  args: SessionArgs,
  io: CliIo,
  log: Logger,
  config: Partial<VaultSettings> = {},
): ResolvedVaultSettings {
  const settings = resolveVaultSettings(config, io.env, {
    address: args.vaultAddr,
    tlsSkipVerify: args.tlsSkipVerify,
  });
  if (settings.skipVerify)
    log.warn('TLS verification of Vault is OFF (VAULT_SKIP_VERIFY + --tls-skip-verify)');
  for (const address of settings.addresses ?? [settings.address]) {
    const cleartext = cleartextAddressNotice(address);
    if (cleartext) log[cleartext.level](cleartext.message, cleartext.fields);
  }
  return settings;
}

/** The auth method of these commands: the token-file method with no config file and no wrapped token. */
export function sessionAuth(args: SessionArgs, io: CliIo, log: Logger): AuthMethod {
  return tokenFileAuth({ flagFile: args.tokenFile, env: io.env, home: io.env.HOME, log, wrapped: false });
}

export function openSession(
  settings: ResolvedVaultSettings,
  token: string | undefined,
  args: SessionArgs,
  log: Logger,
  opts: { maxTimeoutMs?: number } = {},
): VaultClient {
  const timeoutMs = Math.min(timeoutMsOf(args), opts.maxTimeoutMs ?? Number.POSITIVE_INFINITY);
  return createVaultClient({ settings, token, timeoutMs, log });
}
