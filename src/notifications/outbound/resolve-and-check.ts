/**
 * A host's addresses, every one of them checked: a name that resolves to one public and one private
 * address is refused, since the connection could go to either.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type AddressPolicy, unbracket } from './address-policy.js';

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** Every A and AAAA address of a name; injectable so that tests need no DNS. */
export type HostResolver = (hostname: string) => Promise<readonly { address: string }[]>;

export const systemResolver: HostResolver = (hostname) => lookup(hostname, { all: true, family: 0 });

export type HostCheck =
  | { outcome: 'checked'; addresses: CheckedAddress[] }
  | { outcome: 'refused-address'; address: string }
  | { outcome: 'dns-error'; code: string };

/** `hostname` as the WHATWG URL parser gives it; an IP literal is checked as it is, without a lookup. */
export async function resolveAndCheck(
  hostname: string,
  policy: AddressPolicy,
  resolve: HostResolver = systemResolver,
): Promise<HostCheck> {
  const host = unbracket(hostname);
  let answers: readonly { address: string }[];
  if (isIP(host)) {
    answers = [{ address: host }];
  } else {
    try {
      answers = await resolve(host);
    } catch (error) {
      return { outcome: 'dns-error', code: (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN' };
    }
    if (answers.length === 0) return { outcome: 'dns-error', code: 'ENODATA' };
  }
  const exempt = policy.isHostExempt(host);
  const addresses: CheckedAddress[] = [];
  for (const { address } of answers) {
    const family = isIP(address);
    if (family === 0 || (!exempt && policy.classify(address) === 'refused')) {
      return { outcome: 'refused-address', address };
    }
    addresses.push({ address, family: family === 4 ? 4 : 6 });
  }
  return { outcome: 'checked', addresses };
}
