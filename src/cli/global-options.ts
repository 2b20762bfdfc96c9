/** Flags every command takes (SPEC "Commands": global flags). */
import type { Argv } from 'yargs';
import type { LogFormat, LogLevel } from '../log.js';

export interface GlobalArgs {
  config: string;
  logFormat: LogFormat;
  logLevel: LogLevel;
  tokenFile?: string;
  timeout: string;
  tlsSkipVerify: boolean;
}

export const DEFAULT_CONFIG_PATH = '/etc/vault-pki-agent/config.yaml';

export function withGlobalOptions<T>(y: Argv<T>) {
  return y
    .option('config', {
      type: 'string',
      default: DEFAULT_CONFIG_PATH,
      describe: 'agent config file (YAML)',
      global: true,
    })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, global: true })
    .option('log-level', {
      choices: ['debug', 'info', 'warn', 'error'] as const,
      default: 'info' as const,
      global: true,
    })
    .option('token-file', {
      type: 'string',
      describe: 'file holding the Vault token (overrides vault.tokenFile, VAULT_TOKEN, ~/.vault-token)',
      global: true,
    })
    .option('timeout', {
      type: 'string',
      default: '5m',
      describe: 'how long to keep retrying while Vault is unreachable, sealed or rate limiting',
      global: true,
    })
    .option('tls-skip-verify', {
      type: 'boolean',
      default: false,
      describe: 'confirm VAULT_SKIP_VERIFY (never silently skipped; warned on every run)',
      global: true,
    });
}
