/**
 * `npm run migrate` / `npm run migrate:down` (also the image's migrate step):
 *   latest            apply pending migrations
 *   rollback [--all]  undo the last batch, or everything
 *   status            list applied and pending migrations
 * Uses DATABASE_URL, or the stack's embedded cluster.
 */
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { embeddedDatabaseUrl } from './embedded';
import { createDb, migrateLatest } from './knex';

async function main(): Promise<void> {
  const [command = 'latest', flag] = process.argv.slice(2);
  const config = loadConfig();
  const log = createLogger(config.logLevel).child({ component: 'migrate' });
  const db = createDb(config.databaseUrl ?? embeddedDatabaseUrl(config.embeddedPostgresPort));
  try {
    if (command === 'latest') {
      const applied = await migrateLatest(db);
      log.info({ applied }, applied.length ? 'migrations applied' : 'already up to date');
    } else if (command === 'rollback') {
      const [, undone] = (await db.migrate.rollback(undefined, flag === '--all')) as [number, string[]];
      log.info({ undone }, 'rolled back');
    } else if (command === 'status') {
      const [done, pending] = (await db.migrate.list()) as [Array<{ name: string }>, Array<{ file: string }>];
      log.info({ applied: done.map((m) => m.name), pending: pending.map((m) => m.file) }, 'migration status');
    } else {
      throw new Error(`unknown command "${command}": use latest, rollback [--all] or status`);
    }
  } finally {
    await db.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
