/**
 * readTogether (db/snapshot.ts): several reads in one round trip that see one snapshot, against a
 * real PostgreSQL. The deal detail relies on it: the stage, the facts and the moves it shows must
 * belong together while the deal's workflow writes.
 */
import assert from 'node:assert/strict';
import { createDb, type Db } from '../../db/knex';
import { readTogether } from '../../db/snapshot';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

describe('readTogether: reads in one round trip and one snapshot', function () {
  let database: TestDatabase;
  let db: Db;

  before(async function () {
    database = await createTestDatabase();
    db = database.db;
    await db.schema.createTable('probe_a', (t) => {
      t.integer('id').primary();
      t.integer('v').notNullable();
      t.text('name');
    });
    await db.schema.createTable('probe_b', (t) => {
      t.integer('id').primary();
      t.integer('v').notNullable();
    });
    await db('probe_a').insert({ id: 1, v: 0, name: "O'Brien; drop table probe_b; --" });
    await db('probe_b').insert({ id: 1, v: 0 });
  });

  after(async function () {
    await database?.drop();
  });

  it('every read sees the same state while a writer commits between them', async function () {
    let writing = true;
    const writer = (async () => {
      while (writing) {
        await db.transaction(async (trx) => {
          await trx('probe_a').increment('v', 1);
          await trx('probe_b').increment('v', 1);
        });
      }
    })();
    try {
      let seen = 0;
      for (let i = 0; i < 25; i++) {
        // The sleep between the two reads gives the writer time to commit in between.
        const rows = await readTogether(db, {
          a: db('probe_a').select('v'),
          pause: db.select(db.raw('pg_sleep(0.02)')),
          b: db('probe_b').select('v'),
        });
        assert.equal(rows.a[0].v, rows.b[0].v, `read ${i}: both tables at the same commit`);
        seen = rows.a[0].v as number;
      }
      assert.ok(seen > 0, 'the writer committed while we read');
    } finally {
      writing = false;
      await writer;
    }
  });

  it('inlines values safely: a quote and a semicolon are data, not SQL', async function () {
    const name = "O'Brien; drop table probe_b; --";
    const rows = await readTogether(db, { a: db('probe_a').where({ name }), b: db('probe_b').where({ id: 1 }) });
    assert.equal(rows.a.length, 1);
    assert.equal(rows.a[0].name, name);
    assert.equal(rows.b.length, 1, 'probe_b is still there');
  });

  it('a failing read rejects the call and leaves the connection clean for the next query', async function () {
    const single = createDb(database.url, { pool: { min: 0, max: 1 } });
    try {
      await assert.rejects(readTogether(single, { a: single('probe_a'), missing: single('no_such_table') }), /no_such_table/);
      // The same (only) connection: no transaction left open or aborted, and writes are allowed again.
      const isolation = (await single.raw('show transaction_isolation')) as { rows: { transaction_isolation: string }[] };
      assert.equal(isolation.rows[0].transaction_isolation, 'read committed');
      await single('probe_b').where({ id: 1 }).update({ v: single.raw('v') });
    } finally {
      await single.destroy();
    }
  });

  it('inside a transaction it reads that transaction\'s state, uncommitted writes included', async function () {
    const trx = await db.transaction();
    try {
      await trx('probe_b').insert({ id: 2, v: 7 });
      const rows = await readTogether(trx, { b: trx('probe_b').where({ id: 2 }) });
      assert.deepEqual(rows.b, [{ id: 2, v: 7 }]);
    } finally {
      await trx.rollback();
    }
    assert.equal((await db('probe_b').where({ id: 2 })).length, 0);
  });
});
