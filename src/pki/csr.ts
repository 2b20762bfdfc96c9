/**
 * PKCS#10 certificate requests (RFC 2986) built from ASN.1 parts and signed by Node's crypto.
 * node-forge's own CSR code only knows RSA and signs in pure JS (slow); here forge only encodes
 * DER, the public key comes from Node as SubjectPublicKeyInfo DER, and OpenSSL signs.
 *
 * The request carries the subject CN and a subjectAltName extension request (DNS + IP). Nothing
 * else: Vault's /sign takes O/OU, key usage and EKU from the role, not from the CSR.
 */
import { type KeyObject, sign } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { parseIpAddress } from '../util/ip.js';
import {
  type Asn1,
  bitString,
  contextConstructed,
  contextPrimitive,
  encodeDer,
  integer,
  nullValue,
  octetString,
  oid,
  parseDer,
  seq,
  set,
  utf8String,
} from './asn1.js';
import { describeKey, type GeneratedKey, publicKeyDer } from './keys.js';
import { derToPem } from './pem.js';

export interface CsrSubject {
  commonName: string;
  dnsSans?: readonly string[];
  ipSans?: readonly string[];
}

const OID = {
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

function subjectName(commonName: string): Asn1 {
  if (commonName === '') return seq([]);
  // UTF8String: CNs such as `system:node:ip-10-0-1-2` are not PrintableString (':' is not allowed there).
  return seq([set([seq([oid(OID.commonName), utf8String(commonName)])])]);
}

function generalNames(dnsSans: readonly string[], ipSans: readonly string[]): Asn1[] {
  const names: Asn1[] = [];
  for (const dns of dnsSans) {
    // dNSName is an IA5String: internationalised names must arrive as punycode (xn--...).
    if (dns === '' || !/^[\x21-\x7e]+$/.test(dns))
      throw new ConfigError(`DNS SAN "${dns}" is not an ASCII host name (use punycode for IDNs)`);
    names.push(contextPrimitive(2, dns));
  }
  for (const ip of ipSans) {
    const bytes = parseIpAddress(ip);
    if (!bytes) throw new ConfigError(`IP SAN "${ip}" is not an IPv4 or IPv6 address`);
    names.push(contextPrimitive(7, Buffer.from(bytes).toString('binary')));
  }
  return names;
}

function signatureAlgorithm(info: { type: string; bits?: number }): { hash: string; algorithm: Asn1 } {
  if (info.type === 'ec') {
    // RFC 5480: match the hash to the curve strength (P-384 -> SHA-384).
    const sha384 = (info.bits ?? 256) >= 384;
    return {
      hash: sha384 ? 'sha384' : 'sha256',
      algorithm: seq([oid(sha384 ? OID.ecdsaWithSha384 : OID.ecdsaWithSha256)]),
    };
  }
  if (info.type === 'rsa') return { hash: 'sha256', algorithm: seq([oid(OID.sha256WithRsa), nullValue()]) };
  throw new ConfigError(`cannot sign a CSR with a ${info.type} key (ec and rsa are supported)`);
}

/** DER of a PKCS#10 CertificationRequest signed by `key`. */
export function createCsrDer(key: GeneratedKey | KeyObject, subject: CsrSubject): Buffer {
  const privateKey = 'privateKey' in key ? key.privateKey : key;
  if (privateKey.type !== 'private') throw new ConfigError('a CSR must be signed with a private key');
  const spki = parseDer('publicKeyDer' in key ? key.publicKeyDer : publicKeyDer(privateKey));

  const names = generalNames(subject.dnsSans ?? [], subject.ipSans ?? []);
  const attributes: Asn1[] = [];
  if (names.length > 0) {
    const extension = seq([oid(OID.subjectAltName), octetString(encodeDer(seq(names)).toString('binary'))]);
    attributes.push(seq([oid(OID.extensionRequest), set([seq([extension])])]));
  }
  const info = seq([
    integer(0),
    subjectName(subject.commonName),
    spki,
    // attributes [0] IMPLICIT SET OF Attribute: present even when empty.
    contextConstructed(0, attributes),
  ]);
  const infoDer = encodeDer(info);
  // A generated key's spec says what describeKey would ask OpenSSL for.
  const { hash, algorithm } = signatureAlgorithm('spec' in key ? key.spec : describeKey(privateKey));
  const signature = sign(hash, infoDer, privateKey);
  return encodeDer(seq([info, algorithm, bitString(signature)]));
}

/** PEM `CERTIFICATE REQUEST` for `key` with the subject CN and SANs. */
export function createCsr(key: GeneratedKey | KeyObject, subject: CsrSubject): string {
  return derToPem('CERTIFICATE REQUEST', createCsrDer(key, subject));
}
