/**
 * Which addresses webhooks may reach: public ones, plus what the operator exempts. Loopback, private,
 * link-local (cloud metadata), shared, benchmarking, multicast and reserved ranges are refused, also
 * when an IPv4 address hides inside IPv4-mapped or NAT64 IPv6.
 */
import { isIPv6 } from 'node:net';
import { type Cidr, type IpAddress, cidrContains, parseCidr, parseIpAddress } from './ip-address.js';

export const REFUSED_RANGES: readonly string[] = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
];

const REFUSED: readonly Cidr[] = REFUSED_RANGES.map(parseCidr);

/** IPv4-mapped (reached over the IPv4 stack) and NAT64 (translated to IPv4 by a gateway): the IPv4 address is the destination. */
const IPV4_CARRIERS: readonly Cidr[] = ['::ffff:0:0/96', '64:ff9b::/96'].map(parseCidr);

export type AddressVerdict = 'public' | 'exempt' | 'refused';

export interface AddressPolicyOptions {
  /** Host names whose addresses are not checked: exact, case-insensitive. */
  allowedHosts?: readonly string[];
  /** Ranges exempt from the refused list, e.g. `127.0.0.0/8`, `::1/128`. */
  allowedCidrs?: readonly string[];
}

export class AddressPolicy {
  private readonly allowedHosts: ReadonlySet<string>;
  private readonly allowedCidrs: readonly Cidr[];

  /** Throws on an entry that is not a host name or not a CIDR range, naming it. */
  constructor(options: AddressPolicyOptions = {}) {
    this.allowedHosts = new Set((options.allowedHosts ?? []).map(normaliseAllowedHost));
    this.allowedCidrs = (options.allowedCidrs ?? []).map((entry) => {
      try {
        return parseCidr(entry);
      } catch (error) {
        throw new Error(`Allowed CIDR ${(error as Error).message}`, { cause: error });
      }
    });
  }

  /** `hostname` as the WHATWG URL parser gives it (IPv6 in brackets or not). */
  isHostExempt(hostname: string): boolean {
    return this.allowedHosts.has(unbracket(hostname).toLowerCase());
  }

  /** Anything that is not an IP address is refused: the caller connects only to what passed. */
  classify(address: string): AddressVerdict {
    const ip = parseIpAddress(address);
    if (!ip) return 'refused';
    const destinations = [ip, ...embeddedIpv4(ip)];
    if (destinations.some((d) => this.allowedCidrs.some((cidr) => cidrContains(cidr, d)))) return 'exempt';
    if (destinations.some((d) => REFUSED.some((cidr) => cidrContains(cidr, d)))) return 'refused';
    return 'public';
  }
}

export function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function embeddedIpv4(ip: IpAddress): IpAddress[] {
  if (!IPV4_CARRIERS.some((cidr) => cidrContains(cidr, ip))) return [];
  return [{ family: 4, bytes: ip.bytes.slice(12) }];
}

/** Written as the URL parser would write it, so `Example.COM` or `[::1]` match what URLs yield. */
function normaliseAllowedHost(entry: string): string {
  const host = unbracket(entry.trim());
  const invalid = new Error(`Allowed host '${entry}' is not a host name or IP address.`);
  if (!host || /[\s/?#@\\]/.test(host) || (host.includes(':') && !isIPv6(host))) throw invalid;
  try {
    return unbracket(new URL(`https://${isIPv6(host) ? `[${host}]` : host}/`).hostname);
  } catch {
    throw invalid;
  }
}
