import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module.js';
import { GraphExceptionFilter } from './common/errors/graph-exception.filter.js';
import { RouteTable } from './common/http/route-table.js';
import { GraphValidationPipe } from './common/validation/graph-validation.pipe.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { dataSourceOptions } from './database/data-source-options.js';
import { HealthModule } from './health/health.module.js';
import { ThreatAssessmentModule } from './threat-assessment/threat-assessment.module.js';

export interface AppModuleOptions {
  config: AppConfig;
  /** The resolved database: `DATABASE_URL` or the embedded server's. */
  databaseUrl: string;
}

@Module({})
export class AppModule {
  static forRoot({ config, databaseUrl }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot({
          ...dataSourceOptions({
            url: databaseUrl,
            poolSize: config.dbPoolSize,
            connectTimeoutMs: config.dbConnectTimeoutMs,
            statementTimeoutMs: config.dbStatementTimeoutMs,
          }),
          // Start even while the database is down; requests answer 503 until it is back.
          retryAttempts: 0,
        }),
        AuthModule,
        HealthModule,
        ThreatAssessmentModule,
      ],
      providers: [
        RouteTable,
        { provide: APP_PIPE, useClass: GraphValidationPipe },
        { provide: APP_FILTER, useClass: GraphExceptionFilter },
      ],
      exports: [RouteTable],
    };
  }
}
