/**
 * What one metrics textfile says: the state after a pass. The caller builds it from its state file
 * (counters are persisted there, so they stay monotonic across `bootstrap` runs of the timer unit)
 * and hands it to `renderMetrics`.
 */

export interface CertificateMetrics {
  /** The key under `certificates:` (label `certificate`). */
  name: string;
  /** PKI mount path (label `mount`). */
  mount: string;
  /** PKI role (label `role`). */
  role: string;
  /** notAfter of the certificate on disk; undefined when none can be read (the sample is then omitted). */
  notAfter?: Date;
  /** When the certificate is next due (fleet-jittered); undefined when not known. */
  renewalTime?: Date;
  /** Last time this certificate was issued and written, or found in place and up to date. */
  lastSuccess?: Date;
  /** Failed issue attempts since the state file was created (monotonic). */
  issueFailuresTotal: number;
  /** Health-check rollbacks since the state file was created (monotonic). */
  rollbacksTotal: number;
  /** The set on disk matches the spec and is not due. */
  upToDate: boolean;
}

export interface MetricsSnapshot {
  /** In config order; names must be unique. */
  certificates: readonly CertificateMetrics[];
  /** Remaining TTL of the agent's token (Vault reports 0 for a token that never expires); undefined when not looked up. */
  tokenTtlSeconds?: number;
  /** When the last pass ended. */
  lastPass?: Date;
  lastPassSuccess?: boolean;
  /** Requests sent to Vault (persisted by the caller, or per process). */
  vaultRequestsTotal?: number;
  /** Local clock minus Vault's `Date` header, in seconds (positive: this host is ahead). */
  clockSkewSeconds?: number;
}
