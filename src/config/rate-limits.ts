/** `count` requests per `windowSeconds`. */
export interface Limit {
  count: number;
  windowSeconds: number;
}

/** Parses `150/900,10000/86400` (count/seconds, comma-separated); empty or `off`: no limit. */
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
