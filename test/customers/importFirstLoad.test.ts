/**
 * A first load into empty customer tables writes the rows without the tables' secondary indexes,
 * unique constraints and foreign keys and builds them once before the commit: after the import
 * they are all back, still enforced; an import that fails leaves them as they were; a load into a
 * table that already holds rows keeps them throughout.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { beginImport } from '../../db/customers/importer';
import type { TestDatabase } from '../helpers/db';
import { testLog } from '../helpers/temporal';
import { SAMPLE_DIR, emptiedCustomerDatabase, importDir, mappings } from './helpers';

describe('customer import: a first load builds indexes and constraints once', function () {
  const customerDb = emptiedCustomerDatabase();
  let database: TestDatabase;

  beforeEach(function () {
    database = customerDb();
  });

  /** Every index and constraint of the two tables, with its definition. */
  async function schema(): Promise<string[]> {
    const indexes = await database.db.raw(`select indexrelid::regclass::text || ': ' || pg_get_indexdef(indexrelid) as d from pg_index
      where indrelid in ('customer_source_records'::regclass, 'customer_purchases'::regclass)`);
    const constraints = await database.db.raw(`select conname || ': ' || pg_get_constraintdef(oid) || ' ' || convalidated as d from pg_constraint
      where conrelid in ('customer_source_records'::regclass, 'customer_purchases'::regclass)`);
    return [...indexes.rows, ...constraints.rows].map((r: { d: string }) => r.d).sort();
  }

  it('leaves every index and constraint as it was, enforced, and the rows findable through them', async function () {
    const before = await schema();
    assert.ok(before.some((d) => d.includes('search_fold(first_name)')), 'the name search index is there to begin with');
    assert.ok(before.some((d) => d.includes('FOREIGN KEY (first_import_id)')));
    const session = await beginImport(database.db, testLog, { origin: 'cli' });
    const all = mappings();
    for (const source of ['contacts', 'online_purchases']) {
      const mapping = all.get(source)!;
      const file = `${SAMPLE_DIR}/${mapping.fileName}`;
      await session.loadFile({ mapping, fileName: mapping.fileName, stream: (await import('node:fs')).createReadStream(file) });
    }
    const during = (await session.loadFile({ mapping: all.get('loyalty')!, fileName: 'loyalty.csv', stream: Readable.from(['LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn\nL1,,Ann,Lee,Ann Lee,,,,,,,\n']) }));
    assert.equal(during.rowsInserted, 1);
    await session.commit();
    // Person records: six search indexes, the links and last-import lookups, the (source, source_key) key, two foreign keys; purchases: one index, two foreign keys.
    assert.equal(session.rebuilt().statements, 14, 'every secondary index, unique key and foreign key was set aside and rebuilt');
    assert.deepEqual(await schema(), before);

    const plan = await database.db.transaction(async (trx) => {
      await trx.raw('set local enable_seqscan = off');
      return (await trx.raw(`explain select id from customer_source_records where search_fold(first_name) like 'amanda%'`)) as { rows: unknown[] };
    });
    assert.match(JSON.stringify(plan.rows), /customer_source_records_first_name/, 'the rebuilt name index serves the search');
    const [{ id: importId }] = await database.db('customer_imports').select('id').limit(1);
    await assert.rejects(
      database.db('customer_source_records').insert({ source: 'contacts', source_key: 'CNTID_1103', row_hash: 'x', first_import_id: importId }),
      /customer_source_records_source_source_key_unique/,
      'the unique key is enforced again',
    );
    await assert.rejects(
      database.db('customer_purchases').insert({ source: 'x', purchase_id: 'p', channel: 'pos', purchased_on: '2020-01-01', total_cents: 1, row_hash: 'x', first_import_id: '00000000-0000-0000-0000-000000000000' }),
      /foreign key/,
      'the foreign keys are enforced again',
    );
  });

  it('an import that fails after a first load leaves the schema and the tables as they were', async function () {
    const before = await schema();
    const session = await beginImport(database.db, testLog, { origin: 'cli' });
    await session.loadFile({ mapping: mappings().get('contacts')!, fileName: 'contacts.csv', stream: (await import('node:fs')).createReadStream(`${SAMPLE_DIR}/contacts.csv`) });
    await session.abort(new Error('stopped'));
    assert.deepEqual(await schema(), before);
    assert.equal(Number((await database.db('customer_source_records').count({ n: '*' }))[0].n), 0);
  });

  it('a load into a table that holds rows keeps its indexes and still upserts by key', async function () {
    await importDir(database.db, SAMPLE_DIR, ['contacts']);
    const session = await beginImport(database.db, testLog, { origin: 'cli' });
    const header = 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn';
    await session.loadFile({ mapping: mappings().get('loyalty')!, fileName: 'loyalty.csv', stream: Readable.from([`${header}\nL1,,Ann,Lee,Ann Lee,,,,,,,\n`]) });
    const indexes = await database.db.raw(`select count(*)::int as n from pg_index where indrelid = 'customer_source_records'::regclass`);
    assert.equal(indexes.rows[0].n, 10, 'the person table kept its ten indexes during the import');
    await session.commit();
    assert.equal(session.rebuilt().statements, 0);
  });
});
