import { describe, expect, it } from 'vitest';
import { dynamicStatementName, filteredStatementName, MAX_DYNAMIC_STATEMENTS } from './prepared-query.js';

describe('dynamicStatementName', () => {
  it('names a text the same way every time, and different texts differently', () => {
    const a = dynamicStatementName('list', 'SELECT 1 WHERE a = $1');
    expect(a).toMatch(/^list_[0-9a-f]{24}$/);
    expect(dynamicStatementName('list', 'SELECT 1 WHERE a = $1')).toBe(a);
    expect(dynamicStatementName('list', 'SELECT 1 WHERE b = $1')).not.toBe(a);
  });

  it('stops naming new texts once the budget is spent, and keeps the names it gave', () => {
    const first = dynamicStatementName('budget', 'SELECT 0');
    for (let i = 1; i < MAX_DYNAMIC_STATEMENTS * 2; i++) dynamicStatementName('budget', `SELECT ${i}`);
    expect(dynamicStatementName('budget', 'SELECT a brand new shape')).toBeUndefined();
    expect(dynamicStatementName('budget', 'SELECT 0')).toBe(first);
  });
});

describe('filteredStatementName', () => {
  it("gives the fixed name without a $filter, and the text's name with one", () => {
    expect(filteredStatementName(undefined, 'SELECT 1', 'list_x', 'ASC', 'first')).toBe('list_x_ASC_first');
    expect(filteredStatementName(undefined, 'SELECT 1', 'count_x')).toBe('count_x');
    const text = 'SELECT 1 WHERE c = $1';
    expect(filteredStatementName("c eq 'a'", text, 'list_x', 'ASC', 'first')).toBe(
      dynamicStatementName('list_x', text),
    );
  });
});
