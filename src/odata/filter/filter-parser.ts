import { DATE_TIME_FORMAT_HINT, DATE_TIME_SOURCE } from './filter-date-time.js';
import { filterError, quote } from './filter-error.js';
import { FILTER_LIMITS, type ComparisonOperator, type FilterLiteral, type FilterNode } from './filter.types.js';

type Token =
  | { readonly type: 'identifier' | 'string' | 'dateTime'; readonly text: string; readonly position: number }
  | { readonly type: '(' | ')' | ',' | 'end'; readonly position: number };

const IDENTIFIER = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/y;
const DATE_TIME = new RegExp(DATE_TIME_SOURCE, 'y');
/** A date-time glued to more word characters (`…Zfoo`, `…:00:00:00Z`) is one bad literal, not two tokens. */
const WORD_CHARACTER = /[A-Za-z0-9_.:+-]/;
const WHITESPACE = /\s/;
/**
 * A date-time whose offset sign became a space: `+` means a space in a query string, and the Graph SDK
 * (through `fetch`) sends it unencoded, so `…T00:00:00+01:00` arrives as `…T00:00:00 01:00`.
 */
const PLUS_AS_SPACE = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,12})?)? \d{2}:\d{2}(?![\d:])/;
const COMPARISON_OPERATORS: ReadonlySet<string> = new Set<ComparisonOperator>(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const OPERATOR_LIST = 'eq, ne, gt, ge, lt, le or in';

/**
 * Parses a `$filter` into a syntax tree; whether its properties, operators and literals make sense for a
 * collection is `compileFilter`'s business. Keywords are case-insensitive. Precedence, tightest first:
 * `not`, comparisons, `and`, `or`; `and` and `or` associate to the left. A comparison is always
 * `property operator literal`, so `not` applies to the whole comparison after it: `not a eq 'x'` is
 * `not (a eq 'x')`.
 *
 * Every bound in `FILTER_LIMITS` is enforced while parsing, and the work is linear in the input.
 */
export function parseFilter(text: string): FilterNode {
  if (text.length > FILTER_LIMITS.maxLength) {
    throw filterError(`$filter is longer than ${FILTER_LIMITS.maxLength} characters`);
  }
  return new Parser(tokenize(text)).parse();
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < text.length) {
    const character = text[index];
    if (WHITESPACE.test(character)) {
      index += 1;
    } else if (character === '(' || character === ')' || character === ',') {
      tokens.push({ type: character, position: index });
      index += 1;
    } else if (character === "'") {
      index = readString(text, index, tokens);
    } else if (character >= '0' && character <= '9') {
      DATE_TIME.lastIndex = index;
      const match = DATE_TIME.exec(text);
      if (!match || WORD_CHARACTER.test(text[DATE_TIME.lastIndex] ?? '')) {
        const plusAsSpace = PLUS_AS_SPACE.test(text.slice(index, index + 40));
        const hint = plusAsSpace ? "; a '+' in a URL reads as a space: send it as %2B" : '';
        throw filterError(`Invalid date-time literal at position ${index}; expected ${DATE_TIME_FORMAT_HINT}${hint}`);
      }
      tokens.push({ type: 'dateTime', text: match[0], position: index });
      index = DATE_TIME.lastIndex;
    } else {
      IDENTIFIER.lastIndex = index;
      const match = IDENTIFIER.exec(text);
      if (!match) {
        const hint = character === '"' ? '; string literals take single quotes' : '';
        const shown = String.fromCodePoint(text.codePointAt(index) as number);
        throw filterError(`Unexpected character ${quote(shown)} at position ${index}${hint}`);
      }
      tokens.push({ type: 'identifier', text: match[0], position: index });
      index = IDENTIFIER.lastIndex;
    }
  }
  tokens.push({ type: 'end', position: text.length });
  return tokens;
}

/** Reads `'…'` starting at `start`, where `''` stands for one quote; returns the index after it. */
function readString(text: string, start: number, tokens: Token[]): number {
  let value = '';
  let from = start + 1;
  for (;;) {
    const quoteAt = text.indexOf("'", from);
    if (quoteAt < 0) throw filterError(`Unterminated string literal starting at position ${start}`);
    value += text.slice(from, quoteAt);
    if (text[quoteAt + 1] !== "'") {
      tokens.push({ type: 'string', text: value, position: start });
      return quoteAt + 1;
    }
    value += "'";
    from = quoteAt + 2;
  }
}

const isKeyword = (token: Token, keyword: string): boolean =>
  token.type === 'identifier' && token.text.toLowerCase() === keyword;

const describe = (token: Token): string => {
  switch (token.type) {
    case 'identifier':
      return quote(token.text);
    case 'string':
      return 'a string literal';
    case 'dateTime':
      return 'a date-time literal';
    case 'end':
      return 'the end of $filter';
    default:
      return `'${token.type}'`;
  }
};

