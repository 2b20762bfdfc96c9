/**
 * The gate before a certificate set is exposed (SPEC "Files"): the key matches the certificate,
 * the chain verifies to the mount's CA, the CN and every requested SAN are present, the required
 * EKUs are there, and the validity window has started (the clock skew is reported) and not ended.
 * Pure: PEM text and a clock reading in, a list of problems out.
 */
import type { X509Certificate } from 'node:crypto';
import type { Usage } from '../config/types.js';
import { AgentError, WriteError } from '../errors.js';
import { buildChain, certificateLabel } from './chain.js';
import { allowsUsage, type CertificateInfo, describeCertificate, USAGE_EKU } from './inspect.js';
import { publicKeyDer } from './keys.js';
import { findMissingSans } from './names.js';
import { parseCertificates, parsePrivateKey } from './pem.js';

/** The PEM texts of one set, as written to (or read from) its directory. */
export interface CertificateSetPems {
  /** cert.pem: the leaf (a bundle is accepted; its first certificate is the leaf). */
  cert: string;
  /** key.pem */
  key: string;
  /** ca.pem: the mount's CA, or its chain up to the root. */
  ca: string;
  /** fullchain.pem: the leaf followed by intermediates (optional). */
  fullchain?: string;
}

export interface ExpectedCertificate {
  commonName: string;
  dnsSans: readonly string[];
  ipSans: readonly string[];
  usages: readonly Usage[];
}

export type VerificationCode =
  | 'malformed'
  | 'key-mismatch'
  | 'chain-invalid'
  | 'ca-mismatch'
  | 'cn-mismatch'
  | 'san-missing'
  | 'eku-missing'
  | 'not-yet-valid'
  | 'expired';

export interface VerificationProblem {
  code: VerificationCode;
  message: string;
}

export interface VerificationInput {
  /** Certificate name from the config, used in messages. */
  name: string;
  pems: CertificateSetPems;
  expected: ExpectedCertificate;
  /**
   * The CA the mount issues with now (its `issuing_ca`, or `GET <mount>/ca/pem`). The leaf must
   * chain to it and ca.pem must contain it. Defaults to the certificates in ca.pem.
   */
  mountCaPem?: string;
  /**
   * The SubjectPublicKeyInfo DER of the key in `pems.key`, when the caller built that PEM from a key it
   * generated and holds: the certificate is compared with it and key.pem is not decoded again (OpenSSL 3's
   * PKCS#8 decoder costs ~0.35 ms a key). The PEM encoding itself is the generator's, tested on its own.
   */
  keyPublicDer?: Buffer;
  now: Date;
  /** notBefore may be this far in the future without failing (default 0). */
  clockSkewToleranceSeconds?: number;
}

export interface VerificationResult {
  problems: VerificationProblem[];
  /** The leaf, when it could be parsed. */
  leaf?: CertificateInfo;
  /** Seconds by which notBefore lies in the future of `now` (positive = our clock is behind the issuer's). */
  clockSkewSeconds?: number;
}

const label = (cert: X509Certificate): string => `"${certificateLabel(cert)}"`;

function parseOrProblem<T>(problems: VerificationProblem[], parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (!AgentError.is(error)) throw error;
    problems.push({ code: 'malformed', message: error.message });
    return undefined;
  }
}

