import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AuthModule } from './auth/auth.module.js';
import { GraphExceptionFilter } from './common/errors/graph-exception.filter.js';
import { RouteTable } from './common/http/route-table.js';
import { GraphValidationPipe } from './common/validation/graph-validation.pipe.js';
import type { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { ODataModule } from './odata/odata.module.js';
import { ThrottlingModule } from './throttling/throttling.module.js';
import { IdempotencyModule } from './idempotency/idempotency.module.js';
import { ThreatAssessmentModule } from './threat-assessment/threat-assessment.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';

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
        DatabaseModule.forRoot(config, databaseUrl),
        AuthModule,
        HealthModule,
        ObservabilityModule,
        ODataModule,
        ThrottlingModule,
        IdempotencyModule,
        ThreatAssessmentModule,
        NotificationsModule,
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
