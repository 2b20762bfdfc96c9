/**
 * The one check of a certificate set: its PEM texts, what it should be and a clock reading in; every finding,
 * in one vocabulary and in a fixed order (most specific first), out. Pure. Each file is parsed once.
 *
 * Findings, in order: missing, unreadable, key-mismatch, chain-invalid, ca-changed, ca-expired, cn-changed,
 * sans-changed, key-type-changed, usage-missing, expired, not-yet-valid. (`renewal-due` is not a property of
 * the files but of the schedule: plan/renewal.ts adds it.)
 *
 * Two small policies read the findings:
 * - "must it be re-issued?" (`reissueFinding`): the first finding a new certificate would cure; what the pass,
 *   `check` and `status` report (through plan/renewal.ts).
 * - "may it be exposed?" (`assertMayExpose`): the gate before a freshly assembled set is switched in (SPEC
 *   "Files": the key matches, the chain verifies to the mount's CA, the CN and every requested SAN are there,
 *   the EKUs are there, the validity has started, within the clock-skew tolerance, and not ended).
 */
import type { X509Certificate } from 'node:crypto';
import type { CertSpec, KeySpec, Usage } from '../config/types.js';
import { AgentError, WriteError } from '../errors.js';
import { buildChain, certificateLabel } from './chain.js';
import { allowsUsage, type CertificateInfo, describeCertificate, USAGE_EKU } from './inspect.js';
import { publicKeyDer } from './keys.js';
import { diffSans } from './names.js';
import { parseCertificates, parsePrivateKey } from './pem.js';

export type FindingCode =
  | 'missing'
  | 'unreadable'
  | 'key-mismatch'
  | 'chain-invalid'
  | 'ca-changed'
  | 'ca-expired'
  | 'cn-changed'
  | 'sans-changed'
  | 'key-type-changed'
  | 'usage-missing'
  | 'expired'
  | 'not-yet-valid';

/** The first words of every finding's message; the reason words in logs, `check` and `status` are the codes. */
const FINDING_TEXT: Readonly<Record<FindingCode, string>> = {
  missing: 'certificate files are missing',
  unreadable: 'certificate files cannot be parsed',
  'key-mismatch': 'the key does not belong to the certificate',
  'chain-invalid': 'fullchain.pem does not fit the certificate',
  'ca-changed': 'the CA changed',
  'ca-expired': 'a CA of the chain has expired',
  'cn-changed': 'the common name differs from the spec',
  'sans-changed': 'the subject alternative names differ from the spec',
  'key-type-changed': 'the key type or size differs from the spec',
  'usage-missing': 'the certificate lacks a required extended key usage',
  expired: 'the certificate has expired',
  'not-yet-valid': 'the certificate is not valid yet',
};

export interface Finding {
  code: FindingCode;
  /** Human text with specifics, e.g. `the subject alternative names differ from the spec: missing 10.0.0.9`. */
  message: string;
  /** sans-changed only: the requested names the certificate lacks (names it carries besides are no bar to exposing it). */
  missingSans?: readonly string[];
}

/** The files of a set as written to, or read from, its directory; `undefined` = the file does not exist. */
export interface SetFiles {
  /** cert.pem: the leaf (a bundle is accepted; its first certificate is the leaf). */
  cert?: string;
  key?: string;
  /** ca.pem: the mount's CA, or its chain up to the root. */
  ca?: string;
  /** fullchain.pem: the leaf followed by intermediates; checked only when given. */
  fullchain?: string;
}

/** What the set should be: a CertSpec fits (readonly arrays accepted). */
export interface ExpectedCertificate {
  commonName: string;
  dnsSans: readonly string[];
  ipSans: readonly string[];
  usages?: readonly Usage[];
  /** Compared with the certificate's key when given, except in `issue` mode (the role picks the key there). */
  key?: KeySpec;
  mode?: CertSpec['mode'];
}

