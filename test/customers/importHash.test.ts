/**
 * The import computes each record's `row_hash` while the file streams (db/customers/rowHash.ts)
 * instead of asking PostgreSQL for md5(row(…)::text) per row: the two must agree on every value
 * a file can hold, or a re-import would rewrite rows that did not change (and unification would
 * map them again).
 */
import assert from 'node:assert/strict';
import type { TestDatabase } from '../helpers/db';
import { SAMPLE_DIR, emptiedCustomerDatabase, importCsv, importDir } from './helpers';
import { plainNumber } from '../../db/customers/rowHash';

const CONTACT_HEADER = 'ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,PostCode,StreetAddress,City,State,Country,CreatedOn,Loyalty Tier,Email Subscriber,Income,Occupation,CustomerSatisfaction';

const PERSON_HASH = 'md5(row(first_name, last_name, full_name, email, phone, date_of_birth, gender, postal_code, street, city, state, country, created_on, reward_points, links, extra)::text)';
const PURCHASE_HASH = 'md5(row(customer_source, customer_key, product_id, purchased_on, total_cents, points_added, extra)::text)';

describe('customer import: row hashes computed while streaming', function () {
  const customerDb = emptiedCustomerDatabase();
  let database: TestDatabase;

  beforeEach(function () {
    database = customerDb();
  });

  async function mismatches(): Promise<Array<{ source_key: string }>> {
    const persons = await database.db.raw(`select source_key from customer_source_records where row_hash <> ${PERSON_HASH}`);
    const purchases = await database.db.raw(`select purchase_id as source_key from customer_purchases where row_hash <> ${PURCHASE_HASH}`);
    return [...persons.rows, ...purchases.rows];
  }

  it('equal md5(row(…)::text) on the four sample files', async function () {
    await importDir(database.db, SAMPLE_DIR);
    assert.ok(Number((await database.db('customer_purchases').count({ n: '*' }))[0].n) > 1000);
    assert.deepEqual(await mismatches(), []);
  });

  it('equal md5(row(…)::text) on awkward text and numbers', async function () {
    const row = (id: string, first: string, income: string, extra = '') =>
      [id, first, 'Moss', '"Moss, (Abbie)"', '5/8/1986', '', 'a@b.co', '', '', '1 "Quoted" St\\', 'City', 'CA', 'USA', '', 'gold', extra || 'Yes', income, '', ''].join(',');
    const lines = [
      CONTACT_HEADER,
      row('C1', 'Abbie', '256414.11'),
      row('C2', '"Tab\there"', '1e-7'),
      row('C3', 'Chloé\u00a0Ng', '1e21', 'no'),
      row('C4', '"back\\\\slash ""q"""', '-0'),
      row('C5', '"ctl\u0001char"', '0.000001', 'maybe'),
      row('C6', '(paren)', '12345678901234567890'),
      row('C7', 'x', ''),
    ];
    const result = await importCsv(database.db, { contacts: lines.join('\n'), loyalty: 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn\nL1,C1,Abbie,Moss,Abbie Moss,1986-05-08,,a@b.co,,"1,024",yes,2019-03-01T23:30:00-05:00\nL2,,Ken,Be,Ken Be,,,,,,,' });
    assert.equal(result.files.contacts.rowsLoaded, 7);
    assert.equal(result.files.loyalty.rowsLoaded, 2);
    assert.deepEqual(await mismatches(), []);
    const again = await importCsv(database.db, { contacts: lines.join('\n') });
    assert.equal(again.files.contacts.rowsUnchanged, 7);
  });

  it('prints numbers as numeric_out does', function () {
    assert.equal(plainNumber(1e-7), '0.0000001');
    assert.equal(plainNumber(1.5e-7), '0.00000015');
    assert.equal(plainNumber(1e21), '1000000000000000000000');
    assert.equal(plainNumber(1.25e22), '12500000000000000000000');
    assert.equal(plainNumber(-2.5e-8), '-0.000000025');
    assert.equal(plainNumber(59791.203924), '59791.203924');
  });
});
