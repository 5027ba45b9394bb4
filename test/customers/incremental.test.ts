/**
 * Issue 10 part 3: after a few records change, a unification pass matches again only the records
 * a change can reach (an incremental pass) — and its customers, CustomerIds included, are those a
 * full pass gives: a full pass run right after it changes no id and no profile. On the dev server
 * with the real workflow, activities and Postgres.
 */
import assert from 'node:assert/strict';
import { startTestWorker, uniqueTaskQueue } from '../helpers/temporal';
import { importCsv, unificationFixture } from './helpers';

const CONTACTS = 'ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,PostCode,StreetAddress,City,State,Country,CreatedOn,Loyalty Tier,Email Subscriber,Income,Occupation,CustomerSatisfaction';
const LOYALTY = 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn';

describe('customer unification: an incremental pass gives the customers a full pass gives (dev server)', function () {
  const fixture = unificationFixture();
  const { unify, membership, assertSameAsFullPass } = fixture;

  async function profiles(): Promise<Map<string, string>> {
    const rows = await fixture.database.db('customers').select('id', 'profile_hash');
    return new Map(rows.map((r: { id: string; profile_hash: string }) => [r.id, r.profile_hash]));
  }

  it('joins, splits and adds customers like a full pass, matching only the records the changes reach', async function () {
    const taskQueue = uniqueTaskQueue('incremental');
    const worker = await startTestWorker(fixture.env, fixture.database.db, taskQueue);
    try {
      const first = await unify(taskQueue);
      assert.equal(first.mode, 'full', 'nothing was published before: a full pass');
      const before = await membership();
      const gibson = before.get('CNTID_1287')!;
      assert.equal(before.get('CNTID_1284'), gibson);

      await importCsv(fixture.database.db, {
        // A new loyalty member naming Amanda Wright's contact, with Alan Hernandez's name, e-mail and birth date: joins the two.
        // A new member nobody else resembles: a new customer.
        loyalty: `${LOYALTY}\nLOYID_9001,CNTID_1103,Alan,Hernandez,Alan Hernandez,1957-04-28,Male,alan.hernandez@icloud.com,,10,No,2024-01-01\n`
          + 'LOYID_9002,,Zebulon,Quarrington,Zebulon Quarrington,1931-02-03,Male,zq@example.org,555.010.9999,5,No,2024-01-02\n',
        // One of Jeffrey Gibson's two contact records becomes someone else: it leaves his customer (a split).
        contacts: `${CONTACTS}\nCNTID_1287,Geoffrey,Gibbons,Geoffrey Gibbons,4/14/1968,Other,g.gibbons@example.net,873.555.0000,90039,2628 Alvarado Plaza,Los Angeles,CA,USA,10/5/2018,medium,No,183039.011483,Retired,medium\n`,
      });

      const incremental = await unify(taskQueue);
      assert.equal(incremental.mode, 'incremental');
      const match = incremental.phases.find((p) => p.phase === 'match')!.stats!;
      const records = Number(incremental.phases[0].stats!.records);
      assert.equal(incremental.phases[0].stats!.mapped, 3, 'the three changed records were normalised again');
      assert.equal(first.phases[0].stats!.scanned, 'every record', 'no map before the first: every record is looked at');
      assert.equal(incremental.phases[0].stats!.scanned, 'records of new imports', 'the map looked only at the records of the import since the last map');
      assert.ok(Number(match.records) > 3 && Number(match.records) < records / 10, `matched ${match.records} of ${records} records`);
      assert.equal(incremental.summary!.joined, 1, 'Wright and Hernandez joined');
      assert.ok(incremental.summary!.split >= 1, 'Gibson split');
      assert.equal(incremental.summary!.customers, 394 - 1 + 1 + 1);
      const afterIncremental = await membership();
      assert.equal(afterIncremental.get('LOYID_9001'), afterIncremental.get('CNTID_1407'));
      assert.equal(afterIncremental.get('CNTID_1284'), gibson, 'the larger part keeps the id');
      assert.notEqual(afterIncremental.get('CNTID_1287'), gibson);
      const untouched = [...before].filter(([key]) => !['CNTID_1103', 'CNTID_1407', 'CNTID_1287', 'CNTID_1284', 'LOYID_1283'].includes(key));
      assert.ok(untouched.every(([key, id]) => afterIncremental.get(key) === id || afterIncremental.get(key) === afterIncremental.get('CNTID_1407')), 'everyone else keeps their id');
      const profilesAfterIncremental = await profiles();
      assert.equal(profilesAfterIncremental.size, new Set(afterIncremental.values()).size, 'one profile per customer, none left over');

      // A full pass over the same records finds exactly these customers: no id and no profile changes.
      await assertSameAsFullPass(taskQueue, afterIncremental);
      assert.deepEqual(await profiles(), profilesAfterIncremental);
    } finally {
      await worker.stop();
    }
  });
});
