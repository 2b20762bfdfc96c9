/**
 * The VaultClient port: everything the agent asks of Vault, in the agent's own terms.
 * client.ts is the one implementation (over our own transport); tests run it against a real OpenBao.
 */
import type { IssuedCertificate } from '../pki/issued.js';

export interface VaultResult<T> {
  data: T;
  /** Vault's `warnings` (e.g. a TTL clamped to the role's max_ttl). */
  warnings: string[];
}

export interface TokenInfo {
  accessor?: string;
  displayName?: string;
  policies: string[];
  /** Remaining seconds; 0 for a token that never expires (root). */
  ttlSeconds: number;
  renewable: boolean;
  /** Present only for periodic tokens. */
  periodSeconds?: number;
  explicitMaxTtlSeconds: number;
  numUses: number;
  orphan: boolean;
  expireTime?: string;
  creationPath?: string;
}

export interface RenewResult {
  leaseDurationSeconds: number;
  renewable: boolean;
  policies: string[];
}

export interface CertificateRequest {
  commonName: string;
  altNames?: string[];
  ipSans?: string[];
  /** Seconds or a Vault duration string. */
  ttl?: number | string;
  excludeCnFromSans?: boolean;
  /** For `issue` (Vault generates the key): needed on roles with key_type "any". */
  keyType?: 'ec' | 'rsa';
  keyBits?: number;
}

/** A `sign`/`issue` answer, its shape checked by the adapter: the neutral type pki/ assembles a set from. */
export type CertificateAnswer = IssuedCertificate;

/** Context that makes errors name what the operator configured. */
export interface RequestContext {
  /** The certificate name in the agent config. */
  certName?: string;
}

export interface WriteOptions {
  /** Ask Vault to response-wrap the answer (X-Vault-Wrap-TTL). */
  wrapTtl?: string;
}

export interface VaultStats {
  /** Every HTTP request sent, including retries, by request path (no query). */
  requests: Map<string, number>;
  retries: number;
}

export interface VaultClient {
  readonly address: string;
  setToken(token: string): void;
  lookupSelf(): Promise<TokenInfo>;
  renewSelf(incrementSeconds?: number): Promise<RenewResult>;
  /**
   * Unwrap a response-wrapped token after checking with sys/wrapping/lookup that it was created by one of
   * the allowed paths; returns the token inside. Throws WrappingError for a used, expired or foreign token.
   */
  unwrapToken(wrappingToken: string, allowedCreationPaths: (path: string) => boolean): Promise<string>;
  issue(
    mount: string,
    role: string,
    req: CertificateRequest,
    ctx?: RequestContext,
  ): Promise<VaultResult<CertificateAnswer>>;
  sign(
    mount: string,
    role: string,
    csr: string,
    req: CertificateRequest,
    ctx?: RequestContext,
  ): Promise<VaultResult<CertificateAnswer>>;
  /** The mount's CA chain, PEM certificates, issuing CA first and root last. Unauthenticated. */
  readCaChain(mount: string): Promise<string[]>;
  /** A PKI role's settings, or undefined when the role does not exist. */
  readRole(mount: string, role: string): Promise<Record<string, unknown> | undefined>;
  /** Generic calls for operator commands. `read` returns undefined on 404. */
  read(path: string): Promise<VaultResult<Record<string, unknown>> | undefined>;
  write(
    path: string,
    body: Record<string, unknown>,
    opts?: WriteOptions,
  ): Promise<
    VaultResult<Record<string, unknown>> & {
      auth?: Record<string, unknown>;
      wrapInfo?: Record<string, unknown>;
    }
  >;
  list(path: string): Promise<string[]>;
  delete(path: string): Promise<void>;
  /** Local clock minus Vault's clock (from the last `Date` header), in ms; undefined before any answer. */
  clockSkewMs(): number | undefined;
  readonly stats: VaultStats;
}
