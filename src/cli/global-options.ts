/** Flags every command takes (SPEC "Commands": global flags). */
import type { GlobalArgs } from '../app/cli-context.js';
import type { OptionsFor, OptionTable } from './options.js';

export const DEFAULT_CONFIG_PATH = '/etc/vault-pki-agent/config.yaml';

const globalOptions: OptionsFor<GlobalArgs> = {
  config: {
    type: 'string',
    default: DEFAULT_CONFIG_PATH,
    describe: 'agent config file (YAML)',
    global: true,
  },
  'log-format': { choices: ['text', 'json'], default: 'text', global: true },
  'log-level': { choices: ['debug', 'info', 'warn', 'error'], default: 'info', global: true },
  'token-file': {
    type: 'string',
    describe: 'file holding the Vault token (overrides vault.tokenFile, VAULT_TOKEN, ~/.vault-token)',
    global: true,
  },
  timeout: {
    type: 'string',
    default: '5m',
    describe: 'how long to keep retrying while Vault is unreachable, sealed or rate limiting',
    global: true,
  },
  'tls-skip-verify': {
    type: 'boolean',
    default: false,
    describe: 'confirm VAULT_SKIP_VERIFY (never silently skipped; warned on every run)',
    global: true,
  },
};

/** Typed against GlobalArgs above; a plain table for the parsers. */
export const GLOBAL_OPTIONS: OptionTable = globalOptions;
