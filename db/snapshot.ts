/**
 * Reads that must agree with each other, in one round trip. The statements travel to PostgreSQL as
 * one simple-query message, which it runs as one implicit transaction; `SET TRANSACTION` first makes
 * that transaction REPEATABLE READ and READ ONLY, so every read sees the same snapshot — what
 * `db.transaction(…, { isolationLevel: 'repeatable read' })` gives, without a round trip for each
 * statement, the BEGIN and the COMMIT. An error in any statement rolls the whole message back
 * and leaves the connection clean.
 *
 * The simple-query protocol takes no parameters: each builder's bindings are inlined by knex's
 * own escaping (`toSQL().toNative()` is not usable here). Pass builders over validated values.
 */
import type { Knex } from 'knex';

export type Rows = Record<string, unknown>[];

export async function readTogether<K extends string>(db: Knex, queries: Record<K, Knex.QueryBuilder>): Promise<Record<K, Rows>> {
  const keys = Object.keys(queries) as K[];
  // Inside a transaction the caller's transaction is the snapshot; SET TRANSACTION would come too late.
  const head = db.isTransaction ? [] : ['set transaction isolation level repeatable read, read only'];
  const statements = [...head, ...keys.map((key) => queries[key].toString())];
  const results = (await db.raw(statements.join(';\n'))) as { rows: Rows }[] | { rows: Rows };
  const list = Array.isArray(results) ? results : [results];
  const offset = head.length;
  return Object.fromEntries(keys.map((key, i) => [key, list[offset + i].rows])) as Record<K, Rows>;
}
