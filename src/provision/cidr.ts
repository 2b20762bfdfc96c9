/**
 * CIDR arithmetic for role IP bounds (OpenBao's `allowed_ip_sans_cidr` is an allow-list): the
 * complement of a range, so that a role may carry any address but those of the service CIDR.
 */
import { isIP } from 'node:net';

interface Prefix {
  family: 4 | 6;
  bits: bigint;
  length: number;
}

function parseAddress(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  const [head = '', tail] = address.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

function formatAddress(bits: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((bits >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((bits >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Longest run of zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLength).join(':')}`;
}

function parseCidr(value: string): Prefix | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!m) return undefined;
  const family = isIP(m[1] as string);
  if (family !== 4 && family !== 6) return undefined;
  if (family === 6 && m[1]?.includes('.')) return undefined; // IPv4-mapped forms: write the IPv4 range
  const length = Number(m[2]);
  const width = family === 4 ? 32 : 128;
  if (length > width) return undefined;
  let bits: bigint;
  try {
    bits = parseAddress(m[1] as string, family);
  } catch {
    return undefined; // e.g. an IPv4-mapped IPv6 form (::ffff:1.2.3.4)
  }
  // Host bits must be zero: 10.96.0.1/12 is a typo for an address or a range, not a range.
  const hostMask = (1n << BigInt(width - length)) - 1n;
  if ((bits & hostMask) !== 0n) return undefined;
  return { family, bits, length };
}

export function isCidr(value: string): boolean {
  return parseCidr(value) !== undefined;
}

/**
 * Every address of both families except those in `cidr`, as the fewest CIDRs: for each leading bit of
 * the prefix, the sibling range that differs in exactly that bit (10.96.0.0/12 -> 12 IPv4 ranges plus ::/0).
 */
export function complementCidrs(cidr: string): string[] {
  const p = parseCidr(cidr);
  if (!p) throw new Error(`not a CIDR: ${cidr}`);
  const width = p.family === 4 ? 32 : 128;
  const out: string[] = [];
  for (let i = 0; i < p.length; i++) {
    const bit = 1n << BigInt(width - 1 - i);
    // The first i+1 bits of the prefix with bit i flipped.
    const keep = ~(bit - 1n) & ((1n << BigInt(width)) - 1n);
    out.push(`${formatAddress((p.bits & keep) ^ bit, p.family)}/${i + 1}`);
  }
  out.push(p.family === 4 ? '::/0' : '0.0.0.0/0');
  return out;
}
