import { describe, expect, it } from 'vitest';
import { AddressPolicy, REFUSED_RANGES } from './address-policy.js';

const policy = new AddressPolicy();

/** Each refused range: its first and last address, and its public neighbours (null where none exists). */
const EDGES: [range: string, below: string | null, first: string, last: string, above: string | null][] = [
  ['0.0.0.0/8', null, '0.0.0.0', '0.255.255.255', '1.0.0.0'],
  ['10.0.0.0/8', '9.255.255.255', '10.0.0.0', '10.255.255.255', '11.0.0.0'],
  ['100.64.0.0/10', '100.63.255.255', '100.64.0.0', '100.127.255.255', '100.128.0.0'],
  ['127.0.0.0/8', '126.255.255.255', '127.0.0.0', '127.255.255.255', '128.0.0.0'],
  ['169.254.0.0/16', '169.253.255.255', '169.254.0.0', '169.254.255.255', '169.255.0.0'],
  ['172.16.0.0/12', '172.15.255.255', '172.16.0.0', '172.31.255.255', '172.32.0.0'],
  ['192.0.0.0/24', '191.255.255.255', '192.0.0.0', '192.0.0.255', '192.0.1.0'],
  ['192.168.0.0/16', '192.167.255.255', '192.168.0.0', '192.168.255.255', '192.169.0.0'],
  ['198.18.0.0/15', '198.17.255.255', '198.18.0.0', '198.19.255.255', '198.20.0.0'],
  ['224.0.0.0/4', '223.255.255.255', '224.0.0.0', '239.255.255.255', null],
  ['240.0.0.0/4', null, '240.0.0.0', '255.255.255.255', null],
  ['::/128', null, '::', '::', null],
  ['::1/128', null, '::1', '::1', '::2'],
  [
    'fc00::/7',
    'fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fc00::',
    'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fe00::',
  ],
  [
    'fe80::/10',
    'fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fe80::',
    'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fec0::',
  ],
  ['ff00::/8', 'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ff00::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', null],
];

describe('AddressPolicy.classify', () => {
  it('covers every refused range of the contract, and no other', () => {
    expect(EDGES.map(([range]) => range)).toEqual(REFUSED_RANGES);
  });

  it.each(EDGES)(
    'refuses %s from its first to its last address; its neighbours are public',
    (_, below, first, last, above) => {
      expect(policy.classify(first)).toBe('refused');
      expect(policy.classify(last)).toBe('refused');
      if (below) expect(policy.classify(below)).toBe('public');
      if (above) expect(policy.classify(above)).toBe('public');
    },
  );

  it('takes public addresses of both families', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '2001:4860:4860::8888', '2606:4700:4700::1111']) {
      expect(policy.classify(address), address).toBe('public');
    }
  });

  it('refuses a refused IPv4 address inside IPv4-mapped or NAT64 IPv6, in dotted and hex forms', () => {
    for (const address of [
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.1.2.3',
      '::ffff:a9fe:a9fe',
      '::ffff:0.0.0.0',
      '0:0:0:0:0:ffff:c0a8:0101',
      '64:ff9b::7f00:1',
      '64:ff9b::127.0.0.1',
      '64:ff9b::169.254.169.254',
      '64:ff9b::ac10:1',
    ]) {
      expect(policy.classify(address), address).toBe('refused');
    }
  });

  it('takes a public IPv4 address inside IPv4-mapped or NAT64 IPv6, and neighbours of those prefixes', () => {
    for (const address of ['::ffff:8.8.8.8', '64:ff9b::808:808', '::fffe:7f00:1', '64:ff9b:0:0:0:1:7f00:1']) {
      expect(policy.classify(address), address).toBe('public');
    }
  });

  it('classifies an address with a zone id by the address', () => {
    expect(policy.classify('fe80::1%eth0')).toBe('refused');
    expect(policy.classify('::1%lo')).toBe('refused');
    expect(policy.classify('2001:4860:4860::8888%eth0')).toBe('public');
  });

  it('refuses what is not an address, so that only checked addresses are ever used', () => {
    for (const text of ['', 'localhost', '2130706433', '0x7f.1', '127.1', '[::1]']) {
      expect(policy.classify(text), text).toBe('refused');
    }
  });
});

describe('AddressPolicy allow-lists', () => {
  it('exempts addresses in the allowed CIDRs, also when mapped into IPv6, and nothing else', () => {
    const testing = new AddressPolicy({ allowedCidrs: ['127.0.0.0/8', '::1/128', '10.1.0.0/16', 'fd00:1::/32'] });
    expect(testing.classify('127.0.0.1')).toBe('exempt');
    expect(testing.classify('127.255.255.255')).toBe('exempt');
    expect(testing.classify('::1')).toBe('exempt');
    expect(testing.classify('::ffff:127.0.0.1')).toBe('exempt');
    expect(testing.classify('10.1.255.255')).toBe('exempt');
    expect(testing.classify('fd00:1:ffff::1')).toBe('exempt');
    expect(testing.classify('10.2.0.0')).toBe('refused');
    expect(testing.classify('fd00:2::1')).toBe('refused');
    expect(testing.classify('169.254.169.254')).toBe('refused');
    expect(testing.classify('8.8.8.8')).toBe('public');
  });

  it('exempts host names exactly, ignoring case', () => {
    const hosts = new AddressPolicy({ allowedHosts: ['Hooks.Internal.Example', '[::1]', '127.0.0.1'] });
    expect(hosts.isHostExempt('hooks.internal.example')).toBe(true);
    expect(hosts.isHostExempt('HOOKS.internal.example')).toBe(true);
    expect(hosts.isHostExempt('[::1]')).toBe(true);
    expect(hosts.isHostExempt('::1')).toBe(true);
    expect(hosts.isHostExempt('127.0.0.1')).toBe(true);
    expect(hosts.isHostExempt('a.hooks.internal.example')).toBe(false);
    expect(hosts.isHostExempt('internal.example')).toBe(false);
    expect(hosts.isHostExempt('hooks.internal.example.')).toBe(false);
  });

  it('exempts no host and no range by default', () => {
    expect(policy.isHostExempt('localhost')).toBe(false);
    expect(policy.classify('127.0.0.1')).toBe('refused');
  });

  it.each([
    [{ allowedCidrs: ['127.0.0.0/8', '127.0.0.1'] }, "Allowed CIDR '127.0.0.1' is not a valid CIDR range"],
    [{ allowedCidrs: ['10.0.0.1/8'] }, "Allowed CIDR '10.0.0.1/8' is not a valid CIDR range"],
    [{ allowedCidrs: ['::1/200'] }, "Allowed CIDR '::1/200' is not a valid CIDR range"],
    [{ allowedHosts: ['hooks.example:443'] }, "Allowed host 'hooks.example:443' is not a host name or IP address."],
    [
      { allowedHosts: ['https://hooks.example'] },
      "Allowed host 'https://hooks.example' is not a host name or IP address.",
    ],
    [{ allowedHosts: ['two words'] }, "Allowed host 'two words' is not a host name or IP address."],
    [{ allowedHosts: [''] }, "Allowed host '' is not a host name or IP address."],
  ])('refuses the configuration %j, naming the entry', (options, message) => {
    expect(() => new AddressPolicy(options)).toThrow(message);
  });
});