export interface SetCheckInput {
  files: SetFiles;
  expected: ExpectedCertificate;
  now: Date;
  /** Certificate name, prefixed to the file names in parse errors. */
  name?: string;
  /**
   * The CA the mount issues with now (`issuing_ca`, or `GET <mount>/ca/pem`): ca.pem must contain it and the
   * leaf must chain to it. Undefined when not known (`check` and `status` ask Vault nothing). A malformed one is
   * Vault's fault, not the set's: its typed error propagates.
   */
  mountCaPem?: string;
  /**
   * The SubjectPublicKeyInfo DER of the key in `files.key`, when the caller generated that key and holds it: the
   * certificate is compared with it and key.pem is not decoded again (OpenSSL 3's PKCS#8 decoder costs ~0.35 ms).
   */
  keyPublicDer?: Buffer;
  /** notBefore may be this far in the future before the set counts as not yet valid (default 0). */
  clockSkewToleranceSeconds?: number;
}

export interface SetCheck {
  findings: Finding[];
  /** The leaf, when it could be read. */
  leaf?: CertificateInfo;
  /** Seconds by which notBefore lies in the future of `now` (positive = this host's clock is behind the issuer's). */
  clockSkewSeconds?: number;
}

const finding = (code: FindingCode, detail?: string): Finding => ({
  code,
  message: detail ? `${FINDING_TEXT[code]}: ${detail}` : FINDING_TEXT[code],
});

const label = (cert: X509Certificate): string => `"${certificateLabel(cert)}"`;

