/**
 * The Vault addresses a client may use (config `vault.address` as a list; VAULT_ADDR stays one) and the one
 * that serves now. A failure that another node may not share (no connection, sealed, a standby that cannot
 * serve, a 5xx) moves every caller to the next address at once; only when each address has failed since the
 * last success does the caller back off (a round). The token is only ever sent to an address in the list:
 * a redirect elsewhere is not followed.
 */
export class EndpointPool {
  private index = 0;
  private readonly failedInRound = new Set<string>();

  constructor(readonly addresses: readonly string[]) {
    if (addresses.length === 0) throw new Error('EndpointPool needs at least one address');
  }

  get current(): string {
    return this.addresses[this.index]!;
  }

  /**
   * A request to `address` failed there. Returns true when another address of this round is left to try at
   * once; false when every address has failed since the last success (a new round starts: back off first).
   */
  failover(address: string): boolean {
    this.failedInRound.add(address);
    const n = this.addresses.length;
    for (let step = 1; step <= n; step++) {
      const candidate = (this.index + step) % n;
      if (!this.failedInRound.has(this.addresses[candidate]!)) {
        if (this.current === address) this.index = candidate;
        return true;
      }
    }
    // Every address failed in this round: start the next one on the address after the one that just failed.
    this.failedInRound.clear();
    if (this.current === address) this.index = (this.index + 1) % n;
    return false;
  }

  /** Whether `address` failed since the last success (in this round). */
  failedRecently(address: string): boolean {
    return this.failedInRound.has(address);
  }

  /** Serve from `address` (a configured one) from now on: a standby's redirect named it. */
  prefer(address: string): void {
    const i = this.addresses.indexOf(address);
    if (i >= 0) this.index = i;
  }

  succeeded(address: string): void {
    this.failedInRound.delete(address);
    if (this.failedInRound.size > 0 && this.current === address) this.failedInRound.clear();
  }

  /** The configured address whose origin `url` has (a redirect target we may follow), or undefined. */
  configuredOrigin(url: string): string | undefined {
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      return undefined;
    }
    return this.addresses.find((a) => new URL(a).origin === origin);
  }
}

/**
 * Failures another node of the cluster may not share: no connection, TLS, sealed, a 5xx or a redirect we will
 * not follow, an answer that is not Vault's. Not: refusals (4xx: the cluster's answer), rate limits (the
 * Retry-After is honoured where it was given), a request cut at the deadline (no time is left).
 */
export function failsOver(error: { code: string; details: Record<string, unknown> }): boolean {
  if (error.details.errno === 'EDEADLINE') return false;
  return ['vault-unavailable', 'vault-sealed', 'vault-tls', 'vault-bad-response'].includes(error.code);
}
