import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpAddress, normalizeIpAddress, parseIpAddress } from '../../src/util/ip.js';

describe('IP address normalisation', () => {
  it.each([
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['[::1]', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['::10.0.0.1', '::a00:1'],
    ['10.96.0.1', '10.96.0.1'],
    [' 127.0.0.1 ', '127.0.0.1'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeIpAddress(input)).toBe(expected);
  });

  it.each([
    '',
    'localhost',
    '1.2.3',
    '1.2.3.256',
    '01.2.3.4',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    '::g',
  ])('rejects %j', (input) => {
    expect(parseIpAddress(input)).toBeUndefined();
  });

  it('formats every IPv6 address like the WHATWG URL serializer (RFC 5952 compression) and parses it back', () => {
    // Bias towards zero groups so that compression runs are exercised.
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const bytes = new Uint8Array(16);
        groups.forEach((g, i) => {
          bytes[i * 2] = g >> 8;
          bytes[i * 2 + 1] = g & 0xff;
        });
        const text = formatIpAddress(bytes)!;
        expect(text).toBe(
          new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1),
        );
        expect(Array.from(parseIpAddress(text)!)).toEqual(Array.from(bytes));
      }),
      { numRuns: 500 },
    );
  });
});
