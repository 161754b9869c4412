import { describe, expect, it } from 'vitest';
import { databaseFailureOf } from './database-failure.js';

const pgError = (code: string, message = 'm') => Object.assign(new Error(message), { code });
const wrapped = (code: string) => Object.assign(new Error('query failed'), { driverError: pgError(code) });

describe('databaseFailureOf', () => {
  it.each([
    ['25006', 'read-only transaction (a standby, or a demoted primary)'],
    ['57P01', 'admin shutdown'],
    ['57P02', 'crash shutdown'],
    ['57P03', 'cannot connect now (starting up, in recovery)'],
    ['08006', 'connection failure'],
    ['08003', 'connection does not exist'],
    ['08000', 'connection exception'],
    ['53300', 'too many connections'],
    ['57014', 'statement timeout'],
  ])('%s (%s) is unavailable, bare or wrapped by TypeORM', (code) => {
    expect(databaseFailureOf(pgError(code))).toBe('unavailable');
    expect(databaseFailureOf(wrapped(code))).toBe('unavailable');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'])(
    'a socket error %s is unavailable',
    (code) => expect(databaseFailureOf(pgError(code))).toBe('unavailable'),
  );

  it.each([
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'timeout exceeded when trying to connect',
    'Query read timeout',
  ])('what node-postgres says of a dropped socket or a pool timeout is unavailable: %s', (message) => {
    expect(databaseFailureOf(new Error(message))).toBe('unavailable');
  });

  it("is unavailable for TypeORM's query runner released under a failed connection", () => {
    const error = new Error('released');
    error.name = 'QueryRunnerAlreadyReleasedError';
    expect(databaseFailureOf(error)).toBe('unavailable');
  });

  it.each(['22021', '22P02', '22003', '23514'])('%s is the request’s fault: invalid', (code) => {
    expect(databaseFailureOf(wrapped(code))).toBe('invalid');
  });

  it.each(['23505', '23503', '42P01', '57P04', '40001', 'XX000'])(
    '%s is neither: a bug or a conflict, not a retry',
    (code) => {
      expect(databaseFailureOf(wrapped(code))).toBeUndefined();
    },
  );

  it("reads a server's codes, never its messages: a connection phrase in a SQL error changes nothing", () => {
    expect(databaseFailureOf(pgError('23505', 'Connection terminated'))).toBeUndefined();
    expect(databaseFailureOf(pgError('22P02', 'Connection terminated'))).toBe('invalid');
    expect(databaseFailureOf(undefined)).toBeUndefined();
    expect(databaseFailureOf('Connection terminated')).toBeUndefined();
  });
});
