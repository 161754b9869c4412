import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalEmail, canonicalUrl } from './resource-key.js';

/** Replay a failure with FC_SEED=<the seed fast-check reports>. */
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const RUNS = { numRuns: 500, seed: SEED };

describe('canonicalUrl', () => {
  it.each([
    ['HTTP://TEST.com:80/a/../#x', 'http://test.com/'],
    ['http://test.com/%61', 'http://test.com/a'],
    ['http://test.com/%7e%7E', 'http://test.com/~~'],
    ['http://test.com/a%2fb?q=%2f', 'http://test.com/a%2Fb?q=%2F'],
    ['https://Test.COM:443/./x/./y/../z?%41=%62#frag', 'https://test.com/x/z?A=b'],
    ['http://test.com', 'http://test.com/'],
    ['http://test.com/a/%2E%2e/b', 'http://test.com/b'],
    ['http://test.com/a/.b/x/../c/./d/.', 'http://test.com/a/.b/c/d/'],
    ['http://test.com/a/.b/..', 'http://test.com/a/'],
    ['http://BÜCHER.example/', 'http://xn--bcher-kva.example/'],
    ['http://test.com/é', 'http://test.com/%C3%A9'],
    ['http://test.com/%c3%a9', 'http://test.com/%C3%A9'],
    ['http://test.com/%zz%', 'http://test.com/%zz%'],
    ['http://test.com/%2525', 'http://test.com/%2525'],
  ])('writes %s as %s', (input, expected) => {
    expect(canonicalUrl(input)).toBe(expected);
  });

  it.each([
    ['http://test.com/a', 'http://test.com/A'],
    ['http://test.com/a', 'https://test.com/a'],
    ['http://test.com/a', 'http://test.com:8080/a'],
    ['http://test.com/a', 'http://test.com/a?'],
    ['http://test.com/a', 'http://test.com/a/'],
    ['http://test.com/a?x=1', 'http://test.com/a?x=2'],
    ['http://test.com/a%2Fb', 'http://test.com/a/b'],
    ['http://test.com/%25', 'http://test.com/%'],
  ])('keeps %s and %s apart', (a, b) => {
    expect(canonicalUrl(a)).not.toBe(canonicalUrl(b));
  });

  it('answers text the URL parser refuses as it is', () => {
    expect(canonicalUrl('not a url')).toBe('not a url');
    expect(canonicalUrl('http://')).toBe('http://');
  });

  it('is a fixed point: canonical text is its own canonical form (property)', () => {
    const text = fc.oneof(
      fc.webUrl({ withFragments: true, withQueryParameters: true }),
      fc.string({ unit: 'binary', maxLength: 40 }).map((rest) => `http://test.com/${rest}`),
      fc.string({ unit: 'binary', maxLength: 40 }).map((rest) => `https://${rest}`),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    fc.assert(
      fc.property(text, (url) => {
        const once = canonicalUrl(url);
        expect(canonicalUrl(once)).toBe(once);
      }),
      RUNS,
    );
  });

  it('maps case changes of scheme and host, a default port, a fragment, dot segments and percent-encoding to one key (property)', () => {
    fc.assert(
      fc.property(url, spelling, (parts, how) => {
        expect(canonicalUrl(render(parts, how))).toBe(canonicalUrl(render(parts, PLAIN)));
      }),
      RUNS,
    );
  });

  it('writes the plain spelling with no escape of an unreserved character and none in lower-case hex (property)', () => {
    fc.assert(
      fc.property(url, spelling, (parts, how) => {
        const key = canonicalUrl(render(parts, how));
        expect(key).not.toMatch(/%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DEde]|5[Ff]|7[Ee])/);
        expect(key).not.toMatch(/%[0-9A-F]?[a-f]/);
        expect(key).not.toContain('#');
      }),
      RUNS,
    );
  });
});

describe('canonicalEmail', () => {
  it.each([
    ['tifc@Contoso.COM', 'tifc@contoso.com'],
    ['TiFc@contoso.com', 'TiFc@contoso.com'],
    ['user@BÜCHER.de', 'user@xn--bcher-kva.de'],
    ['"a@b"@Example.org', '"a@b"@example.org'],
    ['no-at-sign', 'no-at-sign'],
  ])('writes %s as %s', (input, expected) => {
    expect(canonicalEmail(input)).toBe(expected);
  });

  it('keeps the local part case-sensitive', () => {
    expect(canonicalEmail('Tifc@contoso.com')).not.toBe(canonicalEmail('tifc@contoso.com'));
  });

  it('maps any case of the domain to one key, and is a fixed point (property)', () => {
    fc.assert(
      fc.property(fc.emailAddress(), flips, (address, flip) => {
        const at = address.lastIndexOf('@');
        const respelled = `${address.slice(0, at)}@${recase(address.slice(at + 1), flip)}`;
        const key = canonicalEmail(address);
        expect(canonicalEmail(respelled)).toBe(key);
        expect(canonicalEmail(key)).toBe(key);
        expect(key.slice(0, key.lastIndexOf('@'))).toBe(address.slice(0, at));
      }),
      RUNS,
    );
  });

  it('is a fixed point on any text (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        (a, b) => {
          const key = canonicalEmail(`${a}@${b}`);
          expect(canonicalEmail(key)).toBe(key);
        },
      ),
      RUNS,
    );
  });
});

