/**
 * Host facts for `${host.*}` variables, read without spawning anything: the hostname from the kernel,
 * the FQDN the way `hostname -f` finds it (resolver + reverse lookup, bounded by a short timeout), and
 * the primary addresses as the source addresses of the default routes (/proc/net/route, ipv6_route).
 */
import { type NetworkInterfaceInfo, networkInterfaces, hostname as osHostname } from 'node:os';
import { readFile } from '../files/local-fs.js';
import type { HostFacts } from '../types/host-facts.js';

export interface ReadHostFactsOptions {
  /** Upper bound for the FQDN lookups; on timeout the hostname is used. */
  fqdnTimeoutMs?: number;
  /** For tests: where the kernel routing tables are read from. */
  procNetDir?: string;
  /** Resolve the FQDN (DNS lookups, up to fqdnTimeoutMs); false: `fqdn` is the hostname. Default true. */
  fqdn?: boolean;
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

export interface DefaultRoute {
  iface: string;
  /** IPv4 gateway in dotted form, when the route has one. */
  gateway?: string;
  metric: number;
}

/** `/proc/net/route` stores addresses as little-endian hex: 010200C0 = 192.0.2.1. */
function hexToIpv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

/** The IPv4 default route with the lowest metric, from the text of `/proc/net/route`. */
export function parseIpv4DefaultRoute(text: string): DefaultRoute | undefined {
  let best: DefaultRoute | undefined;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface = '', dest, gw = '', flags = '', , , metric, mask] = f;
    const up = (Number.parseInt(flags, 16) & 0x1) !== 0;
    if (!up || dest !== '00000000' || mask !== '00000000') continue;
    const route: DefaultRoute = { iface, metric: Number(metric) };
    if (gw !== '00000000') route.gateway = hexToIpv4(gw);
    if (!best || route.metric < best.metric) best = route;
  }
  return best;
}

/** The IPv6 default route with the lowest metric, from the text of `/proc/net/ipv6_route` (reject routes skipped). */
export function parseIpv6DefaultRoute(text: string): DefaultRoute | undefined {
  const RTF_UP = 0x1;
  const RTF_REJECT = 0x200;
  let best: DefaultRoute | undefined;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest = '', plen, , , , metric = '', , , flags = '', iface = ''] = f;
    const fl = Number.parseInt(flags, 16);
    if (!/^0+$/.test(dest) || plen !== '00' || (fl & RTF_UP) === 0 || (fl & RTF_REJECT) !== 0) continue;
    const route: DefaultRoute = { iface, metric: Number.parseInt(metric, 16) };
    if (!best || route.metric < best.metric) best = route;
  }
  return best;
}

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

/**
 * The address the kernel would use as source on the default route: on the route's interface, the
 * address whose subnet holds the gateway (the kernel's preference), else its first IPv4. Without a
 * usable route: the first non-internal IPv4 of any interface.
 */
export function selectPrimaryIpv4(
  interfaces: Interfaces,
  route: DefaultRoute | undefined,
): string | undefined {
  const candidates = (list: NetworkInterfaceInfo[] | undefined) =>
    (list ?? []).filter((a) => a.family === 'IPv4' && !a.internal);
  if (route) {
    const own = candidates(interfaces[route.iface]);
    const gateway = route.gateway;
    if (gateway) {
      const gw = ipv4ToNumber(gateway);
      const onLink = own.find((a) => {
        const mask = ipv4ToNumber(a.netmask);
        return (ipv4ToNumber(a.address) & mask) === (gw & mask);
      });
      if (onLink) return onLink.address;
    }
    if (own[0]) return own[0].address;
  }
  for (const list of Object.values(interfaces)) {
    const first = candidates(list)[0];
    if (first) return first.address;
  }
  return undefined;
}

function ipv6Rank(address: string): number {
  const head = address.toLowerCase();
  if (/^fe[89ab]/.test(head)) return -1; // link-local: never a primary address
  if (/^f[cd]/.test(head)) return 1; // unique local: only when no global address exists
  return 0;
}

/**
 * First global IPv6 (not link-local; unique-local only if nothing better) on the default route's
 * interface, then on any interface.
 */
export function selectPrimaryIpv6(
  interfaces: Interfaces,
  ifaceOrder: (string | undefined)[],
): string | undefined {
  const usable = (list: NetworkInterfaceInfo[] | undefined) =>
    (list ?? []).filter((a) => a.family === 'IPv6' && !a.internal && ipv6Rank(a.address) >= 0);
  const pick = (list: NetworkInterfaceInfo[]) => list.find((a) => ipv6Rank(a.address) === 0) ?? list[0];
  for (const name of ifaceOrder) {
    if (!name) continue;
    const found = pick(usable(interfaces[name]));
    if (found) return found.address;
  }
  const all = Object.values(interfaces).flatMap((list) => usable(list));
  return pick(all)?.address;
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

/**
 * Like `hostname -f`: resolve the hostname, then reverse-resolve its addresses; a name counts only if
 * it qualifies the hostname (`host.` prefix), so that `127.0.0.1 localhost` in /etc/hosts cannot turn
 * the FQDN into "localhost".
 */
export async function resolveFqdn(hostname: string, timeoutMs = 500): Promise<string> {
  if (hostname.includes('.')) return hostname;
  const found = await withTimeout(
    (async () => {
      // Loaded here: only a config that uses ${host.fqdn} resolves it.
      const { lookup, lookupService } = await import('node:dns/promises');
      const addresses = await lookup(hostname, { all: true });
      const names = await Promise.all(
        addresses.map((a) =>
          lookupService(a.address, 0).then(
            (r) => r.hostname,
            () => undefined,
          ),
        ),
      );
      return names.find((n) => n?.toLowerCase().startsWith(`${hostname.toLowerCase()}.`));
    })(),
    timeoutMs,
  );
  return found ?? hostname;
}

export async function readHostFacts(options: ReadHostFactsOptions = {}): Promise<HostFacts> {
  const procNet = options.procNetDir ?? '/proc/net';
  const hostname = osHostname();
  const [routeText, route6Text, fqdn] = await Promise.all([
    readOptional(`${procNet}/route`),
    readOptional(`${procNet}/ipv6_route`),
    options.fqdn === false ? hostname : resolveFqdn(hostname, options.fqdnTimeoutMs),
  ]);
  const interfaces = networkInterfaces();
  const route4 = parseIpv4DefaultRoute(routeText);
  const route6 = parseIpv6DefaultRoute(route6Text);
  const facts: HostFacts = { hostname, fqdn };
  const ipv4 = selectPrimaryIpv4(interfaces, route4);
  const ipv6 = selectPrimaryIpv6(interfaces, [route6?.iface, route4?.iface]);
  if (ipv4) facts.ipv4 = ipv4;
  if (ipv6) facts.ipv6 = ipv6;
  return facts;
}
