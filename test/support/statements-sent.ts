import { DataSource, type Logger } from 'typeorm';
import type { TestApp } from './test-app.js';

export interface SentStatement {
  sql: string;
  parameters: unknown[];
}

/** The statements the service sends while `run` runs, as TypeORM's logger sees them (see Database). */
export async function statementsSent(t: TestApp, run: () => Promise<void>): Promise<SentStatement[]> {
  const dataSource: { logger: Logger } = t.app.get(DataSource);
  const logger = dataSource.logger;
  const sent: SentStatement[] = [];
  dataSource.logger = Object.assign(Object.create(logger) as Logger, {
    logQuery: (sql: string, parameters?: unknown[]) => void sent.push({ sql, parameters: parameters ?? [] }),
  });
  try {
    await run();
  } finally {
    dataSource.logger = logger;
  }
  return sent;
}
