import type { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { DatabasePooler } from '../config/app-config.js';
import { listenForSessionEnd } from './data-source-options.js';
import { beginWithTimeouts, Database } from './database.js';

/** A Database on a recording stand-in for the pg pool (a real PostgresDriver instance, not initialised). */
function databaseOn(pooler: DatabasePooler) {
  const sent: unknown[] = [];
  const client = {
    query: (statement: unknown) => {
      sent.push(statement);
      return Promise.resolve({ rows: [] });
    },
    on: () => client,
    off: () => client,
    release: () => undefined,
  };
  const pool = { query: client.query, connect: () => Promise.resolve(client) };
  const driver = Object.assign(Object.create(PostgresDriver.prototype) as PostgresDriver, { master: pool });
  const dataSource = { isInitialized: true, driver, logger: { logQuery: () => undefined } } as unknown as DataSource;
  return { database: new Database(dataSource, { databasePooler: pooler, dbStatementTimeoutMs: 2000 }), sent };
}

describe('Database', () => {
  it('names prepared statements and opens transactions with a bare BEGIN without a pooler', async () => {
    const { database, sent } = databaseOn('none');
    await database.query('q1', 'SELECT $1::int', [1]);
    await database.transaction((tx) => tx.query('q2', 'SELECT 2', []));
    expect(sent).toEqual([
      { name: 'q1', text: 'SELECT $1::int', values: [1] },
      'BEGIN',
      { name: 'q2', text: 'SELECT 2', values: [] },
      'COMMIT',
    ]);
  });

  it('sends every statement unnamed and sets the timeouts per transaction behind a transaction pooler', async () => {
    const { database, sent } = databaseOn('transaction');
    await database.query('q1', 'SELECT $1::int', [1]);
    await database.transaction((tx) => tx.query('q2', 'SELECT 2', []));
    expect(sent).toEqual([
      { text: 'SELECT $1::int', values: [1] },
      beginWithTimeouts(2000),
      { text: 'SELECT 2', values: [] },
      'COMMIT',
    ]);
  });
});

describe('Database.transaction and a session the server ends', () => {
  it('survives an end reported as the pool hands the client over, and drops the client', async () => {
    const ended = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const client = Object.assign(new EventEmitter(), {
      query: () => Promise.reject(new Error('Client has encountered a connection error and is not queryable')),
      release: vi.fn(),
    });
    // As the pool's onConnect does for every client it opens.
    listenForSessionEnd(client);
    // As pg-pool does when it hands a just-released client to a waiter while parsing that client's data:
    // the session's end follows in the same tick, before the waiter's continuation runs.
    const pool = {
      connect: () => {
        const handedOver = Promise.resolve(client);
        client.emit('error', ended);
        return handedOver;
      },
    };
    const driver = Object.assign(Object.create(PostgresDriver.prototype) as PostgresDriver, { master: pool });
    const dataSource = { isInitialized: true, driver, logger: { logQuery: () => undefined } } as unknown as DataSource;
    const database = new Database(dataSource, { databasePooler: 'none', dbStatementTimeoutMs: 2000 });
    await expect(database.transaction(() => Promise.resolve('never'))).rejects.toThrow(/not queryable/);
    expect(client.release).toHaveBeenCalledWith(expect.any(Error));
    // The client's own listener, and the transaction's, kept on a dropped client for its later reports.
    expect(client.listenerCount('error')).toBe(2);
  });
});

describe('beginWithTimeouts', () => {
  it('opens the transaction and sets both server-side timeouts for it alone', () => {
    expect(beginWithTimeouts(2000)).toBe(
      'BEGIN; SET LOCAL statement_timeout = 2000; SET LOCAL idle_in_transaction_session_timeout = 4000',
    );
  });
});
