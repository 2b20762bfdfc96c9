/**
 * PEM text -> Node crypto objects, with typed errors instead of crashes. Error messages name what
 * was being parsed and why it failed, never the content (a key PEM must not reach a log line).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { WriteError } from '../errors.js';

// Sticky: matched only where indexOf found a marker, so scanning stays linear in the text length
// (a global /BEGIN[\s\S]*?END/ regex rescans the rest of the text from every BEGIN: minutes on 2 MB).
const BEGIN_LINE = /-----BEGIN ([A-Z0-9 ]+)-----/y;
const END_LINE = /-----END ([A-Z0-9 ]+)-----/y;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

/** A certificate, key or bundle that cannot be used. `what` names the input, e.g. `etcd-peer cert.pem`. */
export function malformedInput(what: string, reason: string, cause?: unknown): WriteError {
  return new WriteError('verification-failed', `${what}: ${reason}`, {
    cause,
    details: { input: what },
  });
}

// The same CA arrives in every answer of a mount and is read again from every set's ca.pem, and a leaf is
// parsed once assembling and once verifying: parsed objects are kept by their base64 (an X509Certificate
// is immutable and holds public data only). Bounded, oldest dropped first.
const parsed = new Map<string, X509Certificate>();
const PARSED_MAX = 64;

function certificateOf(base64: string): X509Certificate {
  let cert = parsed.get(base64);
  if (cert === undefined) {
    cert = new X509Certificate(Buffer.from(base64, 'base64'));
    if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
    parsed.set(base64, cert);
  }
  return cert;
}

/**
 * Every certificate in a PEM bundle, in order. Text outside the blocks (openssl's `subject=` lines)
 * is ignored; a block of another type (a key in a certificate bundle), a truncated block or bytes
 * that are not a certificate are errors.
 */
export function parseCertificates(text: string, what: string): X509Certificate[] {
  if (typeof text !== 'string' || text.trim() === '') throw malformedInput(what, 'empty');
  const certs: X509Certificate[] = [];
  for (const { begin, body, end } of pemBlocks(text, what)) {
    if (begin !== end) throw malformedInput(what, `PEM block BEGIN ${begin} ends with END ${end}`);
    if (begin !== 'CERTIFICATE')
      throw malformedInput(what, `unexpected PEM block "${begin}" (expected CERTIFICATE)`);
    if (!BASE64.test(body))
      throw malformedInput(what, `certificate #${certs.length + 1} is not valid base64`);
    try {
      certs.push(certificateOf(body.replace(/\s+/g, '')));
    } catch (error) {
      throw malformedInput(what, `certificate #${certs.length + 1} cannot be parsed`, error);
    }
  }
  if (certs.length === 0) throw malformedInput(what, 'no PEM certificate found');
  return certs;
}

/**
 * The PEM blocks of a text in order: each BEGIN line up to the first END line after it. A BEGIN
 * without an END after it is a truncated block; a malformed BEGIN line is skipped like other text.
 */
function* pemBlocks(text: string, what: string): Generator<{ begin: string; body: string; end: string }> {
  let pos = 0;
  let consumed = 0;
  for (;;) {
    const start = text.indexOf('-----BEGIN ', pos);
    if (start < 0) break;
    BEGIN_LINE.lastIndex = start;
    const begin = BEGIN_LINE.exec(text);
    if (!begin) {
      pos = start + 1;
      continue;
    }
    let search = BEGIN_LINE.lastIndex;
    let end: RegExpExecArray | null = null;
    let endAt = -1;
    while (!end) {
      endAt = text.indexOf('-----END ', search);
      if (endAt < 0) throw malformedInput(what, 'truncated PEM block');
      END_LINE.lastIndex = endAt;
      end = END_LINE.exec(text);
      search = endAt + 1;
    }
    yield { begin: begin[1] as string, body: text.slice(BEGIN_LINE.lastIndex, endAt), end: end[1] as string };
    pos = END_LINE.lastIndex;
    consumed = pos;
  }
  // A BEGIN marker after the last complete block (even a malformed one) is a cut-off bundle.
  if (text.indexOf('-----BEGIN', consumed) >= 0) throw malformedInput(what, 'truncated PEM block');
}

/** The certificates of a bundle as canonical PEM strings (64-column base64, `\n` line ends). */
export function splitPemBundle(text: string, what: string): string[] {
  return parseCertificates(text, what).map((c) => c.toString());
}

/** Canonical PEM for a list of certificates (each ends with a newline). */
/** PEM text of DER bytes: base64 in 64-column lines between BEGIN/END `label`. */
export function derToPem(label: string, der: Uint8Array): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export function joinPem(certs: readonly (X509Certificate | string)[]): string {
  return certs.map((c) => (typeof c === 'string' ? c : c.toString()).trimEnd() + '\n').join('');
}

/** A private key in PKCS#8, PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM. */
export function parsePrivateKey(text: string, what: string): KeyObject {
  if (typeof text !== 'string' || text.trim() === '') throw malformedInput(what, 'empty');
  const m = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----/.exec(text);
  if (!m) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text))
      throw malformedInput(what, 'the private key is encrypted');
    throw malformedInput(what, 'no PEM private key found');
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    // Node's message names the decoder failure, not the key material.
    throw malformedInput(what, `private key cannot be parsed (${(error as Error).message})`);
  }
}

/** PKCS#8 PEM (`PRIVATE KEY`) for a private key, whatever form it came in. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}
