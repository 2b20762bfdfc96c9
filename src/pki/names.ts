/**
 * Comparing the names a certificate carries with the names a spec asks for. DNS names compare
 * case-insensitively (RFC 4343), IP addresses by value (`::1` equals `0:0:0:0:0:0:0:1`).
 */

import { normalizeIpAddress } from '../util/ip.js';
import type { CertificateInfo } from './inspect.js';

export interface RequestedNames {
  commonName: string;
  dnsSans: readonly string[];
  ipSans: readonly string[];
}

const dnsKey = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');
const ipKey = (ip: string): string => normalizeIpAddress(ip) ?? ip.trim().toLowerCase();

/** Requested SANs the certificate does not carry, in request order (IPs in canonical form). */
function findMissingSans(
  cert: Pick<CertificateInfo, 'dnsSans' | 'ipSans'>,
  requested: Pick<RequestedNames, 'dnsSans' | 'ipSans'>,
): { dns: string[]; ip: string[] } {
  const haveDns = new Set(cert.dnsSans.map(dnsKey));
  const haveIp = new Set(cert.ipSans.map(ipKey));
  return {
    dns: requested.dnsSans.filter((d) => !haveDns.has(dnsKey(d))),
    ip: requested.ipSans.map(ipKey).filter((i) => !haveIp.has(i)),
  };
}

/**
 * SANs that differ between certificate and request, as sets (order and duplicates ignored).
 * Vault copies a hostname-shaped CN into the DNS SANs unless `exclude_cn_from_sans` is set, so a
 * certificate SAN equal to the CN is not "extra" even when the request did not list it; without
 * this rule every such certificate would be re-issued on every pass.
 */
export function diffSans(
  cert: Pick<CertificateInfo, 'dnsSans' | 'ipSans'>,
  requested: RequestedNames,
): { missing: string[]; extra: string[] } {
  const missing = findMissingSans(cert, requested);
  const wantDns = new Set(requested.dnsSans.map(dnsKey));
  const wantIp = new Set(requested.ipSans.map(ipKey));
  const cn = dnsKey(requested.commonName);
  const extraDns = cert.dnsSans.filter((d) => !wantDns.has(dnsKey(d)) && dnsKey(d) !== cn);
  const cnIp = normalizeIpAddress(requested.commonName);
  const extraIp = cert.ipSans.filter((i) => !wantIp.has(ipKey(i)) && ipKey(i) !== cnIp);
  return {
    missing: [...missing.dns, ...missing.ip],
    extra: [...new Set([...extraDns, ...extraIp])],
  };
}
