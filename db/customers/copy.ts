/**
 * Bulk writes through `COPY ... FROM STDIN` on one pooled connection: the unification phases
 * write up to a row per source record, which batched INSERTs would make the slowest part of a
 * run. Optionally inside a transaction with statements before and after the copy.
 */
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../knex';

export type CopyValue = string | number | boolean | null | undefined | string[] | object;

function field(value: CopyValue): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (Array.isArray(value)) text = `{${value.map((v) => `"${String(v).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function* lines(rows: Iterable<CopyValue[]>, batch = 500): Generator<string> {
  let chunk = '';
  let n = 0;
  for (const row of rows) {
    chunk += `${row.map(field).join('\t')}\n`;
    if (++n === batch) {
      yield chunk;
      chunk = '';
      n = 0;
    }
  }
  if (chunk) yield chunk;
}

export async function withConnection<T>(db: Db, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = (await db.client.acquireConnection()) as pg.Client;
  try {
    return await fn(client);
  } finally {
    db.client.releaseConnection(client);
  }
}

export async function copyInto(client: pg.Client, table: string, columns: string[], rows: Iterable<CopyValue[]>): Promise<void> {
  const copy = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
  await pipeline(Readable.from(lines(rows)), copy as unknown as Writable);
}

/** `before` statements, the copy and `after` statements in one transaction. */
export async function copyInTransaction(db: Db, spec: {
  before?: Array<[string, unknown[]]>;
  table: string;
  columns: string[];
  rows: Iterable<CopyValue[]>;
  after?: Array<[string, unknown[]]>;
}): Promise<void> {
  await withConnection(db, async (client) => {
    await client.query('begin');
    try {
      for (const [sql, params] of spec.before ?? []) await client.query(sql, params);
      await copyInto(client, spec.table, spec.columns, spec.rows);
      for (const [sql, params] of spec.after ?? []) await client.query(sql, params);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}
