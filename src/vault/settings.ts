/**
 * Where and how to reach Vault: config `vault:` block, Vault's own environment variables, and flags.
 * Precedence follows Vault Agent: flags > environment (VAULT_*) > config file > defaults.
 * Pure: the caller passes the environment in.
 */
import type { VaultSettings } from '../config/types.js';
import { vaultAddressProblem } from '../config/validate.js';
import { ConfigError, UsageError } from '../errors.js';
import { parseDurationSeconds } from '../util/duration.js';

export interface ResolvedVaultSettings {
  /** The first of `addresses`: where a client starts, and what messages name when there is one. */
  address: string;
  /** Every address the client may use, in order (config `vault.address` as a list; VAULT_ADDR is one). */
  addresses?: string[];
  caCertFile?: string;
  caPath?: string;
  namespace?: string;
  /** Per-request timeout in ms. */
  requestTimeoutMs: number;
  /** TLS verification off: only when VAULT_SKIP_VERIFY and --tls-skip-verify agree. */
  skipVerify: boolean;
}

export interface VaultFlags {
  address?: string;
  tlsSkipVerify?: boolean;
}

const DEFAULT_VAULT_ADDRESS = 'https://127.0.0.1:8200';
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|t|true|yes|on)$/i.test(value.trim());
}

export function resolveVaultSettings(
  config: Partial<VaultSettings>,
  env: Record<string, string | undefined>,
  flags: VaultFlags = {},
): ResolvedVaultSettings {
  const single = flags.address ?? nonEmpty(env.VAULT_ADDR);
  const configured = config.address === undefined ? [] : [config.address].flat();
  const addresses = [
    ...new Set(
      (single !== undefined ? [single] : configured.length > 0 ? configured : [DEFAULT_VAULT_ADDRESS]).map(
        (a) => a.replace(/\/+$/, ''),
      ),
    ),
  ];
  // The same rule as the config schema's, for --vault-addr and VAULT_ADDR too.
  for (const address of addresses) {
    const problem = vaultAddressProblem(address);
    if (problem === 'not-a-url')
      throw new ConfigError(`vault address "${address}" is not a URL (vault.address / VAULT_ADDR)`);
    if (problem === 'scheme')
      throw new ConfigError(`vault address "${address}" must use http or https (vault.address / VAULT_ADDR)`);
    if (problem === 'credentials') {
      // Not quoted: the address carries a password.
      throw new ConfigError('vault address must not contain user:password (vault.address / VAULT_ADDR)');
    }
  }
  const address = addresses[0]!;

  let requestTimeoutMs = config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const envTimeout = nonEmpty(env.VAULT_CLIENT_TIMEOUT);
  if (envTimeout !== undefined) {
    const seconds = parseDurationSeconds(envTimeout);
    if (seconds === undefined || seconds <= 0) {
      throw new ConfigError(`VAULT_CLIENT_TIMEOUT "${envTimeout}" is not a duration (e.g. 30s or 30)`);
    }
    requestTimeoutMs = seconds * 1000;
  }

  const envSkip = truthy(env.VAULT_SKIP_VERIFY);
  if (envSkip && !flags.tlsSkipVerify) {
    throw new UsageError(
      'VAULT_SKIP_VERIFY is set but TLS verification is only turned off when --tls-skip-verify confirms it; ' +
        'prefer VAULT_CACERT or vault.caCert',
    );
  }

  return {
    address,
    addresses,
    caCertFile: nonEmpty(env.VAULT_CACERT) ?? config.caCert,
    caPath: nonEmpty(env.VAULT_CAPATH) ?? config.caPath,
    namespace: nonEmpty(env.VAULT_NAMESPACE) ?? config.namespace,
    requestTimeoutMs,
    skipVerify: flags.tlsSkipVerify === true,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * What to say about an `http://` Vault address (issue 13): the token (and, with `mode: issue`, the private
 * keys Vault generates) would cross the network in clear text. On the loopback interface (a Vault Agent or
 * proxy on the same host) nothing leaves the host: a milder note. Said on every run; undefined for https.
 */
export function cleartextAddressNotice(
  address: string,
): { level: 'warn' | 'info'; message: string; fields: Record<string, string> } | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:') return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return loopback
    ? {
        level: 'info',
        message:
          'Vault address is http:// on the loopback interface: the token is sent unencrypted on this host',
        fields: { address },
      }
    : {
        level: 'warn',
        message:
          'Vault address is http://, not https://: the token and the certificates (and private keys Vault ' +
          'generates) cross the network in clear text; use https://',
        fields: { address },
      };
}
