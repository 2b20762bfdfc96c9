/**
 * "Does the set on disk still match the spec?" for the planner and `check`/`status`: PEM texts,
 * the spec and a clock reading in; the first reason to re-issue (or none) out. Pure.
 *
 * Reasons are checked in this order, so the logged reason is the most specific one:
 * missing, unreadable, key-mismatch, ca-changed, cn-changed, sans-changed, key-type-changed,
 * usage-missing, expired, not-yet-valid, renewal-due.
 */
import type { CertSpec, KeySpec, Usage } from '../config/types.js';
import { AgentError } from '../errors.js';
import { buildChain, certificateLabel } from './chain.js';
import { allowsUsage, type CertificateInfo, describeCertificate, USAGE_EKU } from './inspect.js';
import { publicKeyDer } from './keys.js';
import { diffSans } from './names.js';
import { parseCertificates, parsePrivateKey } from './pem.js';

export type ReissueReason =
  | 'missing'
  | 'unreadable'
  | 'key-mismatch'
  | 'ca-changed'
  | 'cn-changed'
  | 'sans-changed'
  | 'key-type-changed'
  | 'usage-missing'
  | 'expired'
  | 'not-yet-valid'
  | 'renewal-due';

const REASON_TEXT: Readonly<Record<ReissueReason, string>> = {
  missing: 'certificate files are missing',
  unreadable: 'certificate files cannot be parsed',
  'key-mismatch': 'the key does not belong to the certificate',
  'ca-changed': 'the CA changed',
  'cn-changed': 'the common name differs from the spec',
  'sans-changed': 'the subject alternative names differ from the spec',
  'key-type-changed': 'the key type or size differs from the spec',
  'usage-missing': 'the certificate lacks a required extended key usage',
  expired: 'the certificate has expired',
  'not-yet-valid': 'the certificate is not valid yet',
  'renewal-due': 'renewal is due',
};

/** One-line human text for a reason (the verdict's `message` adds the specifics). */
export function describeReissueReason(reason: ReissueReason): string {
  return REASON_TEXT[reason];
}

export interface ReissueVerdict {
  reason: ReissueReason;
  /** Human message with specifics, e.g. `the subject alternative names differ from the spec: missing 10.0.0.9`. */
  message: string;
}

/** The files of a set as read from disk; `undefined` = the file does not exist. */
export interface CurrentSetPems {
  cert?: string;
  key?: string;
  ca?: string;
}

/** What a set must match: a CertSpec fits (readonly arrays accepted). */
export interface SetSpec {
  name?: string;
  commonName: string;
  dnsSans: readonly string[];
  ipSans: readonly string[];
  key: KeySpec;
  /** Fraction of the lifetime after which renewal is due. */
  renewAt: number;
  usages?: readonly Usage[];
  /** In `issue` mode the role picks the key, so the key type is not compared. */
  mode?: CertSpec['mode'];
}

export interface SetInspectionInput {
  current: CurrentSetPems;
  spec: SetSpec;
  now: Date;
  /** The CA the mount issues with now (`GET <mount>/ca/pem`); undefined when not known (no Vault calls). */
  mountCaPem?: string;
  /** The renewal moment if the planner already computed one (e.g. with fleet jitter); default notBefore + renewAt × lifetime. */
  renewAtTime?: Date | ((notBefore: Date, notAfter: Date) => Date);
  /** notBefore may be this far in the future before the set counts as not-yet-valid (default 0). */
  clockSkewToleranceSeconds?: number;
}

export interface SetInspection {
  /** Why the set must be (re-)issued; undefined when it is fine. */
  verdict?: ReissueVerdict;
  /** The current leaf, when it could be read. */
  leaf?: CertificateInfo;
  /** When renewal becomes due for the current leaf. */
  renewalTime?: Date;
}

/** notBefore + fraction × lifetime. */
export function computeRenewalTime(notBefore: Date, notAfter: Date, renewAt: number): Date {
  const start = notBefore.getTime();
  return new Date(start + (notAfter.getTime() - start) * renewAt);
}

const verdict = (reason: ReissueReason, detail?: string): ReissueVerdict => ({
  reason,
  message: detail ? `${REASON_TEXT[reason]}: ${detail}` : REASON_TEXT[reason],
});

function tryParse<T>(parse: () => T): { value: T } | { error: string } {
  try {
    return { value: parse() };
  } catch (error) {
    if (!AgentError.is(error)) throw error;
    return { error: error.message };
  }
}

const label = certificateLabel;

