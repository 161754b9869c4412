/**
 * Bounds on a JSON body's shape, checked on its text before `JSON.parse` builds anything. No body of
 * this API comes near them (the largest holds a dozen properties, two levels deep); they make the cost
 * of refusing a hostile body, such as hundreds of thousands of keys, proportional to the bound instead
 * of to the body: the scan stops at the first value past it.
 */
export const JSON_LIMITS = {
  /** Objects and arrays inside one another. */
  maxDepth: 32,
  /** Object members and array elements, counted over the whole document. */
  maxValues: 1000,
} as const;

export type JsonShapeProblem = { kind: 'depth' } | { kind: 'values' } | { kind: 'nul' } | { kind: 'loneSurrogate' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Scans a JSON text for what must be refused before parsing: nesting or value counts past
 * {@link JSON_LIMITS}, and characters PostgreSQL cannot store or a client would not get back as sent:
 * an escaped NUL (`\u0000`) and an escaped lone surrogate (`\ud800` without its pair). Raw control
 * characters inside strings are left to `JSON.parse`, which refuses them. Malformed JSON is not judged
 * here either: the parser says that. Returns the first problem, or undefined.
 */
export function jsonShapeProblem(text: string, limits = JSON_LIMITS): JsonShapeProblem | undefined {
  let depth = 0;
  let values = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const char = text.charCodeAt(i);
    if (char === QUOTE) {
      const end = endOfString(text, i + 1);
      if (typeof end !== 'number') return end;
      i = end;
    } else if (char === 0x7b || char === 0x5b) {
      // `{` or `[`
      if (++depth > limits.maxDepth) return { kind: 'depth' };
      if (++values > limits.maxValues) return { kind: 'values' };
    } else if (char === 0x7d || char === 0x5d) {
      depth--;
    } else if (char === 0x2c) {
      // `,`: one more member or element.
      if (++values > limits.maxValues) return { kind: 'values' };
    }
  }
  return undefined;
}

/** The index of the string's closing quote (or the text's end), or the problem found inside it. */
function endOfString(text: string, from: number): number | JsonShapeProblem {
  let i = from;
  for (;;) {
    // Jump to the next quote or backslash: long strings (base64 content) are crossed natively.
    const quote = text.indexOf('"', i);
    const backslash = text.indexOf('\\', i);
    if (quote === -1) return text.length;
    if (backslash === -1 || quote < backslash) return quote;
    const escaped = text.charCodeAt(backslash + 1);
    if (escaped !== 0x75) {
      // `\"`, `\\`, `\n`, …: skip the escaped character.
      i = backslash + 2;
      continue;
    }
    const unit = hex4(text, backslash + 2);
    i = backslash + 6;
    if (unit === 0) return { kind: 'nul' };
    if (unit >= 0xdc00 && unit <= 0xdfff) return { kind: 'loneSurrogate' };
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = text.charCodeAt(i) === BACKSLASH && text.charCodeAt(i + 1) === 0x75 ? hex4(text, i + 2) : -1;
      if (low < 0xdc00 || low > 0xdfff) return { kind: 'loneSurrogate' };
      i += 6;
    }
  }
}

/** The code unit of four hex digits at `at`, or -1 when they are not four hex digits. */
function hex4(text: string, at: number): number {
  const digits = text.slice(at, at + 4);
  return /^[0-9a-fA-F]{4}$/.test(digits) ? Number.parseInt(digits, 16) : -1;
}
