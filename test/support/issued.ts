import type { IssuedCertificate } from '../../src/pki/issued.js';

/** A sign/issue answer as the VaultClient port returns it, with only the fields a test cares about given. */
export function issued(fields: Partial<IssuedCertificate>): IssuedCertificate {
  return { certificate: '', issuingCa: '', caChain: [], serialNumber: '', expiration: 0, ...fields };
}