/** Check a set; an empty `findings` means it is exactly what was asked for and valid now. */
export function checkCertificateSet(input: SetCheckInput): SetCheck {
  const { files, expected, now } = input;
  const absent = (['cert', 'key', 'ca'] as const).filter((f) => files[f] === undefined);
  if (absent.length > 0) return { findings: [finding('missing', absent.map((f) => `${f}.pem`).join(', '))] };

  const findings: Finding[] = [];
  const add = (code: FindingCode, detail?: string) => findings.push(finding(code, detail));
  const what = (file: string) => (input.name ? `${input.name} ${file}` : file);
  const parse = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (error) {
      if (!AgentError.is(error)) throw error;
      add('unreadable', error.message);
      return undefined;
    }
  };
  const certs = parse(() => parseCertificates(files.cert ?? '', what('cert.pem')));
  const leafCert = certs?.[0];
  const leaf = leafCert && parse(() => describeCertificate(leafCert, what('cert.pem')));
  const keyDer =
    input.keyPublicDer ?? parse(() => publicKeyDer(parsePrivateKey(files.key ?? '', what('key.pem'))));
  const cas = parse(() => parseCertificates(files.ca ?? '', what('ca.pem')));
  const chainCerts =
    files.fullchain === undefined
      ? []
      : parse(() => parseCertificates(files.fullchain ?? '', what('fullchain.pem')));
  const mountCa =
    input.mountCaPem === undefined ? undefined : parseCertificates(input.mountCaPem, 'mount CA');
  if (!leafCert || !leaf) return { findings };

  if (keyDer && !keyDer.equals(publicKeyDer(leafCert.publicKey)))
    add('key-mismatch', 'key.pem and cert.pem carry different public keys');

  if (chainCerts && chainCerts.length > 0 && chainCerts[0]?.fingerprint256 !== leafCert.fingerprint256)
    add('chain-invalid', 'it does not start with the certificate in cert.pem');

  if (cas) {
    if (mountCa) {
      const onDisk = new Set(cas.map((c) => c.fingerprint256));
      const notOnDisk = mountCa.find((c) => !onDisk.has(c.fingerprint256));
      if (notOnDisk) add('ca-changed', `ca.pem does not contain the mount CA ${label(notOnDisk)}`);
    }
    // Intermediates may come from cert.pem (if a bundle), fullchain.pem or ca.pem.
    const pool = [...(certs ?? []).slice(1), ...(chainCerts ?? []).slice(1), ...cas];
    const notSignedBy = (anchors: X509Certificate[], whose: string) => {
      const chain = buildChain(leafCert, anchors, pool);
      if (chain.ok) return chain.path;
      const at = chain.stuckAt;
      const stuck = at === leafCert ? 'cert.pem' : `intermediate ${label(at)}`;
      const issuer =
        at.issuer
          .split('\n')
          .find((l) => l.startsWith('CN='))
          ?.slice(3) ?? at.issuer;
      add(
        'ca-changed',
        `${stuck} (issuer "${issuer}") is not signed by ${whose} ${anchors.map(label).join(', ')}`,
      );
      return undefined;
    };
    // ca.pem must still sign the certificate, and (when known) so must the CA the mount uses now.
    let path = notSignedBy(cas, 'the CA in ca.pem');
    if (path && mountCa) path = notSignedBy(mountCa, 'the mount CA');
    for (const ca of path ?? []) {
      if (new Date(ca.validTo).getTime() <= now.getTime())
        add('ca-expired', `CA ${label(ca)} expired at ${new Date(ca.validTo).toISOString()}`);
    }
  }

  if ((leaf.commonName ?? '') !== expected.commonName)
    add('cn-changed', `"${leaf.commonName ?? ''}" -> "${expected.commonName}"`);

  const sans = diffSans(leaf, expected);
  if (sans.missing.length > 0 || sans.extra.length > 0) {
    const parts = [
      sans.missing.length > 0 ? `missing ${sans.missing.join(', ')}` : '',
      sans.extra.length > 0 ? `not requested ${sans.extra.join(', ')}` : '',
    ].filter(Boolean);
    findings.push({ ...finding('sans-changed', parts.join('; ')), missingSans: sans.missing });
  }

  // In issue mode Vault's role picks the key; comparing with the spec would re-issue forever.
  const key = expected.key;
  if (key && expected.mode !== 'issue' && (leaf.key.type !== key.type || leaf.key.bits !== key.bits))
    add('key-type-changed', `${leaf.key.type}/${leaf.key.bits ?? '?'} -> ${key.type}/${key.bits}`);

  // Only a missing usage counts: extra EKUs come from the role (server_flag/client_flag) and a re-issue would
  // not remove them.
  const lacking = (expected.usages ?? []).filter((u) => !allowsUsage(leaf, u));
  if (lacking.length > 0)
    add(
      'usage-missing',
      `${lacking.map((u) => USAGE_EKU[u]).join(', ')} (has ${leaf.extKeyUsages?.join(', ') || 'none'})`,
    );

  if (leaf.notAfter.getTime() <= now.getTime()) add('expired', `not after ${leaf.notAfter.toISOString()}`);
  let clockSkewSeconds: number | undefined;
  const early = (leaf.notBefore.getTime() - now.getTime()) / 1000;
  if (early > 0) {
    clockSkewSeconds = Math.ceil(early);
    if (early > (input.clockSkewToleranceSeconds ?? 0))
      add(
        'not-yet-valid',
        `not before ${leaf.notBefore.toISOString()}, ${clockSkewSeconds}s ahead of this host's clock (clock skew?)`,
      );
  }
  return { findings, leaf, clockSkewSeconds };
}

/**
 * "Must it be re-issued?": the first finding a new certificate cures. An expired CA is not one of them: the
 * mount would issue with the same CA, and its rotation shows as `ca-changed`.
 */
export function reissueFinding(check: SetCheck): Finding | undefined {
  return check.findings.find((f) => f.code !== 'ca-expired');
}

/**
 * "May it be exposed?": a freshly assembled set may be switched in when nothing is found, except names the
 * certificate carries besides the requested ones. Throws WriteError('verification-failed') naming the
 * certificate and every problem.
 */
export function assertMayExpose(name: string, check: SetCheck): void {
  const problems = check.findings.filter(
    (f) => f.code !== 'sans-changed' || (f.missingSans ?? []).length > 0,
  );
  if (problems.length === 0) return;
  throw new WriteError(
    'verification-failed',
    `certificate "${name}" failed verification: ${problems.map((p) => p.message).join('; ')}`,
    {
      details: {
        certificate: name,
        problems: problems.map((p) => p.code).join(','),
        serial: check.leaf?.serial,
        clockSkewSeconds: check.clockSkewSeconds,
      },
    },
  );
}
