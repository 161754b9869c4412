/** What a counter counts: creating requests per tenant or per resource, adding results per tenant. */
export type ThrottleScope = 'tenant' | 'resource' | 'results';

/** `count` requests per `windowSeconds`. */
export interface Limit {
  count: number;
  windowSeconds: number;
}

export interface ThrottleLimits {
  /** Creating requests, per tenant. */
  tenant: Limit[];
  /** Creating requests for the same resource (a message and recipient, a URL, a file), per tenant. */
  resource: Limit[];
  /** Adding results, per tenant. */
  results: Limit[];
}

/** Graph's documented limits for POST on /informationProtection. */
export const GRAPH_LIMITS: ThrottleLimits = {
  tenant: [
    { count: 150, windowSeconds: 15 * 60 },
    { count: 10_000, windowSeconds: 24 * 3600 },
  ],
  resource: [
    { count: 1, windowSeconds: 15 * 60 },
    { count: 3, windowSeconds: 24 * 3600 },
  ],
  results: [],
};

export const NO_LIMITS: ThrottleLimits = { tenant: [], resource: [], results: [] };

/** Parses `150/900,10000/86400` (count/seconds, comma-separated); empty: no limit. */
export function parseLimits(text: string, name: string): Limit[] {
  if (text.trim() === '' || text.trim() === 'off') return [];
  return text.split(',').map((part) => {
    const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(part);
    const count = Number(match?.[1]);
    const windowSeconds = Number(match?.[2]);
    if (!match || count < 1 || windowSeconds < 1) {
      throw new Error(`${name} must be a comma-separated list of count/seconds, e.g. 150/900; got '${part.trim()}'`);
    }
    return { count, windowSeconds };
  });
}
