/**
 * OData's dateTimeOffset literal: seconds and fraction optional, `Z` or a `±hh:mm` offset required.
 * No nested quantifiers, so matching is linear.
 */
export const DATE_TIME_SOURCE = String.raw`(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,12}))?)?([Zz]|[+-]\d{2}:\d{2})`;

const WHOLE_DATE_TIME = new RegExp(`^${DATE_TIME_SOURCE}$`);

export const DATE_TIME_FORMAT_HINT = 'YYYY-MM-DDThh:mm[:ss[.fffffff]] followed by Z or ±hh:mm';

/**
 * A date-time literal as an instant. Stored values are whole milliseconds (`timestamptz(3)`), so the
 * literal is split into its millisecond floor and whether anything finer than that was written: the
 * filter then compares exactly against the instant the client wrote, rather than a rounded one.
 */
export interface DateTimeValue {
  readonly floorMs: number;
  readonly hasSubMillisecond: boolean;
}

const isLeapYear = (year: number): boolean => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);

const daysInMonth = (year: number, month: number): number =>
  month === 2 ? (isLeapYear(year) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/** The instant a literal denotes, or `undefined` when it is malformed or names an impossible date or time. */
export function parseDateTimeValue(text: string): DateTimeValue | undefined {
  const match = WHOLE_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number) as [number, number, number, number, number];
  const second = Number(match[6] ?? '0');
  const fraction = match[7] ?? '';
  const zone = match[8];
  const offsetSign = zone[0] === '-' ? -1 : 1;
  const [offsetHours, offsetMinutes] = /^[Zz]$/.test(zone)
    ? [0, 0]
    : [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
  if (
    year < 1 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return undefined;
  }
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0')));
  return {
    floorMs: date.getTime() - offsetSign * (offsetHours * 60 + offsetMinutes) * 60_000,
    hasSubMillisecond: /[1-9]/.test(fraction.slice(3)),
  };
}
