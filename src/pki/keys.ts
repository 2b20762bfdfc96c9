/**
 * Private keys generated on the host (the key never travels; only the CSR goes to Vault).
 *
 * Speed notes (Node 20 / OpenSSL 3, measured on the dev box): an EC P-256 key costs ~40 µs with
 * `generateKeyPairSync` but ~170 µs through the thread pool (the hop costs more than the work),
 * and OpenSSL 3's PKCS#8/SPKI encoders cost ~60-110 µs each while a JWK/SEC1 export costs ~5-10 µs.
 * So EC keys are generated synchronously and their SPKI/PKCS#8 DER is assembled here from the JWK
 * point and the SEC1 key; RSA keys (tens to hundreds of ms) go through `generateKeyPair`, which runs
 * in libuv's thread pool so several certificates' keys are generated in parallel off the event loop.
 */
import { createPublicKey, generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { KeySpec } from '../config/types.js';
import { ConfigError } from '../errors.js';
import {
  type Asn1,
  bitString,
  encodeDer,
  integer,
  isContext,
  octetString,
  oid,
  parseDer,
  seq,
} from './asn1.js';
import { derToPem } from './pem.js';

export interface GeneratedKey {
  spec: KeySpec;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER of the public key (what the CSR embeds). */
  publicKeyDer: Buffer;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Secret: write it 0600, never log it. */
  privateKeyPem: string;
}

interface Curve {
  name: string;
  oid: string;
  /** Bytes per coordinate. */
  size: number;
}

const CURVES: Readonly<Record<number, Curve>> = {
  256: { name: 'prime256v1', oid: '1.2.840.10045.3.1.7', size: 32 },
  384: { name: 'secp384r1', oid: '1.3.132.0.34', size: 48 },
};
export const RSA_BITS: readonly number[] = [2048, 3072, 4096];
const EC_PUBLIC_KEY_OID = '1.2.840.10045.2.1';

/** Throws a ConfigError for a key type/size this agent does not generate. */
export function assertSupportedKeySpec(spec: KeySpec): void {
  if (spec.type === 'ec' && CURVES[spec.bits]) return;
  if (spec.type === 'rsa' && RSA_BITS.includes(spec.bits)) return;
  throw new ConfigError(
    `unsupported key ${spec.type}/${spec.bits}: use ec with 256 or 384 bits, or rsa with ${RSA_BITS.join(', ')} bits`,
  );
}

function ecAlgorithm(curve: Curve): Asn1 {
  return seq([oid(EC_PUBLIC_KEY_OID), oid(curve.oid)]);
}

/** RFC 5480 SubjectPublicKeyInfo from the JWK point (uncompressed form 04 || x || y). */
function ecSpkiDer(publicKey: KeyObject, curve: Curve): Buffer {
  const jwk = publicKey.export({ format: 'jwk' });
  const coord = (b64url: string | undefined) => {
    const bytes = Buffer.from(b64url ?? '', 'base64url');
    if (bytes.length > curve.size) throw new Error('EC coordinate longer than the curve size');
    return Buffer.concat([Buffer.alloc(curve.size - bytes.length), bytes]);
  };
  const point = Buffer.concat([Buffer.from([4]), coord(jwk.x), coord(jwk.y)]);
  return encodeDer(seq([ecAlgorithm(curve), bitString(point)]));
}

/**
 * RFC 5208 PKCS#8 around the SEC1 ECPrivateKey, without the SEC1 [0] parameters (they sit in the
 * AlgorithmIdentifier), which is what OpenSSL and Go write too.
 */
function ecPkcs8Der(privateKey: KeyObject, curve: Curve): Buffer {
  const sec1 = parseDer(privateKey.export({ type: 'sec1', format: 'der' }) as Buffer);
  const parts = (sec1.value as Asn1[]).filter((p) => !isContext(p, 0));
  const inner = encodeDer(seq(parts)).toString('binary');
  return encodeDer(seq([integer(0), ecAlgorithm(curve), octetString(inner)]));
}

function generateRsaPair(bits: number): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      { modulusLength: bits, publicExponent: 0x10001 },
      (error, publicKey, privateKey) => (error ? reject(error) : resolve({ publicKey, privateKey })),
    );
  });
}

export async function generateKey(spec: KeySpec): Promise<GeneratedKey> {
  assertSupportedKeySpec(spec);
  if (spec.type === 'ec') {
    const curve = CURVES[spec.bits]!;
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve.name });
    return {
      spec: { type: 'ec', bits: spec.bits },
      privateKey,
      publicKey,
      publicKeyDer: ecSpkiDer(publicKey, curve),
      privateKeyPem: derToPem('PRIVATE KEY', ecPkcs8Der(privateKey, curve)),
    };
  }
  const { publicKey, privateKey } = await generateRsaPair(spec.bits);
  return {
    spec: { type: 'rsa', bits: spec.bits },
    privateKey,
    publicKey,
    publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }) as Buffer,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

export interface KeyDescription {
  /** `ec`, `rsa`, `ed25519`, ... (Node's asymmetricKeyType). */
  type: string;
  bits?: number;
  curve?: string;
}

/** Key type and size of a public or private key, e.g. `{ type: 'ec', bits: 256, curve: 'prime256v1' }`. */
export function describeKey(key: KeyObject): KeyDescription {
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const curve = details.namedCurve;
    const bits =
      curve === 'prime256v1' ? 256 : curve === 'secp384r1' ? 384 : curve === 'secp521r1' ? 521 : undefined;
    return { type, bits, curve };
  }
  if (type === 'rsa' || type === 'rsa-pss') return { type, bits: details.modulusLength };
  return { type };
}

/** SubjectPublicKeyInfo DER of a key; for a private key, of its public half. */
export function publicKeyDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' }) as Buffer;
}

/** True when both keys carry the same public key (a private key counts as its public half). */
export function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  return publicKeyDer(a).equals(publicKeyDer(b));
}
