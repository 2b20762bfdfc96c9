/**
 * An engineer's client certificate: the key is generated here, only a CSR goes to Vault, and the
 * `engineer` role (provisioned with identity templating) accepts only the caller's own login name as CN.
 */
import { UsageError } from '../errors.js';
import { prepareCertificateSet } from '../pki/assemble.js';
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

interface TokenIdentity {
  /** The login name from the token's metadata (userpass, LDAP, ...), when the auth method records one. */
  loginName?: string;
  displayName: string;
}

async function tokenIdentity(vault: VaultClient): Promise<TokenIdentity> {
  const data = (await vault.read('auth/token/lookup-self'))?.data ?? {};
  const meta = (data.meta ?? {}) as Record<string, unknown>;
  const displayName = typeof data.display_name === 'string' ? data.display_name : '';
  for (const key of ['username', 'name', 'user']) {
    const value = meta[key];
    if (typeof value === 'string' && value.trim() !== '') return { loginName: value.trim(), displayName };
  }
  return { displayName };
}

/**
 * The CN to ask for: exactly the login name. The `engineer` role binds the CN to the login name, but Vault
 * compares names without case (alice obtains CN=Alice) while Kubernetes user names are case-sensitive, so
 * a `--common-name` that is not the login name character for character is refused here. (A direct Vault
 * call can still obtain a case variant: docs/OPERATORS.md says so.)
 */
export async function engineerCommonName(vault: VaultClient, given: string | undefined): Promise<string> {
  const { loginName, displayName } = await tokenIdentity(vault);
  if (given === undefined) {
    if (loginName !== undefined) return loginName;
    throw new UsageError(
      'cannot tell your login name from your Vault token (its metadata has no username): give --common-name NAME, ' +
        'the name your auth method knows you by',
    );
  }
  const caseOnly = 'Kubernetes user names are case-sensitive; Vault compares them without case';
  if (loginName !== undefined && given !== loginName) {
    throw new UsageError(
      `--common-name "${given}" is not your login name "${loginName}" (${caseOnly}): leave --common-name out`,
    );
  }
  // Without a username in the metadata, the display name (`<auth method>-<name>`) still tells a case variant.
  const tail = displayName.slice(-(given.length + 1));
  if (loginName === undefined && tail.toLowerCase() === `-${given}`.toLowerCase() && tail !== `-${given}`) {
    throw new UsageError(`--common-name "${given}" is not your login name "${tail.slice(1)}" (${caseOnly})`);
  }
  return given;
}

export async function issueEngineerCertificate(
  vault: VaultClient,
  opts: { mount: string; role: string; commonName?: string; ttl?: string },
): Promise<EngineerCertificate> {
  const commonName = await engineerCommonName(vault, opts.commonName);
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
    data: answer.data,
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