/** Every problem with a set; an empty list means it may be exposed. */
export function verifyCertificateSet(input: VerificationInput): VerificationResult {
  const { name, pems, expected, now } = input;
  const problems: VerificationProblem[] = [];
  const certs = parseOrProblem(problems, () => parseCertificates(pems.cert, `${name} cert.pem`));
  const keyDer =
    input.keyPublicDer ??
    parseOrProblem(problems, () => publicKeyDer(parsePrivateKey(pems.key, `${name} key.pem`)));
  const caCerts = parseOrProblem(problems, () => parseCertificates(pems.ca, `${name} ca.pem`));
  const chainCerts =
    pems.fullchain === undefined
      ? []
      : parseOrProblem(problems, () => parseCertificates(pems.fullchain ?? '', `${name} fullchain.pem`));
  const mountCa =
    input.mountCaPem === undefined
      ? caCerts
      : parseOrProblem(problems, () => parseCertificates(input.mountCaPem ?? '', `${name} mount CA`));
  const leafCert = certs?.[0];
  if (!leafCert) return { problems };

  const leaf = parseOrProblem(problems, () => describeCertificate(leafCert, `${name} cert.pem`));
  if (!leaf) return { problems };
  const add = (code: VerificationCode, message: string) => problems.push({ code, message });

  if (keyDer && !keyDer.equals(publicKeyDer(leafCert.publicKey)))
    add('key-mismatch', 'key.pem does not belong to cert.pem (public keys differ)');

  if (chainCerts && chainCerts.length > 0 && chainCerts[0]?.fingerprint256 !== leafCert.fingerprint256)
    add('chain-invalid', 'fullchain.pem does not start with the certificate in cert.pem');

  if (caCerts && mountCa) {
    if (input.mountCaPem !== undefined) {
      const onDisk = new Set(caCerts.map((c) => c.fingerprint256));
      const absent = mountCa.filter((c) => !onDisk.has(c.fingerprint256));
      if (absent.length > 0) add('ca-mismatch', `ca.pem does not contain the mount CA ${label(absent[0]!)}`);
    }
    // Intermediates may come from cert.pem (if a bundle), fullchain.pem or ca.pem.
    const pool = [...(certs ?? []).slice(1), ...(chainCerts ?? []).slice(1), ...caCerts];
    const chain = buildChain(leafCert, mountCa, pool);
    if (!chain.ok) {
      const stuck = chain.stuckAt === leafCert ? 'the certificate' : `intermediate ${label(chain.stuckAt)}`;
      add(
        'chain-invalid',
        `${stuck} (issuer "${leaf.issuerCommonName ?? leaf.issuer}") is not signed by the mount CA ${mountCa.map(label).join(', ')}`,
      );
    } else {
      for (const ca of chain.path) {
        if (new Date(ca.validTo).getTime() <= now.getTime())
          add('chain-invalid', `CA ${label(ca)} expired at ${new Date(ca.validTo).toISOString()}`);
      }
    }
  }

  if ((leaf.commonName ?? '') !== expected.commonName)
    add('cn-mismatch', `CN is "${leaf.commonName ?? ''}", expected "${expected.commonName}"`);

  const missing = findMissingSans(leaf, expected);
  if (missing.dns.length > 0) add('san-missing', `DNS SANs missing: ${missing.dns.join(', ')}`);
  if (missing.ip.length > 0) add('san-missing', `IP SANs missing: ${missing.ip.join(', ')}`);

  const lacking = expected.usages.filter((u) => !allowsUsage(leaf, u));
  if (lacking.length > 0)
    add(
      'eku-missing',
      `extended key usage lacks ${lacking.map((u) => USAGE_EKU[u]).join(' + ')} (has ${leaf.extKeyUsages?.join(', ') || 'none'})`,
    );

  let clockSkewSeconds: number | undefined;
  const early = (leaf.notBefore.getTime() - now.getTime()) / 1000;
  if (early > 0) {
    clockSkewSeconds = Math.ceil(early);
    if (early > (input.clockSkewToleranceSeconds ?? 0))
      add(
        'not-yet-valid',
        `not valid before ${leaf.notBefore.toISOString()}, ${clockSkewSeconds}s after this host's clock (clock skew?)`,
      );
  }
  if (leaf.notAfter.getTime() <= now.getTime()) add('expired', `expired at ${leaf.notAfter.toISOString()}`);

  return { problems, leaf, clockSkewSeconds };
}

/** `verifyCertificateSet`, throwing WriteError('verification-failed') naming the certificate and every problem. */
export function assertCertificateSetValid(input: VerificationInput): VerificationResult {
  const result = verifyCertificateSet(input);
  if (result.problems.length > 0) {
    throw new WriteError(
      'verification-failed',
      `certificate "${input.name}" failed verification: ${result.problems.map((p) => p.message).join('; ')}`,
      {
        details: {
          certificate: input.name,
          problems: result.problems.map((p) => p.code).join(','),
          serial: result.leaf?.serial,
          clockSkewSeconds: result.clockSkewSeconds,
        },
      },
    );
  }
  return result;
}
