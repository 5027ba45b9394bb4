/**
 * The one place that builds a Knex instance. Bigint and numeric columns (money in cents, counters,
 * sums) come back from pg as strings; we parse them to numbers, which is exact because every amount
 * we store is bounded far below 2^53 (domain/money.ts). A value that is not exact as a number (a
 * sum over an absurd number of rows) fails the query rather than being rounded.
 */
import knex, { type Knex } from 'knex';
import pg from 'pg';
import { FileMigrationSource } from './migrationSource';

/** SQLSTATE-like code of a value we refuse to round: classified with Postgres's own 22003. */
export class InexactNumberError extends RangeError {
  readonly code = '22003';
  constructor(value: string) {
    super(`${value} cannot be held exactly as a number`);
    this.name = 'InexactNumberError';
  }
}

function exactNumber(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) && (Number.isInteger(number) || Math.abs(number) > Number.MAX_SAFE_INTEGER)) throw new InexactNumberError(value);
  return number;
}

pg.types.setTypeParser(pg.types.builtins.INT8, exactNumber);
pg.types.setTypeParser(pg.types.builtins.NUMERIC, exactNumber);

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
