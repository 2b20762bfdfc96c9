/**
 * Small pure predicates and normalisers for config values (paths, names, addresses, modes).
 * Exported because `plan/` and `pki/` compare what a certificate carries with what the config
 * asked for, and both sides must normalise the same way.
 */
import { posix } from 'node:path';
import { normalizeIpAddress } from '../util/ip.js';

/** Canonical text of an IP address (IPv6 compressed, lower case); undefined when it is not an IP. */
export function normaliseIp(value: string): string | undefined {
  // Exactly an address: no blanks or brackets around it. util/ip.ts refuses zone ids (fe80::1%eth0), which
  // cannot appear in a certificate, and leading zeros in IPv4 parts.
  if (value !== value.trim() || value.startsWith('[')) return undefined;
  return normalizeIpAddress(value);
}

/**
 * What is wrong with a Vault address, if anything: not a URL, not http(s), or user:password in it (the
 * address is named in every error about Vault, so credentials there would reach logs).
 */
export function vaultAddressProblem(value: string): 'not-a-url' | 'scheme' | 'credentials' | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not-a-url';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'scheme';
  if (url.username !== '' || url.password !== '') return 'credentials';
  return undefined;
}

export function isIpAddress(value: string): boolean {
  return normaliseIp(value) !== undefined;
}

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

/** A DNS name usable as a SAN: hostname labels, an optional leading `*.` wildcard, at most 253 chars. */
export function isDnsName(value: string): boolean {
  return value.length <= 253 && DNS_NAME.test(value);
}

/** Absolute, without NUL; `..` segments are refused so the effective path is the written one. */
export function checkAbsolutePath(value: string): string | undefined {
  if (!value.startsWith('/')) return 'must be an absolute path';
  if (value.includes('\0')) return 'must not contain NUL';
  if (value.split('/').includes('..')) return 'must not contain ".." segments';
  return undefined;
}

/** `/a//b/` -> `/a/b`, so that two spellings of one directory compare equal. */
export function normalisePath(value: string): string {
  const normal = posix.normalize(value);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** Parses "0644", "644", "0o644" as octal permission bits (0..0o7777). */
export function parseOctalMode(value: string): number | undefined {
  const match = /^(?:0o|0)?([0-7]{3,4})$/.exec(value.trim());
  if (!match) return undefined;
  return Number.parseInt(match[1] as string, 8);
}

/** "2/3", "0.75", "75%", or a number, strictly between 0 and 1. */
export function parseFraction(value: string | number): number | undefined {
  let result: number;
  if (typeof value === 'number') {
    result = value;
  } else {
    const text = value.trim();
    const ratio = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(text);
    const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(text);
    if (ratio) result = Number(ratio[1]) / Number(ratio[2]);
    else if (percent) result = Number(percent[1]) / 100;
    else if (/^\d*\.\d+$/.test(text)) result = Number(text);
    else return undefined;
  }
  return Number.isFinite(result) && result > 0 && result < 1 ? result : undefined;
}

/** systemd unit names; a leading '-' would be read by systemctl as an option. */
export function isUnitName(value: string): boolean {
  return value.length <= 255 && /^[A-Za-z0-9:_.\\@][A-Za-z0-9:_.\\@-]*$/.test(value);
}

/** A plain file name inside the set directory; `..`-prefixed names belong to the atomic writer. */
export function isSetFileName(value: string): boolean {
  return /^[A-Za-z0-9._-]+$/.test(value) && value !== '.' && !value.startsWith('..') && value.length <= 255;
}

/** User or group: a name (useradd's rules, loosely) or a numeric id. */
export function isAccountName(value: string): boolean {
  return /^(?:\d+|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$/.test(value);
}

/** `host:port` or `[v6]:port` for a TLS health check. */
export function checkHostPort(value: string): string | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!match) return 'must be host:port (IPv6 as [addr]:port)';
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return 'port must be 1-65535';
  if (match[1] !== undefined)
    return match[1].includes(':') && isIpAddress(match[1])
      ? undefined
      : 'brackets are only for IPv6 addresses';
  const host = match[2] as string;
  return isIpAddress(host) || isDnsName(host) ? undefined : 'host must be a DNS name or an IP address';
}

/** Vault mount path: segments of [A-Za-z0-9._-], no leading/trailing slash. */
export function isMountPath(value: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/.test(value);
}

/** Vault role names. */
export function isRoleName(value: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(value);
}
