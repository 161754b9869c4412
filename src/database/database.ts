import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { sessionTimeouts } from './data-source-options.js';
import { DatabaseUnavailableError } from './database.errors.js';
import { databaseFailureOf } from './database-failure.js';
import { inStatementSpan } from './statement-span.js';

/** Where a statement runs: the pool, or the one client of a transaction. */
export interface Queryable {
  /**
   * Runs `text` as a named prepared statement when `name` is given. TypeORM sends every query unnamed,
   * so PostgreSQL plans it on every call; for the hot statements that planning cost more than the
   * execution (pgbench: 3,820 vs 1,614 calls/s). Only fixed texts, or names from dynamicStatementName,
   * may be named: each connection keeps every name it has prepared. Behind a transaction pooler
   * (DATABASE_POOLER=transaction) every statement goes unnamed: consecutive statements of one client
   * reach different server sessions, which know other clients' names or not this one (42P05, 26000).
   */
  query<T extends QueryResultRow>(name: string | undefined, text: string, values?: unknown[]): Promise<T[]>;
}

/**
 * The one way the service reaches PostgreSQL at run time. It runs on the DataSource's pool, reached
 * through `PostgresDriver.master`, a public member of TypeORM's exported driver class: a pool of our own
 * would double the connections past DB_POOL_SIZE (TypeORM opens its pool to migrate and check drift)
 * and split the lifecycle (connect, readiness, shutdown order) that DatabaseLifecycle owns.
 */
@Injectable()
export class Database implements Queryable {
  /** Statements may be named (prepared once per connection). */
  private readonly named: boolean;
  /** What opens a transaction: behind a transaction pooler it also sets the timeouts a session cannot carry. */
  private readonly begin: string;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'databasePooler' | 'dbStatementTimeoutMs'>,
  ) {
    this.named = config.databasePooler !== 'transaction';
    this.begin = this.named ? 'BEGIN' : beginWithTimeouts(config.dbStatementTimeoutMs);
  }

  async query<T extends QueryResultRow>(name: string | undefined, text: string, values?: unknown[]): Promise<T[]> {
    return this.run(this.pool(), name, text, values);
  }

  /** `fn`'s statements on one client, committed together; rolled back when `fn` throws. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    let broken: Error | undefined;
    // Every pooled client has a listener for its whole life (listenForSessionEnd), so a session the server
    // ends cannot end the process; this one marks the transaction's client broken, so that it is dropped,
    // not reused. An end reported before it is attached fails the next statement, which drops it too.
    const onError = (error: Error) => {
      broken = error;
    };
    const client = await this.pool().connect();
    client.on('error', onError);
    const tx: Queryable = { query: (name, text, values) => this.run(client, name, text, values) };
    try {
      await inStatementSpan(undefined, this.begin, () => client.query(this.begin));
      const value = await fn(tx);
      await inStatementSpan(undefined, 'COMMIT', () => client.query('COMMIT'));
      return value;
    } catch (error) {
      // A session on a server that is read-only, in recovery or going away may lead to a demoted
      // primary however long it stays open: it serves no other request.
      if (databaseFailureOf(error) === 'unavailable') broken = error as Error;
      await inStatementSpan(undefined, 'ROLLBACK', () => client.query('ROLLBACK')).catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      // A client whose session ended, whose server is unavailable or whose rollback failed is broken:
      // the pool drops it. (Outside a transaction, the pool's own query drops a client on any error.)
      // A dropped client may still report its session's end after this: it keeps the listener.
      if (!broken) client.off('error', onError);
      client.release(broken);
    }
  }

  /** Whether the pool is open: background sweeps skip their turn while it is not. */
  isOpen(): boolean {
    return this.openPool() !== undefined;
  }

  /** The pool's counts, for the metrics; undefined before the first connection. */
  poolStats(): { total: number; idle: number; waiting: number } | undefined {
    const pool = this.openPool();
    return pool && { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }

  /** Runs one statement on the pool or on a transaction's client, named only where names are allowed. */
  private async run<T extends QueryResultRow>(
    on: Pool | PoolClient,
    name: string | undefined,
    text: string,
    values: unknown[] = [],
  ): Promise<T[]> {
    // Through TypeORM's logger, as its own queries are (it filters by the `logging` option).
    this.dataSource.logger.logQuery(text, values);
    const statement = name === undefined || !this.named ? { text, values } : { name, text, values };
    const result = await inStatementSpan(name, text, () => on.query<T>(statement));
    return result.rows;
  }

  private openPool(): Pool | undefined {
    const driver = this.dataSource.driver;
    if (!this.dataSource.isInitialized || !(driver instanceof PostgresDriver)) return undefined;
    return driver.master as Pool | undefined;
  }

  private pool(): Pool {
    const pool = this.openPool();
    if (!pool) throw new DatabaseUnavailableError();
    return pool;
  }
}

/**
 * `BEGIN` and the session's timeouts as `SET LOCAL`, in one simple query (one round trip, as `BEGIN`
 * alone): they end with the transaction, so the pooler's next client on that server session is unaffected.
 */
export function beginWithTimeouts(statementTimeoutMs: number): string {
  const timeouts = sessionTimeouts(Math.trunc(statementTimeoutMs));
  return [
    'BEGIN',
    `SET LOCAL statement_timeout = ${timeouts.statement_timeout}`,
    `SET LOCAL idle_in_transaction_session_timeout = ${timeouts.idle_in_transaction_session_timeout}`,
  ].join('; ');
}
