/**
 * Typed errors with a stable code and the exit code SPEC "Exit codes" documents.
 * Adapters translate foreign errors (HTTP status, errno, exit status) into these at the boundary;
 * `exitCodeOf` in this file is the one mapping from an error to a process exit code.
 */

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  config: 3,
  vaultRefused: 4,
  vaultUnavailable: 5,
  writeOrAction: 6,
  renewalDue: 10,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type ErrorCode =
  | 'internal'
  | 'usage'
  | 'config'
  | 'token-invalid'
  | 'token-missing'
  | 'permission-denied'
  | 'role-rejected'
  | 'vault-bad-request'
  | 'vault-bad-response'
  | 'wrapping-token-invalid'
  | 'wrapping-path-mismatch'
  | 'vault-sealed'
  | 'vault-unavailable'
  | 'vault-rate-limited'
  | 'vault-tls'
  | 'write-failed'
  | 'unsafe-target'
  | 'verification-failed'
  | 'action-failed'
  | 'health-check-failed';

export interface AgentErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** Structured fields for logs (never secrets). */
  details?: Record<string, string | number | boolean | undefined>;
}

const BRAND = Symbol.for('vault-pki-agent.AgentError');

export class AgentError extends Error {
  readonly [BRAND] = true;
  readonly retryable: boolean;
  readonly details: Record<string, string | number | boolean | undefined>;

  constructor(
    readonly code: ErrorCode,
    readonly exitCode: ExitCode,
    message: string,
    options: AgentErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AgentError';
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }

  static is(value: unknown): value is AgentError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

export class UsageError extends AgentError {
  constructor(message: string, options?: AgentErrorOptions) {
    super('usage', ExitCode.usage, message, options);
    this.name = 'UsageError';
  }
}

export class ConfigError extends AgentError {
  constructor(message: string, options?: AgentErrorOptions) {
    super('config', ExitCode.config, message, options);
    this.name = 'ConfigError';
  }
}

/** Vault answered and said no: exit 4. Never retried. */
export class VaultRefusedError extends AgentError {
  constructor(
    code: 'token-invalid' | 'token-missing' | 'permission-denied' | 'role-rejected' | 'vault-bad-request',
    message: string,
    options?: AgentErrorOptions,
  ) {
    super(code, ExitCode.vaultRefused, message, options);
    this.name = 'VaultRefusedError';
  }
}

/** A response-wrapping token that cannot be used: a security signal, exit 4. */
export class WrappingError extends AgentError {
  constructor(
    code: 'wrapping-token-invalid' | 'wrapping-path-mismatch',
    message: string,
    options?: AgentErrorOptions,
  ) {
    super(code, ExitCode.vaultRefused, message, options);
    this.name = 'WrappingError';
  }
}

/** Vault could not be used right now (down, sealed, rate limited, TLS): exit 5 once the deadline passed. */
export type UnavailableCode =
  | 'vault-sealed'
  | 'vault-unavailable'
  | 'vault-rate-limited'
  | 'vault-tls'
  | 'vault-bad-response';

export class VaultUnavailableError extends AgentError {
  declare readonly code: UnavailableCode;
  constructor(code: UnavailableCode, message: string, options?: AgentErrorOptions) {
    super(code, ExitCode.vaultUnavailable, message, options);
    this.name = 'VaultUnavailableError';
  }
}

/** Files could not be written, a set did not verify, or an action/health check failed: exit 6. */
export class WriteError extends AgentError {
  constructor(
    code: 'write-failed' | 'unsafe-target' | 'verification-failed' | 'action-failed' | 'health-check-failed',
    message: string,
    options?: AgentErrorOptions,
  ) {
    super(code, ExitCode.writeOrAction, message, options);
    this.name = 'WriteError';
  }
}

/** The single place that turns any thrown value into a process exit code. */
export function exitCodeOf(error: unknown): ExitCode {
  return AgentError.is(error) ? error.exitCode : ExitCode.internal;
}
