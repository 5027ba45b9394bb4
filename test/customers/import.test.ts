/**
 * Importing the four customer sources: mapping and type parsing, every kind of bad row kept
 * with its file, line and reason, awkward-but-valid CSV that must load, idempotent re-import
 * and upsert by source key.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadMappingFile } from '../../config/customers';
import { beginImport } from '../../db/customers/importer';
import { parseDate, parseInteger, parseMoney } from '../../domain/customers/values';
import { CustomerImportStore } from '../../db/stores/customerImports';
import type { TestDatabase } from '../helpers/db';
import { testLog } from '../helpers/temporal';
import { SAMPLE_DIR, emptiedCustomerDatabase, importCsv, importDir, mappings } from './helpers';

const CONTACT_HEADER = 'ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,PostCode,StreetAddress,City,State,Country,CreatedOn,Loyalty Tier,Email Subscriber,Income,Occupation,CustomerSatisfaction';
const contact = (id: string, over: Partial<Record<'first' | 'last' | 'dob' | 'email' | 'phone', string>> = {}) =>
  [id, over.first ?? 'Abbie', over.last ?? 'Moss', 'Abbie Moss', over.dob ?? '5/8/1986', 'Female', over.email ?? 'abbie_moss@example.com',
    over.phone ?? '983.566.0706x9509', '10753', '129 Miller Plaza', 'Fairfield', 'California', 'USA', '3/14/2017', 'high', 'Yes', '256414.11', 'Software Engineer', 'high'].join(',');

describe('customer import', function () {
  const customerDb = emptiedCustomerDatabase();
  let database: TestDatabase;

  beforeEach(function () {
    database = customerDb();
  });

  describe('type parsing', function () {
    it('reads dates in M/D/YYYY and ISO forms and refuses impossible ones', function () {
      assert.deepEqual(parseDate('5/8/1986'), { ok: true, value: '1986-05-08' });
      assert.deepEqual(parseDate('12/23/2018'), { ok: true, value: '2018-12-23' });
      assert.deepEqual(parseDate('2018-05-08'), { ok: true, value: '2018-05-08' });
      assert.deepEqual(parseDate('2019-03-01T23:30:00-05:00'), { ok: true, value: '2019-03-02' });
      assert.deepEqual(parseDate('  '), { ok: true, value: null });
      assert.equal(parseDate('2/30/2020').ok, false);
      assert.equal(parseDate('not-a-date').ok, false);
      assert.deepEqual(parseDate('08.05.1986', ['D.M.YYYY']), { ok: true, value: '1986-05-08' });
    });

    it('reads money into integer cents and whole numbers exactly', function () {
      assert.deepEqual(parseMoney('2516'), { ok: true, value: 251_600 });
      assert.deepEqual(parseMoney('39.95'), { ok: true, value: 3995 });
      assert.deepEqual(parseMoney('179.5'), { ok: true, value: 17_950 });
      assert.deepEqual(parseMoney('$1,234.56'), { ok: true, value: 123_456 });
      assert.deepEqual(parseMoney('-12.00'), { ok: true, value: -1200 });
      assert.equal(parseMoney('abc').ok, false);
      assert.equal(parseMoney('1.005').ok, false, 'a third decimal is not silently rounded');
      assert.deepEqual(parseInteger('1,024'), { ok: true, value: 1024 });
      assert.equal(parseInteger('12.5').ok, false);
    });
  });

  it('maps the four sample sources onto the standard model with their types', async function () {
    const result = await importDir(database.db, SAMPLE_DIR);
    assert.equal(result.files.contacts.rowsLoaded, 319);
    assert.equal(result.files.loyalty.rowsLoaded, 254);
    assert.equal(result.files.online_purchases.rowsLoaded, 752);
    assert.equal(result.files.pos_purchases.rowsRead, 688);
    assert.equal(result.files.pos_purchases.rowsLoaded, 687);
    assert.deepEqual(result.files.pos_purchases.rejectReasons, { invalid_value: 1 });

    const amanda = await database.db('customer_source_records').where({ source: 'contacts', source_key: 'CNTID_1103' }).first();
    assert.equal(amanda.first_name, 'Amanda');
    assert.equal(amanda.date_of_birth.toISOString().slice(0, 10), '1949-10-04');
    assert.equal(amanda.postal_code, '78226');
    assert.deepEqual(amanda.extra, { 'Loyalty Tier': 'low', 'Email Subscriber': false, Income: 124368.633597, Occupation: 'Retired', CustomerSatisfaction: 'low' });
    const member = await database.db('customer_source_records').where({ source: 'loyalty', source_key: 'LOYID_1407' }).first();
    assert.deepEqual(member.links, { contacts: 'CNTID_1386' });
    assert.equal(member.reward_points !== null, true);
    const sale = await database.db('customer_purchases').where({ source: 'pos_purchases', purchase_id: 'PID_1093' }).first();
    assert.deepEqual([sale.channel, sale.customer_source, sale.customer_key, sale.total_cents, sale.points_added], ['pos', 'loyalty', 'LOYID_1094', 38_997, 38]);
    const anonymous = await database.db('customer_purchases').where({ source: 'pos_purchases', purchase_id: 'PID_1627' }).first();
    assert.equal(anonymous.customer_key, null, 'an anonymous in-store sale loads without a buyer');

    const rejects = await new CustomerImportStore(database.db).rejects(result.id, { limit: 10, offset: 0 });
    assert.deepEqual(rejects.items.map((r) => [r.fileName, r.line, r.reason, r.columnName]), [['pos_purchases.csv', 503, 'invalid_value', 'PurchasedOn']]);
    assert.match(rejects.items[0].raw!, /^LOYID_1000,PID_BAD,/);
  });

  it('loads a UTF-8 BOM, CRLF line ends, quoted commas and a missing trailing newline', async function () {
    const text = `\uFEFF${CONTACT_HEADER}\r\n${contact('C1', { last: '"Moss, Jr."' })}\r\n${contact('C2', { first: 'Chloé' })}\r\n${contact('C3')}`;
    const result = await importCsv(database.db, { contacts: text });
    assert.equal(result.files.contacts.rowsLoaded, 3);
    assert.equal(result.files.contacts.rowsRejected, 0);
    const rows = await database.db('customer_source_records').orderBy('source_key').select('source_key', 'first_name', 'last_name', 'line');
    assert.deepEqual(rows.map((r) => [r.source_key, r.first_name, r.last_name, r.line]), [['C1', 'Abbie', 'Moss, Jr.', 2], ['C2', 'Chloé', 'Moss', 3], ['C3', 'Abbie', 'Moss', 4]]);
  });

  it('keeps every kind of bad row with its file, line and reason, and loads the rest', async function () {
    const lines = [
      CONTACT_HEADER,
      contact('C1'), // 2: fine
      contact('C2', { dob: '2/30/1990' }), // 3: impossible date: the person loads without it
      `C3,Only,Three`, // 4: too few columns
      contact('', { first: 'Nobody' }), // 5: no key
      contact('C1', { first: 'Again' }), // 6: duplicate of line 2
      contact('C4', { email: 'not-an-email' }), // 7: bad e-mail: the person loads without it
      contact('C5', { first: '"Multi\nline"' }), // 8-9: a quoted newline is fine
      contact('C6', { first: 'Bad\uFFFDbyte' }), // 10: invalid UTF-8 (decoded as U+FFFD)
      `C7,"Unclosed,Moss,Abbie Moss`, // 11: the quote never closes: the rest of the file is one broken record
    ];
    const result = await importCsv(database.db, { contacts: lines.join('\n') });
    const summary = result.files.contacts;
    assert.equal(summary.rowsRead, 9);
    assert.equal(summary.rowsLoaded, 4);
    assert.equal(summary.rowsRejected, 5);
    assert.equal(summary.valuesRejected, 2);
    const rejects = await new CustomerImportStore(database.db).rejects(result.id, { limit: 50, offset: 0 });
    assert.deepEqual(rejects.items.map((r) => [r.fileName, r.line, r.scope, r.reason, r.columnName]), [
      ['contacts.csv', 3, 'value', 'invalid_value', 'DateOfBirth'],
      ['contacts.csv', 4, 'row', 'wrong_column_count', null],
      ['contacts.csv', 5, 'row', 'missing_key', 'ContactId'],
      ['contacts.csv', 6, 'row', 'duplicate_key', 'ContactId'],
      ['contacts.csv', 7, 'value', 'invalid_value', 'EMail'],
      ['contacts.csv', 10, 'row', 'invalid_encoding', 'FirstName'],
      ['contacts.csv', 11, 'row', 'malformed_row', null],
    ]);
    assert.match(rejects.items[3].message, /first seen on line 2/);
    assert.ok(rejects.items.every((r) => r.raw), `each rejected row keeps its raw text: ${JSON.stringify(rejects.items.map((r) => r.raw))}`);
    const loaded = await database.db('customer_source_records').orderBy('source_key').select('source_key', 'first_name', 'date_of_birth', 'email');
    assert.deepEqual(loaded.map((r) => [r.source_key, r.first_name]), [['C1', 'Abbie'], ['C2', 'Abbie'], ['C4', 'Abbie'], ['C5', 'Multi\nline']]);
    assert.equal(loaded[1].date_of_birth, null);
    assert.equal(loaded[2].email, null);
  });

  it('a bad optional value rejects the value, not the person: the record loads with it empty and the value is reported with line, column and reason', async function () {
    const lines = [
      CONTACT_HEADER,
      contact('C1', { dob: '1990-02-30' }), // 2: an impossible day in an optional column
      contact('C2'), // 3: fine
      contact('C2', { dob: '1990-02-31' }), // 4: a duplicate key: the row is rejected, its bad value not reported twice
      contact('C3', { dob: 'someday' }).replace('256414.11', 'lots'), // 5: a bad date and a bad extra in one row
    ];
    const result = await importCsv(database.db, { contacts: lines.join('\n') });
    const summary = result.files.contacts;
    assert.deepEqual([summary.rowsRead, summary.rowsLoaded, summary.rowsRejected, summary.valuesRejected], [4, 3, 1, 3]);
    assert.deepEqual(summary.rejectReasons, { duplicate_key: 1 }, 'reasons count rejected rows only');
    const rows = await database.db('customer_source_records').orderBy('source_key').select('source_key', 'first_name', 'last_name', 'date_of_birth', 'email', 'extra', 'line');
    assert.deepEqual(rows.map((r) => [r.source_key, r.first_name, r.last_name, r.email, r.line]), [
      ['C1', 'Abbie', 'Moss', 'abbie_moss@example.com', 2],
      ['C2', 'Abbie', 'Moss', 'abbie_moss@example.com', 3],
      ['C3', 'Abbie', 'Moss', 'abbie_moss@example.com', 5],
    ]);
    assert.equal(rows[0].date_of_birth, null);
    assert.equal(rows[2].date_of_birth, null);
    assert.equal(rows[2].extra.Income, undefined, 'the bad extra is left out');
    assert.equal(rows[2].extra.Occupation, 'Software Engineer', 'the other extras stay');

    const store = new CustomerImportStore(database.db);
    const values = await store.rejects(result.id, { limit: 50, offset: 0 }, { scope: 'value' });
    assert.deepEqual(values.items.map((r) => [r.fileName, r.line, r.sourceKey, r.reason, r.columnName]), [
      ['contacts.csv', 2, 'C1', 'invalid_value', 'DateOfBirth'],
      ['contacts.csv', 5, 'C3', 'invalid_value', 'DateOfBirth'],
      ['contacts.csv', 5, 'C3', 'invalid_value', 'Income'],
    ]);
    assert.match(values.items[0].message, /DateOfBirth/);
    assert.match(values.items[0].raw!, /^C1,Abbie,Moss,Abbie Moss,1990-02-30,/);
    const rowsOut = await store.rejects(result.id, { limit: 50, offset: 0 }, { scope: 'row' });
    assert.deepEqual(rowsOut.items.map((r) => [r.line, r.reason]), [[4, 'duplicate_key']]);
    const stored = await store.require(result.id);
    assert.deepEqual([stored.rowsLoaded, stored.rowsRejected, stored.valuesRejected, stored.files[0].valuesRejected], [3, 1, 3, 3]);

    const again = await importCsv(database.db, { contacts: lines.join('\n') });
    assert.equal(again.files.contacts.rowsUnchanged, 3, 're-importing the file changes nothing');
  });

  it('a purchase without a valid date or total is rejected whole; a bad optional value of a purchase is left out', async function () {
    const header = 'LoyaltyId,PurchaseId,ProductId,PurchasedOn,TotalPrice,RewardPointsAdded,ActivityTypeDisplay,Subject';
    const text = [
      header,
      'LOYID_1,PID_1,P-100,2018-01-24,389.97,many,POS Purchase,Bought', // 2: bad points: loads without them
      'LOYID_1,PID_2,P-100,2018-02-30,389.97,38,POS Purchase,Bought', // 3: impossible date: rejected
      'LOYID_1,PID_3,P-100,2018-01-24,abc,38,POS Purchase,Bought', // 4: bad total: rejected
    ].join('\n');
    const result = await importCsv(database.db, { pos_purchases: text });
    const summary = result.files.pos_purchases;
    assert.deepEqual([summary.rowsLoaded, summary.rowsRejected, summary.valuesRejected], [1, 2, 1]);
    const rejects = await new CustomerImportStore(database.db).rejects(result.id, { limit: 50, offset: 0 });
    assert.deepEqual(rejects.items.map((r) => [r.line, r.scope, r.reason, r.columnName]), [
      [2, 'value', 'invalid_value', 'RewardPointsAdded'],
      [3, 'row', 'invalid_value', 'PurchasedOn'],
      [4, 'row', 'invalid_value', 'TotalPrice'],
    ]);
    const sale = await database.db('customer_purchases').where({ purchase_id: 'PID_1' }).first();
    assert.deepEqual([sale.total_cents, sale.points_added], [38_997, null]);
  });

  it('loads a new layout with only a mapping file: the FEBRL example of the docs, its corrupted birth date left empty', async function () {
    const mapping = loadMappingFile(path.join(__dirname, '..', '..', 'docs', 'examples', 'febrl', 'mapping.json'));
    const text = [
      'rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id',
      'rec-7-org, lydia, mccarthy, 6, mckillop circuit, telemon orchards, corio, 4670, nsw, 19751220, 1835068',
      'rec-7-dup-0, lydia, mccarty, 6, mckillop circuit, , cori, 4670, nsw, 19751292, 1835068',
    ].join('\n');
    const session = await beginImport(database.db, testLog, { origin: 'cli' });
    const summary = await session.loadFile({ mapping, fileName: 'dataset3.csv', stream: Readable.from([text]) });
    await session.commit();
    assert.deepEqual([summary.rowsLoaded, summary.rowsRejected, summary.valuesRejected], [2, 0, 1]);
    const rows = await database.db('customer_source_records').where({ source: 'febrl' }).orderBy('line')
      .select('source_key', 'first_name', 'last_name', 'street', 'postal_code', database.db.raw("to_char(date_of_birth, 'YYYY-MM-DD') as dob"), 'extra');
    assert.deepEqual(rows.map((r) => [r.source_key, r.first_name, r.last_name, r.street, r.postal_code, r.dob]), [
      ['rec-7-org', 'lydia', 'mccarthy', 'mckillop circuit', '4670', '1975-12-20'],
      ['rec-7-dup-0', 'lydia', 'mccarty', 'mckillop circuit', '4670', null],
    ]);
    assert.deepEqual(rows[0].extra, { street_number: '6', address_2: 'telemon orchards', soc_sec_id: '1835068' });
    const rejects = await new CustomerImportStore(database.db).rejects(session.id, { limit: 10, offset: 0 });
    assert.deepEqual(rejects.items.map((r) => [r.line, r.scope, r.sourceKey, r.columnName]), [[3, 'value', 'rec-7-dup-0', 'date_of_birth']]);
  });

  it('rejects every row of a file whose header does not fit the mapping, saying why', async function () {
    const text = ['ContactId,Name,Mail', 'C1,Abbie Moss,abbie@example.com', 'C2,Ken Beraun,ken@example.com'].join('\n');
    const result = await importCsv(database.db, { contacts: text });
    const summary = result.files.contacts;
    assert.equal(summary.rowsRead, 2);
    assert.equal(summary.rowsRejected, 2);
    assert.match(summary.headerError!, /lacks "FirstName"/);
    const rejects = await new CustomerImportStore(database.db).rejects(result.id, { limit: 50, offset: 0 });
    assert.deepEqual(rejects.items.map((r) => [r.line, r.reason]), [[2, 'wrong_header'], [3, 'wrong_header']]);
    assert.equal(Number((await database.db('customer_source_records').count({ n: '*' }))[0].n), 0);
  });

  it('re-importing the same files changes nothing; a newer file upserts by source key', async function () {
    const first = await importDir(database.db, SAMPLE_DIR, ['contacts', 'online_purchases']);
    const before = await database.db('customer_source_records').where({ source: 'contacts' }).orderBy('id').select('id', 'updated_at', 'row_hash', 'last_import_id');
    const again = await importDir(database.db, SAMPLE_DIR, ['contacts', 'online_purchases']);
    assert.equal(again.files.contacts.rowsInserted + again.files.contacts.rowsUpdated, 0);
    assert.equal(again.files.contacts.rowsUnchanged, 319);
    assert.equal(again.files.online_purchases.rowsUnchanged, 752);
    const after = await database.db('customer_source_records').where({ source: 'contacts' }).orderBy('id').select('id', 'updated_at', 'row_hash', 'last_import_id');
    assert.deepEqual(after, before, 'not one stored row was touched');
    assert.ok(before.every((r) => r.last_import_id === first.id));

    const newer = [CONTACT_HEADER, contact('CNTID_1103', { first: 'Amanda', last: 'Wright', email: 'amanda.wright@newmail.com' }), contact('CNTID_9999')].join('\r\n');
    const upsert = await importCsv(database.db, { contacts: newer });
    assert.deepEqual([upsert.files.contacts.rowsInserted, upsert.files.contacts.rowsUpdated, upsert.files.contacts.rowsUnchanged], [1, 1, 0]);
    const amanda = await database.db('customer_source_records').where({ source: 'contacts', source_key: 'CNTID_1103' }).first();
    assert.equal(amanda.email, 'amanda.wright@newmail.com');
    assert.equal(amanda.last_import_id, upsert.id);
    assert.equal(Number((await database.db('customer_source_records').count({ n: '*' }))[0].n), 320);
  });

  it('an import that fails half-way changes nothing and is recorded as failed', async function () {
    const session = await beginImport(database.db, testLog, { origin: 'cli' });
    const mapping = mappings().get('contacts')!;
    await session.loadFile({ mapping, fileName: 'contacts.csv', stream: Readable.from([`${CONTACT_HEADER}\n${contact('C1')}\n`]) });
    const broken = new Readable({
      read() {
        this.destroy(new Error('disk went away'));
      },
    });
    await assert.rejects(session.loadFile({ mapping: mappings().get('loyalty')!, fileName: 'loyalty.csv', stream: broken }), /disk went away/);
    await session.abort(new Error('disk went away'));
    assert.equal(Number((await database.db('customer_source_records').count({ n: '*' }))[0].n), 0);
    const stored = await new CustomerImportStore(database.db).require(session.id);
    assert.equal(stored.status, 'failed');
    assert.match(stored.error!, /disk went away/);
  });
});
