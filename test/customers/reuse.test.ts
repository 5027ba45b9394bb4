/**
 * Issue 10 part 3: a unification pass whose inputs did not change since the published pass (same
 * person records, same rules) reuses that result instead of matching again, keeps every
 * CustomerId and says which pass it reused; a changed record or changed rules make a real pass.
 * On the dev server with the real workflow, activities and Postgres.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCustomerUnificationActivities } from '../../activities/customerUnification';
import { loadConfig } from '../../config';
import { startTestWorker, testLog, uniqueTaskQueue, type RunningTestWorker } from '../helpers/temporal';
import { importCsv, unificationFixture } from './helpers';

describe('customer unification: an unchanged pass reuses the published result (dev server)', function () {
  const fixture = unificationFixture();
  const { unify, membership } = fixture;

  /** A worker whose activities read the rules from `rulesFile`. */
  async function workerWithRules(taskQueue: string, rulesFile: string): Promise<RunningTestWorker> {
    const customers = { ...loadConfig().customers, matchRulesFile: rulesFile };
    return startTestWorker(fixture.env, fixture.database.db, taskQueue, {
      wrapActivities: (activities) => ({ ...activities, ...createCustomerUnificationActivities({ db: fixture.database.db, log: testLog, customers }) }),
    });
  }

  it('an unchanged re-run reuses the published pass: same CustomerIds, nothing matched, and it says so', async function () {
    const taskQueue = uniqueTaskQueue('reuse');
    const worker = await startTestWorker(fixture.env, fixture.database.db, taskQueue);
    try {
      const first = await unify(taskQueue);
      assert.deepEqual(first.phases.map((p) => p.phase), ['map', 'match', 'cluster', 'merge']);
      assert.equal(first.reusedFrom ?? null, null);
      const before = await membership();
      const firstLinks = await fixture.database.db('customer_match_links').where({ pass_id: first.passId }).count<{ n: number }[]>({ n: '*' });

      const again = await unify(taskQueue);
      assert.equal(again.reusedFrom, first.passId, 'the re-run names the pass it reused');
      assert.deepEqual(again.phases.map((p) => p.phase), ['map'], 'no match, cluster or merge ran');
      assert.equal(again.phases[0].stats!.mapped, 0);
      assert.equal(again.summary!.customers, 394);
      assert.equal(again.summary!.kept, 394);
      assert.equal(again.summary!.created + again.summary!.joined + again.summary!.profilesChanged + again.summary!.profilesRemoved, 0);
      assert.deepEqual(await membership(), before, 'every CustomerId kept');

      const row = await fixture.database.db('customer_unification_passes').where({ id: again.passId }).first('reused_from', 'status', 'stats');
      assert.equal(row.reused_from, first.passId);
      assert.equal(row.status, 'completed');
      assert.equal(row.stats.reusedFrom, first.passId);
      // The reused pass's working rows stay: they are what is live.
      const links = await fixture.database.db('customer_match_links').where({ pass_id: first.passId }).count<{ n: number }[]>({ n: '*' });
      assert.deepEqual(links, firstLinks);

      // A third pass reuses the same published pass (a reused pass publishes nothing).
      const third = await unify(taskQueue);
      assert.equal(third.reusedFrom, first.passId);
    } finally {
      await worker.stop();
    }
  });

  it('a changed record makes a real pass, whose result the next unchanged pass reuses', async function () {
    const taskQueue = uniqueTaskQueue('reuse');
    const worker = await startTestWorker(fixture.env, fixture.database.db, taskQueue);
    try {
      const before = await membership();
      const header = 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn';
      await importCsv(fixture.database.db, { loyalty: `${header}\nLOYID_9001,CNTID_1103,Alan,Hernandez,Alan Hernandez,1957-04-28,Male,alan.hernandez@icloud.com,,10,No,2024-01-01\n` });
      const changed = await unify(taskQueue);
      assert.equal(changed.reusedFrom ?? null, null);
      assert.deepEqual(changed.phases.map((p) => p.phase), ['map', 'match', 'cluster', 'merge']);
      assert.equal(changed.phases[0].stats!.mapped, 1, 'only the new record was mapped');
      const after = await membership();
      assert.equal(after.get('LOYID_9001'), after.get('CNTID_1103'), 'the new record joined its contact');
      assert.ok([before.get('CNTID_1103'), before.get('CNTID_1407')].includes(after.get('CNTID_1103')), 'the joined profile keeps one of its ids');

      const again = await unify(taskQueue);
      assert.equal(again.reusedFrom, changed.passId);
      assert.deepEqual(await membership(), after);
    } finally {
      await worker.stop();
    }
  });

  it('changed rules make a real pass', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    const rules = JSON.parse(fs.readFileSync(loadConfig().customers.matchRulesFile, 'utf8'));
    rules.rules[1].confidence = 0.97;
    const rulesFile = path.join(dir, 'customer-matching.json');
    fs.writeFileSync(rulesFile, JSON.stringify(rules));
    const taskQueue = uniqueTaskQueue('reuse');
    const worker = await workerWithRules(taskQueue, rulesFile);
    try {
      const before = await membership();
      const pass = await unify(taskQueue);
      assert.equal(pass.reusedFrom ?? null, null, 'other rules: matched again');
      assert.deepEqual(pass.phases.map((p) => p.phase), ['map', 'match', 'cluster', 'merge']);
      assert.deepEqual(await membership(), before, 'a confidence changes no group');
      const again = await unify(taskQueue);
      assert.equal(again.reusedFrom, pass.passId, 'the same changed rules again: reused');
    } finally {
      await worker.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
