import { describe, expect, it } from 'vitest';
import { cidrContains, parseCidr, parseIpAddress } from './ip-address.js';

const bytes = (text: string) => Array.from(parseIpAddress(text)?.bytes ?? []);

describe('parseIpAddress', () => {
  it('reads dotted-quad IPv4 as 4 bytes', () => {
    expect(parseIpAddress('192.168.1.254')).toEqual({ family: 4, bytes: Uint8Array.from([192, 168, 1, 254]) });
  });

  it('reads IPv6 in every valid form as 16 bytes', () => {
    const loopback = [...Array<number>(15).fill(0), 1];
    expect(bytes('::1')).toEqual(loopback);
    expect(bytes('0:0:0:0:0:0:0:1')).toEqual(loopback);
    expect(bytes('::')).toEqual(Array<number>(16).fill(0));
    expect(bytes('fe80::')).toEqual([0xfe, 0x80, ...Array<number>(14).fill(0)]);
    expect(bytes('2001:db8::ff00:42:8329')).toEqual([
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29,
    ]);
    expect(bytes('FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toEqual(Array<number>(16).fill(0xff));
  });

  it('reads a dotted IPv4 tail as the same bytes as its hex form', () => {
    expect(bytes('::ffff:127.0.0.1')).toEqual(bytes('::ffff:7f00:1'));
    expect(bytes('64:ff9b::10.0.0.1')).toEqual(bytes('64:ff9b::a00:1'));
  });

  it('ignores a zone id, which names an interface and not an address', () => {
    expect(parseIpAddress('fe80::1%eth0')).toEqual(parseIpAddress('fe80::1'));
    expect(parseIpAddress('::1%lo')).toEqual(parseIpAddress('::1'));
  });

  it('takes nothing but canonical addresses', () => {
    for (const text of [
      '',
      'localhost',
      '127.1',
      '0177.0.0.1',
      '0x7f.0.0.1',
      '2130706433',
      '256.0.0.1',
      '1::2::3',
      '[::1]',
    ]) {
      expect(parseIpAddress(text), text).toBeUndefined();
    }
  });
});

describe('parseCidr', () => {
  it('reads IPv4 and IPv6 ranges', () => {
    expect(parseCidr('10.0.0.0/8')).toMatchObject({ family: 4, prefixLength: 8 });
    expect(parseCidr(' ::1/128 ')).toMatchObject({ family: 6, prefixLength: 128 });
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ family: 4, prefixLength: 0 });
  });

  it.each([
    ['10.0.0.0', "'10.0.0.0' is not a valid CIDR range: expected address/prefix-length."],
    ['10.0.0.0/33', "'10.0.0.0/33' is not a valid CIDR range: the prefix length must be 0 to 32."],
    ['::/129', "'::/129' is not a valid CIDR range: the prefix length must be 0 to 128."],
    ['10.0.0.1/8', "'10.0.0.1/8' is not a valid CIDR range: the address has bits set beyond the first 8."],
    ['fd00::1/64', "'fd00::1/64' is not a valid CIDR range: the address has bits set beyond the first 64."],
    ['fe80::%eth0/64', "'fe80::%eth0/64' is not a valid CIDR range: a zone id is not allowed."],
    ['example.com/8', "'example.com/8' is not a valid CIDR range: 'example.com' is not an IPv4 or IPv6 address."],
    ['10.0.0.0/-1', "'10.0.0.0/-1' is not a valid CIDR range: expected address/prefix-length."],
  ])('refuses %s, saying why', (text, message) => {
    expect(() => parseCidr(text)).toThrow(message);
  });
});

describe('cidrContains', () => {
  it('holds exactly the addresses sharing the prefix', () => {
    const range = parseCidr('172.16.0.0/12');
    const contains = (text: string) => cidrContains(range, parseIpAddress(text)!);
    expect([
      contains('172.15.255.255'),
      contains('172.16.0.0'),
      contains('172.31.255.255'),
      contains('172.32.0.0'),
    ]).toEqual([false, true, true, false]);
  });

  it('matches prefixes that end inside a byte', () => {
    const range = parseCidr('fe80::/10');
    expect(cidrContains(range, parseIpAddress('febf:ffff::')!)).toBe(true);
    expect(cidrContains(range, parseIpAddress('fec0::')!)).toBe(false);
  });

  it('never translates between families: an IPv4-mapped address is not in an IPv4 range', () => {
    expect(cidrContains(parseCidr('127.0.0.0/8'), parseIpAddress('::ffff:127.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('::ffff:0:0/96'), parseIpAddress('127.0.0.1')!)).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), parseIpAddress('::1')!)).toBe(false);
  });
});
