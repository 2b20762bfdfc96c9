/**
 * What a certificate says, as plain data: names, SANs, serial, validity, key, EKUs, issuer.
 * Node's X509Certificate gives most of it; SANs and EKUs are read from the extension DER with
 * forge's ASN.1 parser, because Node only offers them as display strings (IPv6 printed long form,
 * values quoted when they contain separators) and its EKU accessor is the oddly named `keyUsage`.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { Usage } from '../config/types.js';
import { formatIpAddress } from '../util/ip.js';
import { type Asn1, children, isContext, parseDer, readOid } from './asn1.js';
import { isSelfSigned } from './chain.js';
import { describeKey, type KeyDescription } from './keys.js';
import { malformedInput, parseCertificates } from './pem.js';

const EKU_OIDS: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

/** Our usage names -> the EKU each one needs. */
export const USAGE_EKU: Readonly<Record<Usage, string>> = { server: 'serverAuth', client: 'clientAuth' };

export interface CertificateInfo {
  /** Canonical PEM of this certificate. */
  pem: string;
  subject: string;
  commonName?: string;
  issuer: string;
  issuerCommonName?: string;
  /** DNS SANs as written in the certificate, in order. */
  dnsSans: string[];
  /** IP SANs in canonical text (dotted IPv4, RFC 5952 IPv6 such as `::1`), in order. */
  ipSans: string[];
  emailSans: string[];
  uriSans: string[];
  /** Lower-case colon-separated hex, the way Vault prints serials (`39:dd:2e:90`). */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  key: KeyDescription;
  /**
   * Extended key usages by name (`serverAuth`, `clientAuth`, ...; unknown ones as their OID), or
   * undefined when the certificate has no EKU extension (which means: any usage).
   */
  extKeyUsages?: string[];
  isCa: boolean;
  selfSigned: boolean;
  /** SHA-256 fingerprint, upper-case colon hex (as openssl prints it). */
  fingerprint256: string;
}

interface Extension {
  oid: string;
  critical: boolean;
  /** extnValue contents (DER of the extension's own structure), as a forge binary string. */
  value: string;
}

function readExtensions(cert: X509Certificate): Extension[] {
  const tbs = children(parseDer(cert.raw))[0];
  // extensions [3] EXPLICIT SEQUENCE OF Extension
  const list = children(children(children(tbs).find((n) => isContext(n, 3)))[0]);
  return list.map((ext) => {
    const parts = children(ext);
    return {
      oid: readOid(parts[0]!),
      critical: parts.length === 3 && parts[1]?.value === '\xff',
      value: parts[parts.length - 1]!.value as string,
    };
  });
}

function readSans(
  ext: Extension | undefined,
): Pick<CertificateInfo, 'dnsSans' | 'ipSans' | 'emailSans' | 'uriSans'> {
  const out = {
    dnsSans: [] as string[],
    ipSans: [] as string[],
    emailSans: [] as string[],
    uriSans: [] as string[],
  };
  if (!ext) return out;
  for (const name of children(parseDer(ext.value))) {
    const value = name.value;
    if (typeof value !== 'string') continue;
    if (isContext(name, 1)) out.emailSans.push(value);
    else if (isContext(name, 2)) out.dnsSans.push(value);
    else if (isContext(name, 6)) out.uriSans.push(value);
    else if (isContext(name, 7)) {
      const ip = formatIpAddress(Buffer.from(value, 'binary'));
      if (ip) out.ipSans.push(ip);
    }
  }
  return out;
}

function readEkus(ext: Extension | undefined): string[] | undefined {
  if (!ext) return undefined;
  return children(parseDer(ext.value)).map((n: Asn1) => {
    const id = readOid(n);
    return EKU_OIDS[id] ?? id;
  });
}

/**
 * Node prints the subject as `CN=a\nO=b` lines; the CN is the (last) `CN=` line. An empty subject (the
 * etcd-grpc-proxy certificate) is `undefined` in Node, not ''.
 */
function commonNameOf(dn: string | undefined): string | undefined {
  const lines = (dn ?? '').split('\n').filter((l) => l.startsWith('CN='));
  return lines.at(-1)?.slice(3);
}

function formatSerial(hex: string): string {
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return (even.toLowerCase().match(/../g) ?? []).join(':');
}

/** Facts of one parsed certificate. `what` names it in errors. */
export function describeCertificate(cert: X509Certificate, what = 'certificate'): CertificateInfo {
  let extensions: Extension[];
  try {
    extensions = readExtensions(cert);
  } catch (error) {
    throw malformedInput(what, 'certificate extensions cannot be parsed', error);
  }
  const find = (id: string) => extensions.find((e) => e.oid === id);
  let sans: ReturnType<typeof readSans>;
  let extKeyUsages: string[] | undefined;
  try {
    sans = readSans(find('2.5.29.17'));
    extKeyUsages = readEkus(find('2.5.29.37'));
  } catch (error) {
    throw malformedInput(what, 'subjectAltName or extKeyUsage cannot be parsed', error);
  }
  // A damaged certificate can still parse as X.509 and fail only here: the key algorithm or the
  // validity dates unreadable. Both are malformed input, not a crash and not "valid forever".
  let publicKey: KeyObject;
  try {
    publicKey = cert.publicKey;
  } catch (error) {
    throw malformedInput(what, 'public key cannot be parsed', error);
  }
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()))
    throw malformedInput(what, 'validity dates cannot be read');
  return {
    pem: cert.toString(),
    subject: cert.subject ?? '',
    commonName: commonNameOf(cert.subject),
    issuer: cert.issuer,
    issuerCommonName: commonNameOf(cert.issuer),
    ...sans,
    serial: formatSerial(cert.serialNumber),
    notBefore,
    notAfter,
    key: describeKey(publicKey),
    extKeyUsages,
    isCa: cert.ca,
    selfSigned: isSelfSigned(cert),
    fingerprint256: cert.fingerprint256,
  };
}

/** Facts of the first certificate in `pem` (a leaf, or a bundle whose first entry is the leaf). */
export function inspectCertificate(pem: string, what = 'certificate'): CertificateInfo {
  return describeCertificate(parseCertificates(pem, what)[0]!, what);
}

/** True when the certificate's EKUs allow `usage` (no EKU extension, or anyExtendedKeyUsage, allows all). */
export function allowsUsage(info: Pick<CertificateInfo, 'extKeyUsages'>, usage: Usage): boolean {
  if (!info.extKeyUsages) return true;
  return info.extKeyUsages.includes(USAGE_EKU[usage]) || info.extKeyUsages.includes('anyExtendedKeyUsage');
}
