import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source-options.js';
import { Database } from './database.js';
import { DatabaseLifecycle } from './database-lifecycle.service.js';
import { DatabaseReadyGuard } from './database-ready.guard.js';

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRoot({
          ...dataSourceOptions({
            url: databaseUrl,
            poolSize: config.dbPoolSize,
            connectTimeoutMs: config.dbConnectTimeoutMs,
            statementTimeoutMs: config.dbStatementTimeoutMs,
            pooler: config.databasePooler,
          }),
          // DatabaseLifecycle connects, so that the app starts even while the database is down.
          manualInitialization: true,
        }),
      ],
      providers: [Database, DatabaseLifecycle, { provide: APP_GUARD, useClass: DatabaseReadyGuard }],
      exports: [Database, DatabaseLifecycle],
    };
  }
}
