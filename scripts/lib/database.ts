/**
 * Opens the service's database for the stack and the CLIs: DATABASE_URL when set; otherwise the
 * embedded cluster under .data/postgres, reused when the stack already runs it, started otherwise.
 * Migrations run before anything uses it.
 */
import path from 'node:path';
import type { Config } from '../../config';
import type { Logger } from '../../config/logger';
import { embeddedDatabaseUrl, startEmbeddedPostgres } from '../../db/embedded';
import { createDb, migrateLatest, type Db } from '../../db/knex';
import { portOpen } from './services';

export interface OpenDatabase {
  db: Db;
  url: string;
  /** Closes the pool, and stops the embedded cluster when this call started it. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  migrate?: boolean;
  /** The stack owns its cluster: start it (stopping a leftover of a killed run) rather than reuse one. */
  own?: boolean;
}

export async function openDatabase(config: Config, log: Logger, options: OpenDatabaseOptions = {}): Promise<OpenDatabase> {
  let url = config.databaseUrl;
  let stopCluster: (() => Promise<void>) | null = null;
  if (!url) {
    if (!options.own && (await portOpen(config.embeddedPostgresPort))) {
      url = embeddedDatabaseUrl(config.embeddedPostgresPort);
      log.debug('using the embedded PostgreSQL the stack is running');
    } else {
      const cluster = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'postgres'), port: config.embeddedPostgresPort, database: 'sales', log,
      });
      url = cluster.url;
      stopCluster = cluster.stop;
      log.info({ port: config.embeddedPostgresPort, dataDir: path.join(config.dataDir, 'postgres') }, 'embedded PostgreSQL started');
    }
  }
  const db = createDb(url);
  if (options.migrate !== false) {
    const applied = await migrateLatest(db);
    log.info({ applied }, applied.length ? 'migrations applied' : 'database schema up to date');
  }
  return {
    db,
    url,
    async close() {
      await db.destroy();
      if (stopCluster) await stopCluster();
    },
  };
}
