/**
 * Chain building: from a leaf, follow issuers (name match + signature) through a pool of
 * intermediates until a trusted anchor signed the last one. Pure: certificates in, path out.
 */
import type { X509Certificate } from 'node:crypto';

const MAX_DEPTH = 8;

// Answers of isIssuedBy per pair: assembling a set orders its CAs and verifying it builds the chain, with
// the same (shared, see pem.ts) certificate objects; a signature check is the costly part of both.
const issuedBy = new WeakMap<X509Certificate, WeakMap<X509Certificate, boolean>>();

/** `parent` signed `child`: issuer/subject names (and key ids) match and the signature verifies. */
export function isIssuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  let known = issuedBy.get(child);
  const cached = known?.get(parent);
  if (cached !== undefined) return cached;
  let answer: boolean;
  try {
    answer = child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    // An algorithm OpenSSL cannot verify with this key type is simply "not issued by".
    answer = false;
  }
  if (!known) {
    known = new WeakMap();
    issuedBy.set(child, known);
  }
  known.set(parent, answer);
  return answer;
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return isIssuedBy(cert, cert);
}

export type ChainResult =
  | { ok: true /** leaf's issuers in order, ending with the anchor */; path: X509Certificate[] }
  | { ok: false /** the last certificate reached whose issuer was not found */; stuckAt: X509Certificate };

/**
 * Path from `leaf` up to one of `anchors`, using `pool` for intermediates. An anchor need not be
 * self-signed: the mount's CA may itself be an intermediate, and trusting it is the point.
 */
export function buildChain(
  leaf: X509Certificate,
  anchors: readonly X509Certificate[],
  pool: readonly X509Certificate[] = [],
): ChainResult {
  const path: X509Certificate[] = [];
  const used = new Set<string>([leaf.fingerprint256]);
  let current = leaf;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const anchor = anchors.find((a) => isIssuedBy(current, a));
    if (anchor) {
      // The leaf equal to an anchor (a self-signed CA checked against itself) is not a chain.
      if (anchor.fingerprint256 === leaf.fingerprint256) return { ok: false, stuckAt: current };
      return { ok: true, path: [...path, anchor] };
    }
    const next = pool.find((c) => !used.has(c.fingerprint256) && isIssuedBy(current, c));
    if (!next) return { ok: false, stuckAt: current };
    used.add(next.fingerprint256);
    path.push(next);
    current = next;
  }
  return { ok: false, stuckAt: current };
}

/** Short name of a certificate for messages: its CN, else its whole subject. */
export function certificateLabel(cert: X509Certificate): string {
  // An empty subject (the etcd-grpc-proxy certificate) is undefined in Node.
  const subject = cert.subject ?? '';
  const cn = subject.split('\n').find((l) => l.startsWith('CN='));
  return cn ? cn.slice(3) : subject.replace(/\n/g, ', ') || '(empty subject)';
}

/** Certificates without duplicates (same fingerprint), first occurrence kept. */
export function uniqueCertificates(certs: readonly X509Certificate[]): X509Certificate[] {
  const seen = new Set<string>();
  return certs.filter((c) => {
    if (seen.has(c.fingerprint256)) return false;
    seen.add(c.fingerprint256);
    return true;
  });
}
