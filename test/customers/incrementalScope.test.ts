/**
 * An incremental pass matches again only what the changes reach: the changed records' customers,
 * before and after — not every record sharing a block with them — and still gives the
 * CustomerIds a full pass gives, also when a change makes a block cross its rule's maxBlockSize.
 * On the dev server with the real workflow, activities and Postgres.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCustomerUnificationActivities } from '../../activities/customerUnification';
import { loadConfig } from '../../config';
import type { PassView } from '../../workflows/customerUnification.contract';
import { startTestWorker, testLog, uniqueTaskQueue, type RunningTestWorker } from '../helpers/temporal';
import { importCsv, unificationFixture } from './helpers';

const CONTACTS = 'ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,PostCode,StreetAddress,City,State,Country,CreatedOn,Loyalty Tier,Email Subscriber,Income,Occupation,CustomerSatisfaction';
const LOYALTY = 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn';

/** A loyalty row: key, full name, birth date, e-mail, phone. */
const member = (key: string, name: string, birth: string, email = '', phone = '') => {
  const [first, ...last] = name.split(' ');
  return `${key},,${first},${last.join(' ')},${name},${birth},,${email},${phone},1,No,2024-01-01`;
};

describe('customer unification: an incremental pass matches only what the changes reach (dev server)', function () {
  const fixture = unificationFixture();
  const { unify, membership, assertSameAsFullPass } = fixture;

  /** The source keys an incremental pass matched again. */
  async function scopeOf(pass: PassView): Promise<Set<string>> {
    const rows = await fixture.database.db('customer_unification_scope as s').join('customer_source_records as r', 'r.id', 's.record_id')
      .where('s.pass_id', pass.passId).select('r.source_key');
    return new Set(rows.map((r: { source_key: string }) => r.source_key));
  }


  /** A worker whose activities read the rules from `rulesFile`. */
  async function workerWithRules(taskQueue: string, rulesFile: string): Promise<RunningTestWorker> {
    const customers = { ...loadConfig().customers, matchRulesFile: rulesFile };
    return startTestWorker(fixture.env, fixture.database.db, taskQueue, {
      wrapActivities: (activities) => ({ ...activities, ...createCustomerUnificationActivities({ db: fixture.database.db, log: testLog, customers }) }),
    });
  }

  it('after a join, a split and a new customer the scope is the changed records\' customers, old and new; a block mate unlike them stays out', async function () {
    const taskQueue = uniqueTaskQueue('scope');
    const worker = await startTestWorker(fixture.env, fixture.database.db, taskQueue);
    try {
      await unify(taskQueue);
      const before = await membership();
      assert.equal(before.get('CNTID_1226'), before.get('LOYID_1231'), 'Sophia Salazar: one customer of two records');

      await importCsv(fixture.database.db, {
        loyalty: `${LOYALTY}\n${[
          // Robert Silva with another e-mail and no phone: joins his customer by name and birth date.
          member('LOYID_9101', 'Robert Silva', '1976-12-16', 'rsilva@work.example'),
          // Nobody like him, born the same day as Sophia Salazar: a new customer, Sophia's records his block mates.
          member('LOYID_9102', 'Zebulon Quarrington', '1979-06-22', 'zq@example.org', '555.010.9999'),
        ].join('\n')}\n`,
        // One of Jeffrey Gibson's records becomes someone else: it leaves his customer.
        contacts: `${CONTACTS}\nCNTID_1287,Geoffrey,Gibbons,Geoffrey Gibbons,4/14/1968,Other,g.gibbons@example.net,873.555.0000,90039,2628 Alvarado Plaza,Los Angeles,CA,USA,10/5/2018,medium,No,183039.011483,Retired,medium\n`,
      });
      const pass = await unify(taskQueue);
      assert.equal(pass.mode, 'incremental');
      const after = await membership();
      assert.equal(after.get('LOYID_9101'), before.get('CNTID_1365'), 'the new Robert Silva joined his customer');
      assert.notEqual(after.get('CNTID_1287'), after.get('CNTID_1284'), 'Gibson split');
      assert.ok(![...before.values()].includes(after.get('LOYID_9102')!), 'Zebulon is a new customer');

      const changed = ['LOYID_9101', 'LOYID_9102', 'CNTID_1287'];
      const customersOf = (members: Map<string, string>) => new Set(changed.map((k) => members.get(k)).filter((id) => id !== undefined));
      const [was, is] = [customersOf(before), customersOf(after)];
      const expected = new Set([...[...before].filter(([, id]) => was.has(id)), ...[...after].filter(([, id]) => is.has(id))].map(([key]) => key));
      const scope = await scopeOf(pass);
      assert.deepEqual([...scope].sort(), [...expected].sort());
      assert.equal(scope.size, 7, 'Silva ×3, Zebulon, Gibson ×3');
      assert.ok(!scope.has('CNTID_1226') && !scope.has('LOYID_1231'), 'Sophia Salazar shares a block with Zebulon but is not like him: not matched again');
      assert.equal(pass.phases.find((p) => p.phase === 'match')!.stats!.records, 7);

      await assertSameAsFullPass(taskQueue, after);
    } finally {
      await worker.stop();
    }
  });

  it('a change that makes a block cross maxBlockSize, either way, gives the CustomerIds of a full pass', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    const rules = JSON.parse(fs.readFileSync(loadConfig().customers.matchRulesFile, 'utf8'));
    const byBirth = rules.rules.find((r: { name: string }) => r.name === 'name_and_birth_date');
    byBirth.maxBlockSize = 3;
    const rulesFile = path.join(dir, 'customer-matching.json');
    fs.writeFileSync(rulesFile, JSON.stringify(rules));
    const taskQueue = uniqueTaskQueue('scope-oversized');
    const worker = await workerWithRules(taskQueue, rulesFile);
    try {
      await importCsv(fixture.database.db, {
        loyalty: `${LOYALTY}\n${[
          // Three born 1901-01-01 (not too many to compare): the Quentins are one person, by name and birth date only.
          member('LOYID_9201', 'Quentin Marlowe', '1901-01-01', 'q1@a.example', '555.010.1001'),
          member('LOYID_9202', 'Quentin Marlow', '1901-01-01', 'q2@b.example', '555.010.1002'),
          member('LOYID_9203', 'Ottoline Brack', '1901-01-01', 'o3@c.example', '555.010.1003'),
          // Four born 1902-02-02: too many, so the two Perpetuas stay apart.
          member('LOYID_9301', 'Perpetua Vance', '1902-02-02', 'p1@x.example', '555.020.2001'),
          member('LOYID_9302', 'Perpetua Vanse', '1902-02-02', 'p2@x.example', '555.020.2002'),
          member('LOYID_9303', 'Barnaby Clegg', '1902-02-02', 'b3@x.example', '555.020.2003'),
          member('LOYID_9304', 'Hortense Lyle', '1902-02-02', 'h4@x.example', '555.020.2004'),
        ].join('\n')}\n`,
      });
      const first = await unify(taskQueue);
      assert.equal(first.mode, 'full', 'other rules: a full pass');
      let now = await membership();
      assert.equal(now.get('LOYID_9201'), now.get('LOYID_9202'));
      assert.notEqual(now.get('LOYID_9301'), now.get('LOYID_9302'));

      // 1901-01-01 gets a fourth record: too many now, the Quentins part. 1902-02-02 gets a fifth
      // (still too many), like Perpetua Vance by e-mail; another Perpetua is like Vanse by phone:
      // both Perpetuas are in the scope with three of the block's five records, which must not
      // make the block look small enough to compare.
      await importCsv(fixture.database.db, {
        loyalty: `${LOYALTY}\n${[
          member('LOYID_9204', 'Tobias Ferrer', '1901-01-01', 't4@a.example', '555.010.1004'),
          member('LOYID_9305', 'Perpetua Vance', '1902-02-02', 'p1@x.example'),
          member('LOYID_9306', 'Perpetua Vanse', '1904-04-04', '', '555.020.2002'),
        ].join('\n')}\n`,
      });
      const crossedUp = await unify(taskQueue);
      assert.equal(crossedUp.mode, 'incremental');
      now = await membership();
      assert.notEqual(now.get('LOYID_9201'), now.get('LOYID_9202'), 'the Quentins part: their block is too large now');
      assert.equal(now.get('LOYID_9305'), now.get('LOYID_9301'));
      assert.equal(now.get('LOYID_9306'), now.get('LOYID_9302'));
      assert.notEqual(now.get('LOYID_9301'), now.get('LOYID_9302'), 'the Perpetuas stay apart: their block is still too large');

      // Records leave both blocks: three records each, small enough again, compared again —
      // from a base pass that was itself incremental.
      await importCsv(fixture.database.db, {
        loyalty: `${LOYALTY}\n${[
          member('LOYID_9204', 'Tobias Ferrer', '1905-05-05', 't4@a.example', '555.010.1004'),
          member('LOYID_9303', 'Barnaby Clegg', '1906-06-06', 'b3@x.example', '555.020.2003'),
          member('LOYID_9304', 'Hortense Lyle', '1907-07-07', 'h4@x.example', '555.020.2004'),
        ].join('\n')}\n`,
      });
      const crossedDown = await unify(taskQueue);
      assert.equal(crossedDown.mode, 'incremental');
      now = await membership();
      assert.equal(now.get('LOYID_9201'), now.get('LOYID_9202'), 'the Quentins are one again');
      assert.ok(['LOYID_9302', 'LOYID_9305', 'LOYID_9306'].every((k) => now.get(k) === now.get('LOYID_9301')), 'the four Perpetuas are one');
      await assertSameAsFullPass(taskQueue, now);
    } finally {
      await worker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a rule blocking on a prefix finds the block of a name that starts outside the Basic Multilingual Plane, as a full pass does', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    const rules = JSON.parse(fs.readFileSync(loadConfig().customers.matchRulesFile, 'utf8'));
    // The plan finds a touched block's records in SQL (left(), code points), the matcher in JavaScript.
    rules.rules.push({
      name: 'same_names', confidence: 0.8,
      block: [{ attribute: 'firstName', prefix: 2 }, { attribute: 'lastName' }],
      conditions: [{ attribute: 'firstName', precision: 'exact' }, { attribute: 'lastName', precision: 'exact' }],
    });
    const rulesFile = path.join(dir, 'customer-matching.json');
    fs.writeFileSync(rulesFile, JSON.stringify(rules));
    const taskQueue = uniqueTaskQueue('scope-astral');
    const worker = await workerWithRules(taskQueue, rulesFile);
    try {
      await importCsv(fixture.database.db, { loyalty: `${LOYALTY}
${member('LOYID_9401', '𝒜lice Żuk', '1911-01-01', 'az1@a.example', '555.040.4001')}
` });
      assert.equal((await unify(taskQueue)).mode, 'full', 'other rules: a full pass');
      // Nothing but the names in common: only same_names links them, in the block "𝒜l", Żuk.
      await importCsv(fixture.database.db, { loyalty: `${LOYALTY}
${member('LOYID_9402', '𝒜lice Żuk', '1912-02-02', 'az2@b.example', '555.040.4002')}
` });
      const pass = await unify(taskQueue);
      assert.equal(pass.mode, 'incremental');
      const now = await membership();
      assert.equal(now.get('LOYID_9402'), now.get('LOYID_9401'), 'the two 𝒜lice Żuks are one customer');
      await assertSameAsFullPass(taskQueue, now);
    } finally {
      await worker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
