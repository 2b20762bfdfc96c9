/**
 * An engineer's client certificate: the key is generated here, only a CSR goes to Vault, and the
 * `engineer` role (provisioned with identity templating) accepts only the caller's own login name as CN.
 */
import { UsageError } from '../errors.js';
import { prepareCertificateSet, vaultDataOf } from '../pki/assemble.js';
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
  // The same assembly and checks as a node's sets: our key, the CN asked for, client auth, a chain to the
  // mount's CA, valid now. fullchain.pem is what a TLS client presents (leaf + intermediates, no root).
  const prepared = prepareCertificateSet({
    name: 'kube-credential',
    data: vaultDataOf(answer.data),
    privateKeyPem: key.privateKeyPem,
    expected: { commonName, dnsSans: [], ipSans: [], usages: ['client'] },
    now: new Date(),
  });
  return {
    certificatePem: prepared.pems.fullchain,
    keyPem: key.privateKeyPem,
    commonName,
    notBefore: prepared.leaf.notBefore,
    notAfter: prepared.leaf.notAfter,
    serial: prepared.leaf.serial,
  };
}
