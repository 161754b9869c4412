import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DatabaseUnavailableError } from './database.errors.js';
import { applyMigrations, runMigrations } from './run-migrations.js';

const RETRY_INTERVAL_MS = 1000;

/**
 * Connects the app's DataSource (and applies migrations) without ever failing the start: while the
 * database is down the process stays up, liveness answers, and everything else answers 503 until a
 * background retry succeeds. The pool then reconnects by itself after later outages.
 */
@Injectable()
export class DatabaseLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private connecting?: Promise<boolean>;
  private failures = 0;
  /**
   * Set once connected AND migrated. Not `dataSource.isInitialized`: TypeORM sets that as soon as the pool
   * exists, before the migrations run, and a request let through then fails on a missing table (500).
   */
  private connected = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!(await this.connect())) this.scheduleRetry();
  }

  onApplicationShutdown(): Promise<void> | undefined {
    this.stopped = true;
    this.connected = false;
    clearTimeout(this.retry);
    return this.dataSource.isInitialized ? this.dataSource.destroy() : undefined;
  }

  assertReady(): void {
    if (!this.connected) throw new DatabaseUnavailableError();
  }

  private connect(): Promise<boolean> {
    this.connecting ??= this.tryConnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async tryConnect(): Promise<boolean> {
    try {
      await this.dataSource.initialize();
    } catch (error) {
      // Once per outage, not once per retry.
      if (this.failures++ === 0) {
        this.logger.warn(`Database not reachable, retrying every ${RETRY_INTERVAL_MS} ms: ${describe(error)}`);
      }
      return false;
    }
    try {
      if (this.config.migrationsRun) {
        // On their own direct connection when given: the pool may reach PostgreSQL through a transaction pooler.
        const applied = this.config.migrationsDatabaseUrl
          ? await runMigrations(this.config.migrationsDatabaseUrl)
          : await applyMigrations(this.dataSource);
        this.logger.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Schema is up to date');
      }
      this.connected = !this.stopped;
      return true;
    } catch (error) {
      this.logger.warn(`Migrations could not run, retrying: ${describe(error)}`);
      await this.dataSource.destroy().catch(() => undefined);
      return false;
    }
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.retry = setTimeout(() => {
      void this.connect().then((ok) => {
        if (!ok) return this.scheduleRetry();
        this.logger.log(`Database connected after ${this.failures} failed attempts`);
        this.failures = 0;
      });
    }, RETRY_INTERVAL_MS);
    this.retry.unref();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
