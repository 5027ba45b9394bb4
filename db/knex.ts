/**
 * The one place that builds a Knex instance. Bigint columns (money in cents, counters) come back
 * from pg as strings; we parse them to numbers because every amount we store is far below 2^53.
 */
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { FileMigrationSource } from './migrationSource';

pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));

export type Db = Knex;

export interface DbOptions {
  pool?: { min: number; max: number };
}

export function createDb(connectionString: string, options: DbOptions = {}): Db {
  return knex({
    client: 'pg',
    connection: { connectionString, application_name: 'sales-process' },
    pool: options.pool ?? { min: 0, max: 10 },
    migrations: { migrationSource: new FileMigrationSource(), tableName: 'knex_migrations' },
  });
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}
