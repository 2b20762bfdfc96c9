/**
 * The kubectl exec credential (`client.authentication.k8s.io/v1` ExecCredential) and the rule for
 * reusing a cached one. Pure.
 */

export interface CachedCredential {
  version: 1;
  /** What the credential was issued for: a change in any of these means a new certificate. */
  address: string;
  mount: string;
  role: string;
  /** SHA-256 of the Vault token it was issued with (a new login means a new identity). */
  tokenHash: string;
  /** PEM: leaf first, then intermediates. */
  certificatePem: string;
  keyPem: string;
}

export interface ExecCredential {
  apiVersion: 'client.authentication.k8s.io/v1';
  kind: 'ExecCredential';
  status: { clientCertificateData: string; clientKeyData: string; expirationTimestamp: string };
}

export function buildExecCredential(certificatePem: string, keyPem: string, notAfter: Date): ExecCredential {
  return {
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: {
      clientCertificateData: certificatePem,
      clientKeyData: keyPem,
      // Whole seconds: kubectl parses RFC 3339 and calls the plugin again after this instant.
      expirationTimestamp: new Date(Math.floor(notAfter.getTime() / 1000) * 1000)
        .toISOString()
        .replace('.000Z', 'Z'),
    },
  };
}

/** Reused until a third of the certificate's lifetime is left (issue 5). */
export function isCredentialFresh(validity: { notBefore: Date; notAfter: Date }, now: Date): boolean {
  const lifetime = validity.notAfter.getTime() - validity.notBefore.getTime();
  const left = validity.notAfter.getTime() - now.getTime();
  return lifetime > 0 && left > lifetime / 3;
}

export function matchesCache(
  cached: unknown,
  want: Pick<CachedCredential, 'address' | 'mount' | 'role' | 'tokenHash'>,
): cached is CachedCredential {
  if (typeof cached !== 'object' || cached === null) return false;
  const c = cached as Partial<CachedCredential>;
  return (
    c.version === 1 &&
    c.address === want.address &&
    c.mount === want.mount &&
    c.role === want.role &&
    c.tokenHash === want.tokenHash &&
    typeof c.certificatePem === 'string' &&
    typeof c.keyPem === 'string'
  );
}
