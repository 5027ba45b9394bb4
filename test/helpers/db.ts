/** A fresh, migrated database per test file: a clone of the template the global setup migrated. */
import crypto from 'node:crypto';
import pg from 'pg';
import { createDb, type Db } from '../../db/knex';
import { TEMPLATE_DB, testEnv } from './env';

export interface TestDatabase {
  db: Db;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testEnv.adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { template?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${crypto.randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(options.template === false ? `create database ${name}` : `create database ${name} template ${TEMPLATE_DB}`));
  const url = testEnv.adminUrl.replace(/\/[^/]*$/, `/${name}`);
  const db = createDb(url, { pool: { min: 0, max: 8 } });
  return {
    db,
    url,
    async drop() {
      await db.destroy();
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** Row counts of the tables a rejected request must not touch. */
export async function countRows(db: Db, tables: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of tables) out[table] = Number((await db(table).count<{ count: number }[]>({ count: '*' }))[0].count);
  return out;
}