class Parser {
  private index = 0;
  private comparisons = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): FilterNode {
    if (this.peek().type === 'end') throw filterError('$filter is empty');
    const node = this.parseOr(0);
    const next = this.peek();
    if (next.type !== 'end') {
      throw filterError(
        `Expected 'and', 'or' or the end of $filter at position ${next.position}, found ${describe(next)}`,
      );
    }
    return node;
  }

  private parseOr(depth: number): FilterNode {
    let left = this.parseAnd(depth);
    while (isKeyword(this.peek(), 'or')) {
      this.index += 1;
      left = { kind: 'or', left, right: this.parseAnd(depth) };
    }
    return left;
  }

  private parseAnd(depth: number): FilterNode {
    let left = this.parseUnary(depth);
    while (isKeyword(this.peek(), 'and')) {
      this.index += 1;
      left = { kind: 'and', left, right: this.parseUnary(depth) };
    }
    return left;
  }

  private parseUnary(depth: number): FilterNode {
    const token = this.peek();
    if (isKeyword(token, 'not')) {
      this.index += 1;
      return { kind: 'not', operand: this.parseUnary(this.deeper(depth, token)) };
    }
    if (token.type === '(') {
      this.index += 1;
      const inner = this.parseOr(this.deeper(depth, token));
      this.expect(')', `Expected ')' at position ${this.peek().position}`);
      return inner;
    }
    if (token.type === 'identifier') {
      if (this.peek(1).type !== '(') return this.parseComparison(token.text, token.position);
      if (isKeyword(token, 'isof')) return this.parseIsof(token.position);
      throw filterError(`Function ${quote(token.text)} is not supported in $filter at position ${token.position}`);
    }
    throw filterError(
      `Expected a property, 'not', 'isof' or '(' at position ${token.position}, found ${describe(token)}`,
    );
  }

  private parseComparison(property: string, position: number): FilterNode {
    this.index += 1;
    const operatorToken = this.peek();
    const operator = operatorToken.type === 'identifier' ? operatorToken.text.toLowerCase() : '';
    if (operator === 'in') {
      this.index += 1;
      this.count(position);
      return { kind: 'in', property, values: this.parseList(), position };
    }
    if (!COMPARISON_OPERATORS.has(operator)) {
      const found = `at position ${operatorToken.position}, found ${describe(operatorToken)}`;
      throw filterError(`Expected an operator (${OPERATOR_LIST}) after ${quote(property)} ${found}`);
    }
    this.index += 1;
    this.count(position);
    return {
      kind: 'compare',
      property,
      operator: operator as ComparisonOperator,
      value: this.parseLiteral(),
      position,
    };
  }

  private parseList(): FilterLiteral[] {
    this.expect('(', `Expected '(' after 'in' at position ${this.peek().position}`);
    const values: FilterLiteral[] = [];
    do {
      if (values.length === FILTER_LIMITS.maxInItems) {
        throw filterError(
          `'in' takes at most ${FILTER_LIMITS.maxInItems} values; more at position ${this.peek().position}`,
        );
      }
      values.push(this.parseLiteral());
    } while (this.accept(','));
    this.expect(')', `Expected ',' or ')' at position ${this.peek().position}`);
    return values;
  }

  private parseLiteral(): FilterLiteral {
    const token = this.peek();
    if (token.type === 'string' || token.type === 'dateTime') {
      this.index += 1;
      return { type: token.type, value: token.text, position: token.position };
    }
    if (token.type === 'identifier') {
      const reason = /^(null|true|false)$/i.test(token.text)
        ? `${quote(token.text)} is not supported here`
        : `found ${quote(token.text)}; string values take single quotes`;
      throw filterError(`Expected a literal at position ${token.position}: ${reason}`);
    }
    throw filterError(`Expected a literal at position ${token.position}, found ${describe(token)}`);
  }

  /** `isof('T')`, `isof('#T')` or `isof(T)`, with the keyword at `position`. */
  private parseIsof(position: number): FilterNode {
    this.index += 2;
    const argument = this.peek();
    if (argument.type !== 'string' && argument.type !== 'identifier') {
      throw filterError(`Expected a type name in isof at position ${argument.position}`);
    }
    this.index += 1;
    if (this.peek().type === ',') {
      throw filterError(`isof takes a single type name in $filter; unexpected ',' at position ${this.peek().position}`);
    }
    this.expect(')', `Expected ')' at position ${this.peek().position}`);
    this.count(position);
    const typeName = argument.text.startsWith('#') ? argument.text.slice(1) : argument.text;
    return { kind: 'isof', typeName, position };
  }

  private deeper(depth: number, token: Token): number {
    if (depth === FILTER_LIMITS.maxDepth) {
      throw filterError(`$filter nests more than ${FILTER_LIMITS.maxDepth} levels deep at position ${token.position}`);
    }
    return depth + 1;
  }

  private count(position: number): void {
    this.comparisons += 1;
    if (this.comparisons > FILTER_LIMITS.maxComparisons) {
      const limit = FILTER_LIMITS.maxComparisons;
      throw filterError(`$filter has more than ${limit} comparisons; the next one is at position ${position}`);
    }
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)];
  }

  private accept(type: Token['type']): boolean {
    if (this.peek().type !== type) return false;
    this.index += 1;
    return true;
  }

  private expect(type: Token['type'], message: string): void {
    if (!this.accept(type)) throw filterError(message);
  }
}
