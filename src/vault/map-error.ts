/**
 * Vault's answers and transport failures -> the agent's typed errors. One table, used by the adapter.
 * Messages name the path, the role and the certificate; they never contain the token (the transport
 * error and Vault's `errors` carry no request headers).
 */
import { type AgentError, VaultRefusedError, VaultUnavailableError } from '../errors.js';
import type { RequestContext } from './vault-client.js';

export interface HttpFailure {
  status: number;
  errors: string[];
  path: string;
  retryAfterMs?: number;
  /** A redirect's Location header (a standby pointing at the active node). */
  location?: string;
  /** Why a redirect to a listed address was not followed. */
  redirectNote?: string;
}

const TLS_ERRNOS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The mount and role of a `<mount>/(issue|sign)/<role>` path, if it is one. */
function certificatePath(path: string): { mount: string; role: string; op: string } | undefined {
  const m = /^\/?(?:v1\/)?(.+)\/(issue|sign)\/([^/]+)$/.exec(path);
  return m ? { mount: m[1] as string, op: m[2] as string, role: m[3] as string } : undefined;
}

export function mapTransportError(errno: string, message: string, address: string, path: string): AgentError {
  if (errno === 'ETOOLARGE') {
    // Not retried: a server that sends megabytes instead of a Vault answer does not heal in seconds.
    return new VaultUnavailableError(
      'vault-bad-response',
      `Vault at ${address} sent an answer to ${path} that is too large to be Vault's: ${message}; refused ` +
        '(is vault.address / VAULT_ADDR really Vault, or is a proxy in the way?)',
      { details: { errno, path } },
    );
  }
  if (errno === 'EDEADLINE') {
    return new VaultUnavailableError(
      'vault-unavailable',
      `Vault at ${address} gave no complete answer to ${path} before the deadline (--timeout): request cut`,
      { retryable: true, details: { errno, path } },
    );
  }
  if (TLS_ERRNOS.has(errno) || /certificate|ssl|tls/i.test(message)) {
    return new VaultUnavailableError(
      'vault-tls',
      `Vault at ${address} presented a TLS certificate that is not trusted (${errno}: ${message}); ` +
        'give its CA with vault.caCert or VAULT_CACERT',
      { details: { errno, path } },
    );
  }
  const what =
    errno === 'ENOTFOUND' || errno === 'EAI_AGAIN'
      ? 'its name does not resolve'
      : errno === 'ECONNREFUSED'
        ? 'connection refused'
        : errno === 'ETIMEDOUT'
          ? 'no answer in time'
          : message;
  return new VaultUnavailableError(
    'vault-unavailable',
    `Vault at ${address} unreachable: ${what} (${errno})`,
    {
      retryable: true,
      details: { errno, path },
    },
  );
}

/** Everything except 403, which needs a lookup-self to tell a dead token from a missing policy. */
export function mapHttpFailure(f: HttpFailure, address: string, ctx: RequestContext = {}): AgentError {
  const vaultSays = f.errors.join('; ').replace(/\s+/g, ' ').trim() || `HTTP ${f.status}`;
  const details = { status: f.status, path: f.path, certificate: ctx.certName };
  if (f.status === 307 || f.status === 308) {
    // Retryable: another configured address (or this one, once it is active) may serve.
    return new VaultUnavailableError(
      'vault-unavailable',
      f.redirectNote
        ? `Vault at ${address} redirected ${f.path} to ${f.redirectNote}: not followed`
        : `Vault at ${address} redirected ${f.path} to ${f.location ?? '(no Location)'}, which is not in ` +
            'vault.address: not followed (the token would be sent there); list every Vault node in vault.address',
      { retryable: true, details },
    );
  }
  if (f.status === 429) {
    return new VaultUnavailableError('vault-rate-limited', `Vault rate limit on ${f.path}: ${vaultSays}`, {
      retryable: true,
      details: { ...details, retryAfterMs: f.retryAfterMs },
    });
  }
  if (f.status === 503 && /sealed/i.test(vaultSays)) {
    return new VaultUnavailableError('vault-sealed', `Vault at ${address} is sealed`, {
      retryable: true,
      details,
    });
  }
  if (f.status >= 500 || f.status === 412) {
    return new VaultUnavailableError('vault-unavailable', `Vault error on ${f.path}: ${vaultSays}`, {
      retryable: true,
      details,
    });
  }
  const cert = certificatePath(f.path);
  if (cert && f.status === 400) {
    const who = ctx.certName ? `certificate "${ctx.certName}"` : 'the request';
    return new VaultRefusedError(
      'role-rejected',
      `Vault role ${cert.mount}/roles/${cert.role} rejected ${who}: ${vaultSays}`,
      { details: { ...details, mount: cert.mount, role: cert.role } },
    );
  }
  if (f.status === 404) {
    return new VaultRefusedError(
      'vault-bad-request',
      `Vault has nothing at ${f.path} (${vaultSays}): is the mount or role provisioned?`,
      { details },
    );
  }
  return new VaultRefusedError('vault-bad-request', `Vault refused ${f.path}: ${vaultSays}`, { details });
}

export function tokenInvalidError(path: string): AgentError {
  return new VaultRefusedError(
    'token-invalid',
    `Vault token expired or revoked (invalid token, at ${path}): create a new one with ` +
      '`vault-pki-agent token create` and update the token file or the VaultToken stack parameter',
    { details: { path } },
  );
}

export function permissionDeniedError(path: string, policies: string[]): AgentError {
  return new VaultRefusedError(
    'permission-denied',
    `permission denied on ${path}: the token's policies (${policies.join(', ') || 'none'}) do not allow it`,
    { details: { path } },
  );
}
