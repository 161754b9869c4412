import fc from 'fast-check';
import { EMAIL_FILE_REQUEST, FILE_REQUEST, MAIL_REQUEST, URL_REQUEST } from '../../support/graph.js';
import { RESULT_BODY } from './api.js';
import { requestsPath } from './constants.js';

export const SAMPLE_REQUESTS = {
  mail: MAIL_REQUEST,
  emailFile: EMAIL_FILE_REQUEST,
  file: FILE_REQUEST,
  url: URL_REQUEST,
} as const;

/**
 * Characters that break storage, encoders, parsers and displays: NUL (PostgreSQL stores no NUL in
 * text or jsonb), lone surrogates (not UTF-8 at all), C0/C1 controls, bidi overrides, combining marks,
 * non-characters, non-BMP code points, and text that only looks like an escape.
 */
export const SPECIAL_CHARACTERS = [
  '\u0000',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  'a\ud800b',
  '\udc00\ud800',
  '\u0001',
  '\u0008',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u001f',
  '\u007f',
  '\u0080',
  '\u0085',
  '\u009f',
  '\u00a0',
  '\u00ad',
  '\u0301',
  'e\u0301\u0302\u0303\u0304\u0305\u0306',
  '\u200b',
  '\u200d',
  '\u200e',
  '\u200f',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2028',
  '\u2029',
  '\ufeff',
  '\ufffd',
  '\ufffe',
  '\uffff',
  '\u{1f600}',
  '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}',
  '\u{10ffff}',
  '\u{e0001}',
  'שלום',
  'مرحبا',
  'İ',
  'ß',
  'ǅ',
  '𝔞',
  '%00',
  '\\u0000',
  "'",
  '"',
  '\\',
  '<script>',
  '${x}',
  '../',
] as const;

/** One to a few special characters, alone or among ordinary text, or a random string of any code points. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...SPECIAL_CHARACTERS),
  fc.array(fc.constantFrom(...SPECIAL_CHARACTERS), { minLength: 1, maxLength: 6 }).map((parts) => parts.join('')),
  fc
    .tuple(
      fc.string({ unit: 'grapheme-ascii', maxLength: 8 }),
      fc.constantFrom(...SPECIAL_CHARACTERS),
      fc.string({ maxLength: 8 }),
    )
    .map((parts) => parts.join('')),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
);

/** True when the string holds an unpaired surrogate, which UTF-8 cannot encode. */
export const hasLoneSurrogate = (text: string) => !text.isWellFormed();

/** The UTF-8 bytes of a code point; a lone surrogate as WTF-8 (ED A0 80…), which is what a sloppy client sends. */
function utf8Bytes(codePoint: number): number[] {
  if (codePoint < 0x80) return [codePoint];
  if (codePoint < 0x800) return [0xc0 | (codePoint >> 6), 0x80 | (codePoint & 63)];
  if (codePoint < 0x10000) return [0xe0 | (codePoint >> 12), 0x80 | ((codePoint >> 6) & 63), 0x80 | (codePoint & 63)];
  return [
    0xf0 | (codePoint >> 18),
    0x80 | ((codePoint >> 12) & 63),
    0x80 | ((codePoint >> 6) & 63),
    0x80 | (codePoint & 63),
  ];
}

/** Percent-encodes everything but unreserved characters, lone surrogates included (encodeURIComponent throws on them). */
export function percentEncode(text: string): string {
  let out = '';
  for (const char of text) {
    if (/^[A-Za-z0-9\-._~]$/.test(char)) out += char;
    else
      out += utf8Bytes(char.codePointAt(0)!)
        .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
        .join('');
  }
  return out;
}

/** JSON text with every non-ASCII code unit escaped as \uXXXX: the other way a client may send the same string. */
export const asciiJson = (value: unknown) =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** JSON text of `base` with `field` set to a raw JSON value (too big or too deep to build as an object). */
export function withRawField(base: object, field: string, rawValue: string): string {
  return JSON.stringify({ ...base, [field]: '__RAW_VALUE__' }).replace('"__RAW_VALUE__"', () => rawValue);
}

export const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`;
export const deepArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
export const longArray = (length: number) => `[${'0,'.repeat(Math.max(0, length - 1))}0]`;
export const largeString = (bytes: number) => `"${'x'.repeat(bytes)}"`;

/** `base` plus `count` unknown keys: what a key-count or per-key validation cost is made of. */
export function withManyKeys(base: object, count: number): string {
  const keys = Array.from({ length: count }, (_, i) => `"k${i}":0`).join(',');
  const text = JSON.stringify(base);
  return `${text.slice(0, -1)},${keys}}`;
}

/** `base` plus `count` unknown keys holding strings of `bytes` each. */
export function withLargeStrings(base: object, count: number, bytes: number): string {
  const value = largeString(bytes);
  const keys = Array.from({ length: count }, (_, i) => `"s${i}":${value}`).join(',');
  return `${JSON.stringify(base).slice(0, -1)},${keys}}`;
}

export interface HostileBody {
  what: string;
  target: string;
  body: Buffer;
}

/**
 * The bodies the issue names as the worst to refuse: hundreds of thousands of keys, 10,000 levels of
 * nesting, a million-element array, eight 1 MB strings; each to create a request and to add a result.
 */
export function worstBodies(requestId: string): HostileBody[] {
  const shapes: [string, (base: object) => string][] = [
    ['300,000 keys', (base) => withManyKeys(base, 300_000)],
    ['10,000-deep object', (base) => withRawField(base, 'message', deepObject(10_000))],
    ['10,000-deep array', () => deepArray(10_000)],
    ['1,000,000-element array', (base) => withRawField(base, 'message', longArray(1_000_000))],
    // 8 × 10^6 bytes: just under the create route's 8 MiB, so that it is parsed, not refused by size.
    ['8 strings of 1 MB', (base) => withLargeStrings(base, 8, 1_000_000)],
  ];
  const routes: [string, string, object][] = [
    ['create request', requestsPath(), URL_REQUEST],
    ['add result', `${requestsPath()}/${requestId}/results`, RESULT_BODY],
  ];
  return routes.flatMap(([route, target, base]) =>
    shapes.map(([shape, build]) => ({ what: `${route}: ${shape}`, target, body: Buffer.from(build(base)) })),
  );
}
