/**
 * An engineer's client certificate: the key is generated here, only a CSR goes to Vault, and the
 * `engineer` role (provisioned with identity templating) accepts only the caller's own login name as CN.
 */
import { X509Certificate } from 'node:crypto';
import { UsageError, WriteError } from '../errors.js';
import { isSelfSigned } from '../pki/chain.js';
import { createCsr } from '../pki/csr.js';
import { generateKey } from '../pki/keys.js';
import type { VaultClient } from '../vault/vault-client.js';

export interface EngineerCertificate {
  /** Leaf first, then intermediates (never the root): what a TLS client presents. */
  certificatePem: string;
  keyPem: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  serial: string;
}

/** The login name Vault knows the token's owner by (userpass, LDAP, ... put it in the token's metadata). */
export async function engineerLoginName(vault: VaultClient): Promise<string> {
  const data = (await vault.read('auth/token/lookup-self'))?.data ?? {};
  const meta = (data.meta ?? {}) as Record<string, unknown>;
  for (const key of ['username', 'name', 'user']) {
    const value = meta[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  throw new UsageError(
    'cannot tell your login name from your Vault token (its metadata has no username): give --common-name NAME, ' +
      'the name your auth method knows you by',
  );
}

export async function issueEngineerCertificate(
  vault: VaultClient,
  opts: { mount: string; role: string; commonName?: string; ttl?: string },
): Promise<EngineerCertificate> {
  const commonName = opts.commonName ?? (await engineerLoginName(vault));
  const key = await generateKey({ type: 'ec', bits: 256 });
  const csr = createCsr(key, { commonName });
  const answer = await vault.sign(
    opts.mount,
    opts.role,
    csr,
    { commonName, ttl: opts.ttl },
    { certName: 'kube-credential' },
  );
  const leaf = new X509Certificate(answer.data.certificate);
  if (!leaf.checkPrivateKey(key.privateKey)) {
    throw new WriteError('verification-failed', 'Vault returned a certificate for another key');
  }
  const intermediates = answer.data.caChain
    .map((pem) => new X509Certificate(pem))
    .filter((c) => !isSelfSigned(c) && c.fingerprint256 !== leaf.fingerprint256);
  return {
    certificatePem: [leaf, ...intermediates].map((c) => c.toString().trim()).join('\n') + '\n',
    keyPem: key.privateKeyPem,
    commonName,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
    serial: leaf.serialNumber,
  };
}
