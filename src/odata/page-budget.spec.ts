import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { pageOf } from './keyset.js';
import { fitPage, jsonBytesBound, PAGE_BUDGET_BYTES, type PageWire } from './page-budget.js';

/** Replay a failure with FC_SEED=<the seed fast-check reports>. */
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const RUNS = { numRuns: 300, seed: SEED };

interface Item {
  createdDateTime: Date;
  id: string;
  text: string;
}
type Wire = { id: string; text: string };

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
/** Items a millisecond apart, ids in order: `text(i)` each. */
const itemsOf = (texts: string[]): Item[] =>
  texts.map((text, i) => ({ createdDateTime: new Date(Date.UTC(2026, 0, 1) + i), id: `${i}`.padStart(4, '0'), text }));
const WIRE: PageWire<Item, Wire> = {
  wire: ({ id, text }) => ({ id, text }),
  position: ({ createdDateTime, id }) => ({ createdDateTime, id }),
};
/** Any UTF-16 text, or text whose every character escapes to six bytes (where a string's bound is exact). */
const anyText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength }),
    fc.string({ unit: fc.constantFrom('\u0001', '\u001f', '\ud800'), maxLength }),
  );
/** What the service's list does: `top + 1` rows after `after`, then the budget. */
function listPage(all: Item[], top: number, after: string | undefined, wire: PageWire<Item, Wire>) {
  const rows = all.filter((item) => after === undefined || item.id > after).slice(0, top + 1);
  return fitPage(pageOf(rows, top), wire);
}

describe('jsonBytesBound', () => {
  it('is at least what JSON.stringify writes for any JSON value, lone surrogates and controls included (property)', () => {
    const text = anyText(60);
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        text,
        fc.double(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.date({ noInvalidDate: true }),
        fc.array(tie('node'), { maxLength: 5 }),
        fc.dictionary(text, tie('node'), { maxKeys: 5 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (json) => {
        expect(jsonBytesBound(json)).toBeGreaterThanOrEqual(bytes(json));
      }),
      RUNS,
    );
  });

  it('is exact for a string whose every character escapes to six bytes, and counts no omitted member', () => {
    expect(jsonBytesBound('\u0001'.repeat(4000))).toBe(bytes('\u0001'.repeat(4000)));
    expect(jsonBytesBound('')).toBe(2);
    expect(jsonBytesBound(undefined)).toBe(0);
    expect(jsonBytesBound(-1.2345678901234567e-308)).toBe(bytes(-1.2345678901234567e-308));
  });
});

describe('fitPage', () => {
  it('answers the page as it is when the bounds fit, serializing no item', () => {
    const items = itemsOf(['a', 'b', 'c']);
    const next = { createdDateTime: new Date(0), id: 'next' };
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const page = fitPage({ items, next }, WIRE);
      expect(stringify).not.toHaveBeenCalled();
      expect(page.items.map((item) => item.id)).toEqual(['0000', '0001', '0002']);
      expect(page.next).toBe(next);
    } finally {
      stringify.mockRestore();
    }
  });

  it('ends the page at the last item that fits and continues after it, though more were asked for', () => {
    const items = itemsOf(['x'.repeat(100), 'y'.repeat(100), 'z'.repeat(100)]);
    const item = bytes(WIRE.wire(items[0]));
    // `[`, two items and a comma: 2 + 2 × item + 1 bytes.
    const budget = 2 * item + 3;
    const page = fitPage({ items }, { ...WIRE, budget });
    expect(page).toEqual({
      items: items.slice(0, 2).map(WIRE.wire),
      next: { createdDateTime: items[1].createdDateTime, id: '0001' },
    });
    expect(bytes(page.items)).toBe(budget);
    expect(fitPage({ items }, { ...WIRE, budget: budget - 1 }).items).toHaveLength(1);
  });

  it('keeps one item even when it alone is larger than the budget', () => {
    const items = itemsOf(['x'.repeat(500), 'y']);
    expect(fitPage({ items }, { ...WIRE, budget: 100 })).toEqual({
      items: [WIRE.wire(items[0])],
      next: { createdDateTime: items[0].createdDateTime, id: '0000' },
    });
    expect(fitPage({ items: items.slice(0, 1) }, { ...WIRE, budget: 100 }).items).toHaveLength(1);
  });

  it('keeps the whole page when the items fit though their bounds do not', () => {
    const items = itemsOf(Array.from({ length: 10 }, () => 'x'.repeat(100)));
    const budget = bytes(items.map(WIRE.wire));
    const page = fitPage({ items }, { ...WIRE, budget });
    expect(page.items).toHaveLength(10);
    expect(page.next).toBeUndefined();
  });

  it('counts bytes, not characters', () => {
    const items = itemsOf(['€'.repeat(100), '€'.repeat(100)]);
    // 200 characters of text would fit 310 bytes; 600 bytes of UTF-8 do not.
    expect(fitPage({ items }, { ...WIRE, budget: 310 }).items).toHaveLength(1);
  });

  it('is 1 MiB by default', () => {
    expect(PAGE_BUDGET_BYTES).toBe(1024 * 1024);
    const items = itemsOf(Array.from({ length: 300 }, () => 'x'.repeat(4000)));
    const page = fitPage({ items }, WIRE);
    expect(page.items.length).toBe(Math.floor((PAGE_BUDGET_BYTES - 1) / (bytes(page.items[0]) + 1)));
  });

  it('walks a collection page after page to every item once, in order, each page full to its budget (property)', () => {
    fc.assert(
      fc.property(
        fc.array(anyText(120), { maxLength: 60 }),
        fc.integer({ min: 1, max: 25 }),
        fc.integer({ min: 1, max: 2000 }),
        (texts, top, budget) => {
          const all = itemsOf(texts);
          const wire = { ...WIRE, budget };
          const seen: string[] = [];
          let after: string | undefined;
          for (let pages = 0; ; pages++) {
            expect(pages).toBeLessThanOrEqual(all.length);
            const page = listPage(all, top, after, wire);
            const rest = all.filter((item) => after === undefined || item.id > after);
            seen.push(...page.items.map((item) => item.id));
            expect(page.items.length).toBeLessThanOrEqual(top);
            if (rest.length > 0) expect(page.items.length).toBeGreaterThan(0);
            if (page.items.length > 1) expect(bytes(page.items)).toBeLessThanOrEqual(budget);
            // Cut short: the next item would not have fitted.
            if (page.items.length < Math.min(top, rest.length)) {
              expect(bytes([...page.items, WIRE.wire(rest[page.items.length])])).toBeGreaterThan(budget);
            }
            expect(page.next === undefined).toBe(page.items.length === rest.length);
            if (!page.next) break;
            expect(page.next.id).toBe(page.items.at(-1)!.id);
            after = page.next.id;
          }
          expect(seen).toEqual(all.map((item) => item.id));
        },
      ),
      RUNS,
    );
  });
});