/** A piece of a path or query: a character plain or escaped, a sub-delimiter, or an escape of a reserved byte. */
type Piece = { kind: 'unreserved'; char: string; encode: boolean; upper: boolean } | { kind: 'literal'; text: string };

interface UrlParts {
  scheme: 'http' | 'https';
  host: string;
  port?: number;
  segments: Piece[][];
  query?: Piece[];
  /** Where a `x/..` or `.` segment goes, and which one. */
  dot: { at: number; kind: 'up' | 'here' };
  fragment: string;
}

/** How to spell a URL: PLAIN is the reference spelling. */
interface Spelling {
  flip: boolean[];
  defaultPort: boolean;
  fragment: boolean;
  encode: boolean;
  dotSegment: boolean;
}
const PLAIN: Spelling = { flip: [], defaultPort: false, fragment: false, encode: false, dotSegment: false };

const flips = fc.array(fc.boolean(), { minLength: 64, maxLength: 64 });
const recase = (text: string, flip: readonly boolean[]) =>
  [...text].map((c, i) => (flip[i % flip.length] ? c.toUpperCase() : c)).join('');

const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({
    kind: fc.constant('unreserved' as const),
    char: fc.constantFrom(...'abcxyzABCXYZ0189-._~'),
    encode: fc.boolean(),
    upper: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('literal' as const),
    text: fc.constantFrom(
      ...['!', '$', '&', "'", '(', ')', '*', '+', ',', ';', '=', ':', '@'],
      ...['%2F', '%2f', '%3F', '%3f', '%23', '%25', '%20', '%c3%a9', '%C3%A9', 'é'],
    ),
  }),
);
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const url: fc.Arbitrary<UrlParts> = fc.record(
  {
    scheme: fc.constantFrom('http' as const, 'https' as const),
    host: fc
      .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/))
      .map(([labels, tld]) => [...labels, tld].join('.')),
    port: fc.integer({ min: 1, max: 65535 }).filter((port) => port !== 80 && port !== 443),
    segments: fc.array(fc.array(piece, { minLength: 1, maxLength: 6 }), { maxLength: 4 }),
    query: fc.array(piece, { maxLength: 8 }),
    dot: fc.record({ at: fc.nat(), kind: fc.constantFrom('up' as const, 'here' as const) }),
    fragment: fc.stringMatching(/^[a-zA-Z0-9%/?#]{0,10}$/),
  },
  { requiredKeys: ['scheme', 'host', 'segments', 'dot', 'fragment'] },
);
const spelling: fc.Arbitrary<Spelling> = fc.record({
  flip: flips,
  defaultPort: fc.boolean(),
  fragment: fc.boolean(),
  encode: fc.boolean(),
  dotSegment: fc.boolean(),
});

function render(parts: UrlParts, how: Spelling): string {
  const text = (pieces: Piece[]) =>
    pieces
      .map((p) => {
        if (p.kind === 'literal') return p.text;
        if (!how.encode || !p.encode) return p.char;
        const hex = p.char.charCodeAt(0).toString(16);
        return `%${p.upper ? hex.toUpperCase() : hex}`;
      })
      .join('');
  const segments = parts.segments.map(text);
  // Before an existing segment only: `a/x/..` at the end would leave a trailing slash.
  if (how.dotSegment && segments.length > 0) {
    segments.splice(parts.dot.at % segments.length, 0, ...(parts.dot.kind === 'up' ? ['x', '..'] : ['.']));
  }
  const port = parts.port ?? (how.defaultPort ? (parts.scheme === 'http' ? 80 : 443) : undefined);
  const scheme = how.flip.length ? recase(parts.scheme, how.flip) : parts.scheme;
  const host = how.flip.length ? recase(parts.host, how.flip.slice(7)) : parts.host;
  return (
    `${scheme}://${host}${port === undefined ? '' : `:${port}`}` +
    (segments.length ? `/${segments.join('/')}` : '') +
    (parts.query ? `?${text(parts.query)}` : '') +
    (how.fragment ? `#${parts.fragment}` : '')
  );
}
