import type { AppConfig } from '../config/app-config.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface ResolvedDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export const EMBEDDED_DATABASE_NAME = 'threat_assessment';

/** `DATABASE_URL` when set; otherwise the embedded PostgreSQL with its data in a git-ignored folder. */
export async function resolveDatabase(
  config: Pick<AppConfig, 'databaseUrl' | 'embeddedPostgres'>,
  onLog?: (message: string) => void,
): Promise<ResolvedDatabase> {
  if (config.databaseUrl) {
    return { url: config.databaseUrl, embedded: false, stop: () => Promise.resolve() };
  }
  const server = await startEmbeddedPostgres({
    dir: config.embeddedPostgres.dir,
    port: config.embeddedPostgres.port,
    database: EMBEDDED_DATABASE_NAME,
    persistent: true,
    onLog,
  });
  return { url: server.url, embedded: true, stop: () => server.stop() };
}
