import { describe, expect, it } from 'vitest';
import { complementCidrs, isCidr } from '../../src/provision/cidr.js';

/** Whether an IPv4 address lies in an IPv4 CIDR (a second, independent implementation for the test). */
function inV4(address: string, cidr: string): boolean {
  const [base = '', bits = '0'] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(address) / size) === Math.floor(n(base) / size);
}

describe('CIDRs for role IP bounds', () => {
  it('accepts ranges only: host bits zero, no IPv4-mapped IPv6', () => {
    for (const ok of ['10.96.0.0/12', '0.0.0.0/0', '10.1.2.3/32', 'fd00:10:96::/108', '::/0']) {
      expect(isCidr(ok), ok).toBe(true);
    }
    for (const bad of [
      '10.96.0.1/12',
      '10.96.0.0',
      '10.96.0.0/33',
      'x/8',
      '::ffff:10.0.0.0/104',
      ' 10.0.0.0/8',
    ]) {
      expect(isCidr(bad), bad).toBe(false);
    }
  });

  it('the complement of the service CIDR holds every other IPv4 address and all of IPv6', () => {
    const outside = complementCidrs('10.96.0.0/12');
    expect(outside).toHaveLength(13);
    expect(outside.at(-1)).toBe('::/0');
    const v4 = outside.slice(0, -1);
    for (const address of ['10.96.0.1', '10.111.255.255', '10.96.0.0']) {
      expect(
        v4.filter((c) => inV4(address, c)),
        address,
      ).toEqual([]);
    }
    for (const address of [
      '10.95.255.255',
      '10.112.0.0',
      '10.1.0.5',
      '0.0.0.0',
      '255.255.255.255',
      '192.0.2.2',
    ]) {
      expect(
        v4.filter((c) => inV4(address, c)),
        address,
      ).toHaveLength(1);
    }
  });

  it('an IPv6 service CIDR: its complement in IPv6 plus all of IPv4', () => {
    const outside = complementCidrs('fd00:10:96::/108');
    expect(outside).toHaveLength(109);
    expect(outside.slice(0, 3)).toEqual(['::/1', '8000::/2', 'c000::/3']);
    expect(outside.at(-2)).toBe('fd00:10:96::10:0/108');
    expect(outside.at(-1)).toBe('0.0.0.0/0');
  });
});
