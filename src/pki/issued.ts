/**
 * A certificate as a CA answered it: what the VaultClient port returns from `sign`/`issue` (the adapter
 * checks the answer's shape and names once, here), and what assemble.ts turns into the files of a set
 * (checking the contents: PEM, chain, key). Defined in pki/ so that pki never imports vault/.
 */
export interface IssuedCertificate {
  /** PEM: the leaf (some CAs append their chain). */
  certificate: string;
  /** PEM of the issuing CA; '' when the CA left it out. */
  issuingCa: string;
  /** PEM certificates, issuer first; may be empty when Vault omits `ca_chain`. */
  caChain: string[];
  /** Only from `issue` (Vault generated the key). */
  privateKey?: string;
  privateKeyType?: string;
  serialNumber: string;
  /** Unix seconds. */
  expiration: number;
}
