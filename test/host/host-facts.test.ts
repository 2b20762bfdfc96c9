import { execFileSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  parseIpv4DefaultRoute,
  parseIpv6DefaultRoute,
  readHostFacts,
  resolveFqdn,
  selectPrimaryIpv4,
  selectPrimaryIpv6,
} from '../../src/host/host-facts.js';

const ROUTE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

const IPV6_ROUTE = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`;

const v4 = (address: string, netmask = '255.255.255.0') =>
  ({ address, netmask, family: 'IPv4', mac: '', internal: false, cidr: null }) as const;
const v6 = (address: string) =>
  ({
    address,
    netmask: 'ffff:ffff:ffff:ffff::',
    family: 'IPv6',
    mac: '',
    internal: false,
    cidr: null,
    scopeid: 0,
  }) as const;
const lo = [{ ...v4('127.0.0.1', '255.0.0.0'), internal: true }];

describe('default routes from /proc', () => {
  it('picks the IPv4 default route with the lowest metric and decodes its gateway', () => {
    expect(parseIpv4DefaultRoute(ROUTE)).toEqual({ iface: 'eth0', gateway: '192.0.2.1', metric: 100 });
  });
  it('has no IPv4 default route when there is none', () => {
    expect(
      parseIpv4DefaultRoute(
        ROUTE.split('\n')
          .filter((l) => !l.includes('\t00000000\t0'))
          .join('\n'),
      ),
    ).toBe(undefined);
    expect(parseIpv4DefaultRoute('')).toBe(undefined);
  });
  it('picks the IPv6 default route and skips the reject route on lo', () => {
    expect(parseIpv6DefaultRoute(IPV6_ROUTE)).toEqual({ iface: 'eth1', metric: 0x400 });
  });
});

describe('primary addresses', () => {
  const interfaces = {
    lo,
    eth0: [v4('10.9.9.9'), v4('192.0.2.2'), v6('fe80::1'), v6('fd00::2'), v6('2001:db8::2')],
    eth1: [v4('192.168.1.5'), v6('fe80::5')],
  };
  it('uses the address on the default route interface that shares the gateway subnet', () => {
    expect(selectPrimaryIpv4(interfaces, { iface: 'eth0', gateway: '192.0.2.1', metric: 0 })).toBe(
      '192.0.2.2',
    );
  });
  it('falls back to the first address of the route interface, then to any non-internal address', () => {
    expect(selectPrimaryIpv4(interfaces, { iface: 'eth0', metric: 0 })).toBe('10.9.9.9');
    expect(selectPrimaryIpv4(interfaces, undefined)).toBe('10.9.9.9');
    expect(selectPrimaryIpv4({ lo }, undefined)).toBe(undefined);
  });
  it('prefers a global IPv6 over ULA and never returns link-local', () => {
    expect(selectPrimaryIpv6(interfaces, ['eth0'])).toBe('2001:db8::2');
    expect(selectPrimaryIpv6({ eth0: [v6('fe80::1'), v6('fd00::2')] }, ['eth0'])).toBe('fd00::2');
    // eth1 has only link-local: look further instead of returning it
    expect(selectPrimaryIpv6(interfaces, ['eth1'])).toBe('2001:db8::2');
    expect(selectPrimaryIpv6({ eth1: [v6('fe80::5')] }, ['eth1'])).toBe(undefined);
  });
});

describe('readHostFacts on this machine', () => {
  it('agrees with hostname(1) and ip(8)', async () => {
    const facts = await readHostFacts();
    expect(facts.hostname).toBe(hostname());
    const fqdn = execFileSync('hostname', ['-f'], { encoding: 'utf8' }).trim();
    expect(facts.fqdn).toBe(fqdn);

    const route = execFileSync('ip', ['-4', 'route', 'get', '192.0.2.123'], { encoding: 'utf8' });
    const src = /\bsrc (\S+)/.exec(route)?.[1];
    if (src) expect(facts.ipv4).toBe(src);
    if (facts.ipv6) expect(facts.ipv6).not.toMatch(/^fe[89ab]/i);
  });

  it('finds the same IPv6 source address as the kernel for a global destination', async () => {
    let route = '';
    try {
      route = execFileSync('ip', ['-6', 'route', 'get', '2001:4860::1'], { encoding: 'utf8', stdio: 'pipe' });
    } catch {
      return; // no IPv6 default route on this machine: nothing to compare
    }
    const src = /\bsrc (\S+)/.exec(route)?.[1];
    if (src) expect((await readHostFacts()).ipv6).toBe(src);
  });
});

describe('resolveFqdn', () => {
  it('keeps a name that is already qualified', async () => {
    expect(await resolveFqdn('node-1.example.internal')).toBe('node-1.example.internal');
  });
  it('never turns a host into a different name from a reverse lookup (127.0.0.1 -> localhost)', async () => {
    // localhost resolves to 127.0.0.1 whose reverse is "localhost" itself, not a qualified form of it
    expect(await resolveFqdn('localhost')).toBe('localhost');
  });
  it('falls back to the hostname when it does not resolve', async () => {
    expect(await resolveFqdn('vpa-no-such-host-4f1c', 200)).toBe('vpa-no-such-host-4f1c');
  });
});
