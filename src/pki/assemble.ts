/**
 * Turns a Vault `sign`/`issue` answer into the four files of a set, then checks it before anyone
 * sees it. Decisions (see also docs in the report / README section on files):
 *
 * - cert.pem: the leaf only.
 * - key.pem: PKCS#8 `PRIVATE KEY`, whether we generated it (sign) or Vault did (issue: Vault's
 *   PKCS#1/SEC1 answer is converted), so the file format does not depend on the mode.
 * - ca.pem: the mount's CA chain as Vault reports it, ordered issuer first up to the root:
 *   `ca_chain` (issuer + parents since Vault 1.11), else `issuing_ca`. For a mount with its own
 *   root (the default) that is exactly one certificate. For an intermediate mount it holds the
 *   intermediate and its parents, so a verifier that trusts ca.pem accepts a peer presenting only
 *   cert.pem (Go and OpenSSL both treat every certificate in the trust file as an anchor); the trust
 *   scope is the same as the root alone.
 * - fullchain.pem: the leaf plus every non-self-signed CA of that chain (the intermediates). A
 *   self-signed root is never included: a peer must already trust it, and TLS lets senders omit it
 *   (RFC 8446 4.4.2). For a root mount, fullchain.pem therefore equals cert.pem.
 */
import type { X509Certificate } from 'node:crypto';
import { AgentError, VaultUnavailableError } from '../errors.js';
import { isIssuedBy, isSelfSigned, uniqueCertificates } from './chain.js';
import {
  assertMayExpose,
  checkCertificateSet,
  type ExpectedCertificate,
  type SetCheck,
  type SetFiles,
} from './check-set.js';
import type { CertificateInfo } from './inspect.js';
import type { IssuedCertificate } from './issued.js';
import { joinPem, parseCertificates, parsePrivateKey, privateKeyToPem } from './pem.js';

export interface AssembledSet {
  pems: Required<SetFiles>;
  /** PEM of the CA that signed the leaf (what `GET <mount>/ca/pem` serves). */
  mountCa: string;
}

function badResponse(name: string, reason: string, cause?: unknown): VaultUnavailableError {
  return new VaultUnavailableError('vault-bad-response', `certificate "${name}": Vault answer ${reason}`, {
    cause,
    retryable: true,
    details: { certificate: name },
  });
}

function parseField(name: string, field: string, value: string): X509Certificate[] {
  try {
    return parseCertificates(value, `${field}`);
  } catch (error) {
    throw AgentError.is(error) ? badResponse(name, `field ${error.message}`, error) : error;
  }
}

function caCandidates(name: string, answer: IssuedCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  for (const [i, pem] of answer.caChain.entries()) chain.push(...parseField(name, `ca_chain[${i}]`, pem));
  const issuing = answer.issuingCa === '' ? [] : parseField(name, 'issuing_ca', answer.issuingCa);
  if (chain.length === 0 && issuing.length === 0)
    throw badResponse(name, 'has neither ca_chain nor issuing_ca');
  return uniqueCertificates([...issuing, ...chain]);
}

/**
 * The four files of a set from Vault's answer (its shape already checked by the VaultClient adapter; here
 * its contents). `privateKeyPem` is the key we generated (sign); leave it out for issue, where the key comes
 * from the answer. Throws VaultUnavailableError ('vault-bad-response') for PEM that does not parse or
 * certificates that do not make a set. Does not verify: see `prepareCertificateSet`.
 */
export function assembleCertificateSet(
  name: string,
  answer: IssuedCertificate,
  privateKeyPem?: string,
): AssembledSet {
  const leafCerts = parseField(name, 'certificate', answer.certificate);
  const leaf = leafCerts[0]!;
  const cas = uniqueCertificates([...leafCerts.slice(1), ...caCandidates(name, answer)]).filter(
    (c) => c.fingerprint256 !== leaf.fingerprint256,
  );
  // A leaf sent back as its own issuing_ca/ca_chain leaves nothing to chain to (and no mount CA).
  if (cas.length === 0) throw badResponse(name, 'has no CA certificate other than the certificate itself');

  let key: string;
  if (privateKeyPem !== undefined) {
    if (answer.privateKey !== undefined && answer.privateKey !== '')
      throw badResponse(name, 'carries a private key although the CSR was ours');
    key = privateKeyPem;
  } else {
    if (answer.privateKey === undefined || answer.privateKey === '')
      throw badResponse(name, 'has no private_key (issue mode)');
    try {
      key = privateKeyToPem(parsePrivateKey(answer.privateKey, 'private_key'));
    } catch (error) {
      throw AgentError.is(error) ? badResponse(name, `field ${error.message}`, error) : error;
    }
  }

  // Order the CAs from the leaf's issuer up to the root; CAs off that path stay in ca.pem after
  // it (Vault sent them as part of the mount's chain) but never go into fullchain.pem.
  const ordered: X509Certificate[] = [];
  let current = leaf;
  for (let i = 0; i < cas.length; i++) {
    const parent = cas.find((c) => !ordered.includes(c) && isIssuedBy(current, c));
    if (!parent) break;
    ordered.push(parent);
    if (isSelfSigned(parent)) break;
    current = parent;
  }
  const caList = [...ordered, ...cas.filter((c) => !ordered.includes(c))];
  const intermediates = ordered.filter((c) => !isSelfSigned(c));
  // When nothing in the answer signed the leaf, verification reports it against issuing_ca.
  const issuer = ordered[0] ?? caList[0]!;
  return {
    pems: {
      cert: joinPem([leaf]),
      key,
      ca: joinPem(caList),
      fullchain: joinPem([leaf, ...intermediates]),
    },
    mountCa: joinPem([issuer]),
  };
}

export interface PreparedSet extends AssembledSet {
  leaf: CertificateInfo;
  verification: SetCheck;
}

/**
 * Assemble and verify in one step: what the issuing code calls before handing the files to the
 * writer. Throws WriteError('verification-failed') naming the certificate and every problem.
 */
export function prepareCertificateSet(input: {
  name: string;
  data: IssuedCertificate;
  privateKeyPem?: string;
  /** The SPKI DER of `privateKeyPem`'s key, when the caller generated it (see SetCheckInput). */
  keyPublicDer?: Buffer;
  expected: ExpectedCertificate;
  now: Date;
  clockSkewToleranceSeconds?: number;
}): PreparedSet {
  const assembled = assembleCertificateSet(input.name, input.data, input.privateKeyPem);
  const verification = checkCertificateSet({
    name: input.name,
    files: assembled.pems,
    expected: input.expected,
    mountCaPem: assembled.mountCa,
    keyPublicDer: input.privateKeyPem === undefined ? undefined : input.keyPublicDer,
    now: input.now,
    clockSkewToleranceSeconds: input.clockSkewToleranceSeconds,
  });
  assertMayExpose(input.name, verification);
  return { ...assembled, leaf: verification.leaf!, verification };
}