/** Inspect the set and say whether (and why) it must be re-issued. */
export function inspectCertificateSet(input: SetInspectionInput): SetInspection {
  const { current, spec, now } = input;
  const absent = (['cert', 'key', 'ca'] as const).filter((f) => current[f] === undefined);
  if (absent.length > 0) return { verdict: verdict('missing', absent.map((f) => `${f}.pem`).join(', ')) };

  const certs = tryParse(() => parseCertificates(current.cert!, 'cert.pem'));
  if ('error' in certs) return { verdict: verdict('unreadable', certs.error) };
  const leafCert = certs.value[0]!;
  const leafInfo = tryParse(() => describeCertificate(leafCert, 'cert.pem'));
  if ('error' in leafInfo) return { verdict: verdict('unreadable', leafInfo.error) };
  const leaf = leafInfo.value;
  const renewalTime =
    typeof input.renewAtTime === 'function'
      ? input.renewAtTime(leaf.notBefore, leaf.notAfter)
      : (input.renewAtTime ?? computeRenewalTime(leaf.notBefore, leaf.notAfter, spec.renewAt));
  const withLeaf = (v: ReissueVerdict): SetInspection => ({ verdict: v, leaf, renewalTime });

  const key = tryParse(() => parsePrivateKey(current.key!, 'key.pem'));
  if ('error' in key) return withLeaf(verdict('unreadable', key.error));
  const cas = tryParse(() => parseCertificates(current.ca!, 'ca.pem'));
  if ('error' in cas) return withLeaf(verdict('unreadable', cas.error));

  if (!publicKeyDer(key.value).equals(publicKeyDer(leafCert.publicKey)))
    return withLeaf(verdict('key-mismatch', 'key.pem and cert.pem carry different public keys'));

  // ca.pem must still sign the certificate, and hold the CA the mount uses now.
  const pool = [...certs.value.slice(1), ...cas.value];
  if (!buildChain(leafCert, cas.value, pool).ok)
    return withLeaf(
      verdict(
        'ca-changed',
        `cert.pem is not signed by the CA in ca.pem (issuer ${leaf.issuerCommonName ?? leaf.issuer})`,
      ),
    );
  if (input.mountCaPem !== undefined) {
    // A malformed mount CA is Vault's fault, not the set's: let the typed error propagate.
    const mountCa = parseCertificates(input.mountCaPem, 'mount CA');
    const onDisk = new Set(cas.value.map((c) => c.fingerprint256));
    const notOnDisk = mountCa.find((c) => !onDisk.has(c.fingerprint256));
    if (notOnDisk)
      return withLeaf(verdict('ca-changed', `ca.pem does not contain the mount CA ${label(notOnDisk)}`));
    if (!buildChain(leafCert, mountCa, pool).ok)
      return withLeaf(verdict('ca-changed', `cert.pem is not signed by the mount CA ${label(mountCa[0]!)}`));
  }

  if ((leaf.commonName ?? '') !== spec.commonName)
    return withLeaf(verdict('cn-changed', `"${leaf.commonName ?? ''}" -> "${spec.commonName}"`));

  const sans = diffSans(leaf, spec);
  if (sans.missing.length > 0 || sans.extra.length > 0) {
    const parts = [
      sans.missing.length > 0 ? `missing ${sans.missing.join(', ')}` : '',
      sans.extra.length > 0 ? `not requested ${sans.extra.join(', ')}` : '',
    ].filter(Boolean);
    return withLeaf(verdict('sans-changed', parts.join('; ')));
  }

  // In issue mode Vault's role picks the key; comparing with the spec would re-issue forever.
  if (spec.mode !== 'issue' && (leaf.key.type !== spec.key.type || leaf.key.bits !== spec.key.bits))
    return withLeaf(
      verdict(
        'key-type-changed',
        `${leaf.key.type}/${leaf.key.bits ?? '?'} -> ${spec.key.type}/${spec.key.bits}`,
      ),
    );

  // Only a missing usage counts: extra EKUs come from the role (server_flag/client_flag) and a
  // re-issue would not remove them.
  const lacking = (spec.usages ?? []).filter((u) => !allowsUsage(leaf, u));
  if (lacking.length > 0)
    return withLeaf(verdict('usage-missing', lacking.map((u) => USAGE_EKU[u]).join(', ')));

  if (leaf.notAfter.getTime() <= now.getTime())
    return withLeaf(verdict('expired', `not after ${leaf.notAfter.toISOString()}`));
  const early = (leaf.notBefore.getTime() - now.getTime()) / 1000;
  if (early > (input.clockSkewToleranceSeconds ?? 0))
    return withLeaf(
      verdict(
        'not-yet-valid',
        `not before ${leaf.notBefore.toISOString()} (${Math.ceil(early)}s ahead of this host's clock)`,
      ),
    );
  if (renewalTime.getTime() <= now.getTime())
    return withLeaf(
      verdict('renewal-due', `since ${renewalTime.toISOString()}, not after ${leaf.notAfter.toISOString()}`),
    );

  return { leaf, renewalTime };
}

/** Just the verdict: the reason to re-issue, or undefined when the set still matches the spec. */
export function findReissueReason(input: SetInspectionInput): ReissueVerdict | undefined {
  return inspectCertificateSet(input).verdict;
}
