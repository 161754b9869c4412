/**
 * IP addresses and CIDR ranges as bytes, so that range checks are plain prefix comparisons with no
 * implicit translation between families: an IPv4 address embedded in IPv6 is only ever seen as IPv4
 * where the caller unwraps it on purpose.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
}

export interface Cidr extends IpAddress {
  prefixLength: number;
}

/**
 * A textual address in the canonical forms DNS answers and the WHATWG URL parser produce (dotted-quad
 * IPv4, any valid IPv6, with or without a zone id, which names an interface and not an address);
 * undefined for anything else.
 */
export function parseIpAddress(text: string): IpAddress | undefined {
  const address = text.replace(/%.*$/s, '');
  if (isIPv4(address)) return { family: 4, bytes: Uint8Array.from(address.split('.'), Number) };
  if (isIPv6(address)) return { family: 6, bytes: ipv6Bytes(address) };
  return undefined;
}

/** `address/prefix`; throws a message naming the entry when it is not one (host bits set included). */
export function parseCidr(text: string): Cidr {
  const invalid = (why: string) => new Error(`'${text}' is not a valid CIDR range: ${why}.`);
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!match) throw invalid('expected address/prefix-length');
  const [, addressText, prefixText] = match;
  if (addressText.includes('%')) throw invalid('a zone id is not allowed');
  const address = parseIpAddress(addressText);
  if (!address) throw invalid(`'${addressText}' is not an IPv4 or IPv6 address`);
  const prefixLength = Number(prefixText);
  const maxPrefix = address.bytes.length * 8;
  if (prefixLength > maxPrefix) throw invalid(`the prefix length must be 0 to ${maxPrefix}`);
  if (!zeroBeyondPrefix(address.bytes, prefixLength)) {
    throw invalid(`the address has bits set beyond the first ${prefixLength}`);
  }
  return { ...address, prefixLength };
}

/** Only addresses of the range's own family are inside it. */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  return cidr.family === address.family && samePrefix(cidr.bytes, address.bytes, cidr.prefixLength);
}

/** The bits of byte `index` that lie within the first `bits` bits. */
function maskAt(index: number, bits: number): number {
  const covered = Math.min(8, Math.max(0, bits - index * 8));
  return (0xff << (8 - covered)) & 0xff;
}

function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  return a.every((byte, i) => ((byte ^ b[i]) & maskAt(i, bits)) === 0);
}

function zeroBeyondPrefix(a: Uint8Array, bits: number): boolean {
  return a.every((byte, i) => (byte & ~maskAt(i, bits) & 0xff) === 0);
}

/** A valid IPv6 address (checked by the caller) as 16 bytes, its `::` expanded and a dotted tail converted. */
function ipv6Bytes(address: string): Uint8Array {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const bytes = new Uint8Array(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((group, i) => {
    const value = parseInt(group, 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  });
  return bytes;
}
