/**
 * Private keys generated on the host (the key never travels; only the CSR goes to Vault).
 *
 * EC keys are generated synchronously (~40 µs for P-256 against ~170 µs through the thread pool); RSA keys
 * (tens to hundreds of ms) go through `generateKeyPair`, in libuv's thread pool, so several certificates' keys
 * are generated in parallel off the event loop. Both come out of the generation already DER-encoded (see
 * generateKey for why no key object of a generation is ever exported).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import type { KeySpec } from '../config/types.js';
import { ConfigError } from '../errors.js';
import {
  type Asn1,
  children,
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
  /** Made from the private key on first use (nothing on the boot path needs it). */
  readonly publicKey: KeyObject;
  /** SubjectPublicKeyInfo DER of the public key (what the CSR embeds). */
  publicKeyDer: Buffer;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). Secret: write it 0600, never log it. */
  privateKeyPem: string;
}

interface Curve {
  name: string;
  /** The JWK `crv`. */
  jwk: string;
  oid: string;
  /** Bytes per coordinate. */
  size: number;
}

const CURVES: Readonly<Record<number, Curve>> = {
  256: { name: 'prime256v1', jwk: 'P-256', oid: '1.2.840.10045.3.1.7', size: 32 },
  384: { name: 'secp384r1', jwk: 'P-384', oid: '1.3.132.0.34', size: 48 },
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

/**
 * RFC 5208 PKCS#8 around the SEC1 ECPrivateKey (its parsed elements), without the SEC1 [0] parameters (they sit in the
 * AlgorithmIdentifier), which is what OpenSSL and Go write too.
 */
function ecPkcs8Der(sec1Parts: readonly Asn1[], curve: Curve): Buffer {
  const parts = sec1Parts.filter((p) => !isContext(p, 0));
  const inner = encodeDer(seq(parts)).toString('binary');
  return encodeDer(seq([integer(0), ecAlgorithm(curve), octetString(inner)]));
}

function generateRsaPair(bits: number): Promise<{ spki: Buffer; pkcs8: Buffer }> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: bits,
        publicExponent: 0x10001,
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      },
      (error, spki, pkcs8) => (error ? reject(error) : resolve({ spki, pkcs8 })),
    );
  });
}

/**
 * A new key pair. Both halves come out of the generation already encoded (DER), and the KeyObjects are made
 * from those bytes: exporting from the key objects a generation returns can deadlock Node 20. The export holds
 * the key's mutex while it builds JS values; a garbage collection in the middle may finalise the generation job,
 * whose destructor takes the same mutex (seen in the 300-agent storm: the main thread parked in
 * `~KeyGenJob` under `ExportJWK`, about one agent in a thousand, the process hung until killed).
 */
export async function generateKey(spec: KeySpec): Promise<GeneratedKey> {
  assertSupportedKeySpec(spec);
  if (spec.type === 'ec') {
    const curve = CURVES[spec.bits]!;
    // SEC1 is the cheap encoding (OpenSSL 3's PKCS#8/SPKI encoders cost ~0.2 ms each here, and decoding PKCS#8
    // ~0.4 ms); PKCS#8 and the SPKI are assembled from it: the SEC1 key carries the public point in its [1].
    // Measured against the plain form (generateKeyPairSync with SPKI + PKCS#8 DER, key object from the PKCS#8;
    // bench/keys.ts), 2026-12-02 on the loaded 2-core machine: 2.0 against 6.0 ms per key in a row, and a
    // four-certificate bootstrap 6-8 ms less CPU (paired medians of 31 runs each way, bench/bootstrap-ab.ts).
    // Node takes a private-key encoding alone (the public half then stays a key object, never exported
    // here); its type declarations want both, hence the narrower signature.
    const generateEc = generateKeyPairSync as unknown as (
      type: 'ec',
      options: { namedCurve: string; privateKeyEncoding: { type: 'sec1'; format: 'der' } },
    ) => { privateKey: Buffer };
    const sec1 = generateEc('ec', {
      namedCurve: curve.name,
      privateKeyEncoding: { type: 'sec1', format: 'der' },
    }).privateKey;
    const parts = children(parseDer(sec1));
    const secret = parts[1]?.value;
    const bits = children(parts.find((p) => isContext(p, 1)))[0];
    const point = typeof bits?.value === 'string' ? Buffer.from(bits.value, 'binary') : undefined;
    // BIT STRING: no unused bits, then the uncompressed point 04 || x || y.
    if (
      !bits ||
      typeof secret !== 'string' ||
      point?.length !== 2 + 2 * curve.size ||
      point[0] !== 0 ||
      point[1] !== 4
    ) {
      throw new Error('the generated EC key has no uncompressed public key in its SEC1 form');
    }
    const spki = encodeDer(seq([ecAlgorithm(curve), bits]));
    const pkcs8 = ecPkcs8Der(parts, curve);
    // The key object comes from the JWK form: OpenSSL 3 decodes DER through its generic decoder chain
    // (~0.1 ms for SEC1, ~0.35 ms for PKCS#8 here) while Node builds a JWK key from its numbers directly.
    const privateKey = createPrivateKey({
      key: {
        kty: 'EC',
        crv: curve.jwk,
        d: Buffer.from(secret, 'binary').toString('base64url'),
        x: point.subarray(2, 2 + curve.size).toString('base64url'),
        y: point.subarray(2 + curve.size).toString('base64url'),
      },
      format: 'jwk',
    });
    return withPublicKey({
      spec: { type: spec.type, bits: spec.bits },
      privateKey,
      publicKeyDer: spki,
      privateKeyPem: derToPem('PRIVATE KEY', pkcs8),
    });
  }
  const { spki, pkcs8 } = await generateRsaPair(spec.bits);
  return withPublicKey({
    spec: { type: spec.type, bits: spec.bits },
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    publicKeyDer: spki,
    privateKeyPem: derToPem('PRIVATE KEY', pkcs8),
  });
}

function withPublicKey(key: Omit<GeneratedKey, 'publicKey'>): GeneratedKey {
  let publicKey: KeyObject | undefined;
  return Object.defineProperty(key, 'publicKey', {
    get: () => {
      publicKey ??= createPublicKey(key.privateKey);
      return publicKey;
    },
    enumerable: true,
  }) as GeneratedKey;
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
