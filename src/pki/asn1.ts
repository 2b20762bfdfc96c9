/**
 * The few node-forge ASN.1 helpers this folder uses, typed. forge is used only to encode/decode
 * DER here; signing and key handling stay in Node's crypto (OpenSSL).
 */
// Only forge's ASN.1 codec (with its util and oids helpers), not the whole library: the agent's bundle
// and start-up stay small. The import registers `asn1` on the shared forge object.
import type Forge from 'node-forge';
import forge from 'node-forge/lib/forge.js';
import 'node-forge/lib/asn1.js';

export const asn1 = forge.asn1;
export type Asn1 = Forge.asn1.Asn1;

const U = asn1.Class.UNIVERSAL;

// @types/node-forge declares the old `strict` boolean only; forge 1.x takes an options object.
// BIT STRINGs are not decoded as nested ASN.1 (public keys and signatures are opaque bytes here).
const decode = asn1.fromDer as unknown as (
  bytes: Forge.util.ByteStringBuffer,
  options: { strict?: boolean; decodeBitStrings?: boolean },
) => Asn1;

/** Parse DER (a Buffer, or a forge binary string). */
export function parseDer(bytes: Uint8Array | string): Asn1 {
  const binary = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('binary');
  return decode(forge.util.createBuffer(binary), { strict: true, decodeBitStrings: false });
}

export function encodeDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

export const seq = (items: Asn1[]): Asn1 => asn1.create(U, asn1.Type.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(U, asn1.Type.SET, true, items);
export const oid = (value: string): Asn1 =>
  asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
export const integer = (value: number): Asn1 =>
  asn1.create(U, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes());
export const octetString = (bytes: string): Asn1 => asn1.create(U, asn1.Type.OCTETSTRING, false, bytes);
/** BIT STRING with no unused bits around `bytes`. */
export const bitString = (bytes: Uint8Array): Asn1 =>
  asn1.create(U, asn1.Type.BITSTRING, false, `\x00${Buffer.from(bytes).toString('binary')}`);
export const utf8String = (text: string): Asn1 =>
  asn1.create(U, asn1.Type.UTF8, false, forge.util.encodeUtf8(text));
export const nullValue = (): Asn1 => asn1.create(U, asn1.Type.NULL, false, '');
/** [tag] IMPLICIT primitive context-specific value (GeneralName forms). */
export const contextPrimitive = (tag: number, bytes: string): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, bytes);
export const contextConstructed = (tag: number, items: Asn1[]): Asn1 =>
  asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, items);

export function isContext(node: Asn1 | undefined, tag: number): boolean {
  return node?.tagClass === asn1.Class.CONTEXT_SPECIFIC && node.type === tag;
}

export function readOid(node: Asn1): string {
  return asn1.derToOid(forge.util.createBuffer(node.value as string));
}

/** Children of a constructed node ([] for a primitive one). */
export function children(node: Asn1 | undefined): Asn1[] {
  return Array.isArray(node?.value) ? (node.value as Asn1[]) : [];
}
