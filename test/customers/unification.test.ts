/**
 * The `customer-unification` workflow on the dev server with the real activities and Postgres:
 * match quality on customers-sample (fails below F1 0.99), stable CustomerIds across re-runs and
 * re-imports, a worker killed mid-unification, and the nightly Schedule.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { pairwiseQuality } from '../../domain/customers/quality';
import { requestUnification, waitForUnification } from '../../api/unificationClient';
import { ensureUnificationSchedule } from '../../worker/customerSchedule';
import { CUSTOMER_UNIFICATION_SCHEDULE_ID, CUSTOMER_UNIFICATION_WORKFLOW_ID, requestUnificationSignal, type PassView } from '../../workflows/customerUnification.contract';
import { readTruth } from '../../bench/customers/quality';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { devServerEnv, eventually, startTestWorker, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';
import { SAMPLE_DIR, importCsv, importDir } from './helpers';

describe('customer unification workflow (dev server)', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;

  before(async function () {
    [env, database] = await Promise.all([devServerEnv(), createTestDatabase(), workflowBundle()]).then(([e, d]) => [e, d] as const);
  });

  after(async function () {
    await env?.teardown();
    await database?.drop();
  });

  async function unify(taskQueue: string, by = 'test'): Promise<PassView> {
    const ticket = await requestUnification(env.client, taskQueue, { trigger: 'cli', by });
    const pass = await waitForUnification(env.client, ticket, { timeoutMs: 120_000 });
    // The run ends while this test's worker is still here: the next test's request must start a new run.
    await env.client.workflow.getHandle(ticket.workflowId, ticket.runId).result();
    return pass;
  }

  /** Source key → CustomerId, as published. */
  async function membership(): Promise<Map<string, string>> {
    const rows = await database.db('customer_members as m').join('customer_source_records as r', 'r.id', 'm.record_id').select('r.source_key', 'm.customer_id');
    return new Map(rows.map((r: { source_key: string; customer_id: string }) => [r.source_key, r.customer_id]));
  }

  it('unifies customers-sample into one profile per person: F1 ≥ 0.99 against truth.csv (aim: 0.995, precision 0.998)', async function () {
    const taskQueue = uniqueTaskQueue('unify');
    const worker = await startTestWorker(env, database.db, taskQueue);
    try {
      await importDir(database.db, SAMPLE_DIR);
      const pass = await unify(taskQueue);
      assert.equal(pass.status, 'completed', pass.error ?? '');
      assert.deepEqual(pass.phases.map((p) => p.phase), ['map', 'match', 'cluster', 'merge']);

      const quality = pairwiseQuality(await membership(), readTruth(path.join(SAMPLE_DIR, 'truth.csv')));
      console.log(`      customers-sample: precision ${quality.precision.toFixed(4)}, recall ${quality.recall.toFixed(4)}, F1 ${quality.f1.toFixed(4)}`);
      assert.equal(quality.keys, 573);
      assert.ok(quality.f1 >= 0.99, `F1 ${quality.f1} is below 0.99`);
      assert.ok(quality.precision >= 0.998, `precision ${quality.precision} is below 0.998`);
      assert.equal(pass.summary!.customers, 394);

      // The profile of a person known to three records: two eCommerce duplicates and a loyalty member.
      const [jeffrey] = await database.db('customers').whereRaw('source_keys @> ?::jsonb', [JSON.stringify({ contacts: ['CNTID_1287'] })]);
      assert.deepEqual(jeffrey.source_keys, { contacts: ['CNTID_1284', 'CNTID_1287'], loyalty: ['LOYID_1283'] });
      assert.equal(jeffrey.full_name, 'Jeffrey Gibson');
      const links = await database.db('customer_members').where({ customer_id: jeffrey.id }).select('rule', 'confidence');
      assert.ok(links.every((l: { rule: string; confidence: number }) => l.rule && l.confidence > 0 && l.confidence <= 1), 'each link has its rule and confidence');
    } finally {
      await worker.stop();
    }
  });

  it('keeps every CustomerId across a re-run and a re-import; a newer file changes only what it changes', async function () {
    const taskQueue = uniqueTaskQueue('unify');
    const worker = await startTestWorker(env, database.db, taskQueue);
    try {
      const before = await membership();
      const rerun = await unify(taskQueue);
      assert.equal(rerun.summary!.kept, 394);
      assert.equal(rerun.summary!.created + rerun.summary!.profilesChanged + rerun.summary!.profilesRemoved, 0);
      assert.deepEqual(await membership(), before);
      const map = rerun.phases.find((p) => p.phase === 'map')!.stats!;
      assert.equal(map.mapped, 0, 'nothing changed, so nothing was mapped again');

      // A new loyalty member who is the same person as two unrelated profiles joins them.
      const wright = before.get('CNTID_1103')!;
      const hernandez = before.get('CNTID_1407')!;
      const header = 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn';
      await importCsv(database.db, { loyalty: `${header}\nLOYID_9001,CNTID_1103,Alan,Hernandez,Alan Hernandez,1957-04-28,Male,alan.hernandez@icloud.com,,10,No,2024-01-01\n` });
      const joined = await unify(taskQueue);
      assert.equal(joined.summary!.joined, 1);
      const after = await membership();
      const survivor = after.get('CNTID_1103')!;
      assert.ok(survivor === wright || survivor === hernandez, 'the joined profile keeps one of the two ids');
      assert.equal(after.get('CNTID_1407'), survivor);
      const gone = survivor === wright ? hernandez : wright;
      assert.deepEqual(await database.db('customer_id_redirects').where({ old_id: gone }).pluck('new_id'), [survivor]);
      const unchanged = [...before].filter(([, id]) => id !== wright && id !== hernandez);
      assert.ok(unchanged.every(([key, id]) => after.get(key) === id), 'everyone else keeps their id');
    } finally {
      await worker.stop();
    }
  });

  it('serves a request that arrives during a pass with the next pass of the same run, and repeats none', async function () {
    const taskQueue = uniqueTaskQueue('unify');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let maps = 0;
    const worker = await startTestWorker(env, database.db, taskQueue, {
      wrapActivities: (activities) => ({
        ...activities,
        async mapCustomerRecords(input: { passId: string }) {
          if (maps++ === 0) await held;
          return activities.mapCustomerRecords(input);
        },
      }),
    });
    try {
      const first = await requestUnification(env.client, taskQueue, { trigger: 'import', by: 'test' });
      await eventually(async () => maps > 0, 'the first pass to start mapping');
      const second = await requestUnification(env.client, taskQueue, { trigger: 'api', by: 'test' });
      const third = await requestUnification(env.client, taskQueue, { trigger: 'api', by: 'test' });
      await env.client.workflow.getHandle(CUSTOMER_UNIFICATION_WORKFLOW_ID).signal(requestUnificationSignal, { requestId: second.requestId, trigger: 'api', by: 'test' });
      release();
      const [p1, p2, p3] = await Promise.all([first, second, third].map((t) => waitForUnification(env.client, t, { timeoutMs: 60_000 })));
      assert.deepEqual([first.runId, second.runId, third.runId], [first.runId, first.runId, first.runId], 'one run took all three');
      assert.equal(p1.pass, 1);
      assert.deepEqual([p2.pass, p3.pass], [2, 2], 'the two requests made during pass 1 share pass 2');
      assert.deepEqual(p2.requestIds, [second.requestId, third.requestId], 'the repeated signal was not queued twice');
      const final = await env.client.workflow.getHandle(CUSTOMER_UNIFICATION_WORKFLOW_ID, first.runId).result();
      assert.equal(final.passes.length, 2);
    } finally {
      await worker.stop();
    }
  });

  it('a worker killed mid-unification is replaced and the run finishes correctly, without redoing finished phases', async function () {
    this.timeout(240_000);
    const taskQueue = uniqueTaskQueue('unify');
    // Force a full remap and a fresh assignment, so the match phase has real work to be killed in.
    await database.db('customer_record_keys').delete();
    const expected = await membership();
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '..', 'fixtures', 'crashingUnificationWorker.ts')], {
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, TASK_QUEUE: taskQueue, DATABASE_URL: database.url, CRASH_AFTER_MATCH_STEP: '2' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child.once('exit', () => reject(new Error('the crashing worker exited before it was ready')));
    });

    const ticket = await requestUnification(env.client, taskQueue, { trigger: 'cli', by: 'test' });
    assert.equal(await exited, 'SIGKILL', 'the first worker died inside the match phase');
    const passId = await eventually(async () => (await database.db('customer_unification_passes').where({ workflow_run_id: ticket.runId }).first())?.id, 'the pass row');
    const checkpoints = await database.db('customer_unification_checkpoints').where({ pass_id: passId, phase: 'match' }).pluck('step');
    assert.deepEqual(checkpoints.sort(), [0, 1, 2], 'three match steps were recorded before the kill');

    const replacement = await startTestWorker(env, database.db, taskQueue, { identity: 'replacement-worker' });
    try {
      const pass = await waitForUnification(env.client, ticket, { timeoutMs: 180_000 });
      assert.equal(pass.status, 'completed', pass.error ?? '');
      assert.equal(pass.phases.find((p) => p.phase === 'match')!.stats!.resumedFrom, 'phone_and_name', 'the retry resumed after the last checkpoint');
      const { events } = await env.client.workflow.getHandle(CUSTOMER_UNIFICATION_WORKFLOW_ID, ticket.runId).fetchHistory();
      const scheduled = (type: string) => events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type).length;
      const started = events!.filter((e) => e.activityTaskStartedEventAttributes);
      assert.equal(scheduled('mapCustomerRecords'), 1);
      assert.ok(started.some((e) => Number(e.activityTaskStartedEventAttributes!.attempt) >= 2), 'the match phase ran a second attempt');
      assert.deepEqual(await membership(), expected, 'the same profiles, with the same ids, as an uninterrupted run');
      await env.client.workflow.getHandle(CUSTOMER_UNIFICATION_WORKFLOW_ID, ticket.runId).result();
    } finally {
      await replacement.stop();
    }
  });

  it('the nightly Schedule is created idempotently and its run hands a request to customer-unification', async function () {
    const taskQueue = uniqueTaskQueue('unify');
    const worker = await startTestWorker(env, database.db, taskQueue);
    try {
      const settings = { cron: '0 2 * * *', timezone: 'UTC', taskQueue };
      assert.equal(await ensureUnificationSchedule(env.client, settings), 'created');
      assert.equal(await ensureUnificationSchedule(env.client, settings), 'unchanged');
      assert.equal(await ensureUnificationSchedule(env.client, { ...settings, cron: '30 3 * * *' }), 'updated');
      const handle = env.client.schedule.getHandle(CUSTOMER_UNIFICATION_SCHEDULE_ID);
      const described = await handle.describe();
      assert.ok(described.info.nextActionTimes[0].getUTCHours() === 3 && described.info.nextActionTimes[0].getUTCMinutes() === 30);

      await handle.trigger();
      const run = await eventually(async () => {
        const info = await handle.describe();
        return info.info.recentActions[0]?.action.workflow;
      }, 'the triggered action', 30_000);
      const result = await env.client.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result();
      assert.ok(['started', 'signaled'].includes(result.via));
      const unification = env.client.workflow.getHandle(CUSTOMER_UNIFICATION_WORKFLOW_ID);
      const state = await eventually(async () => {
        const s = await unification.query('getUnificationState') as { requests: Record<string, { status: string }> };
        return s.requests[result.requestId]?.status === 'completed' ? s : null;
      }, 'the scheduled pass', 60_000);
      assert.ok(state);
      await unification.result();
      assert.equal(await ensureUnificationSchedule(env.client, { ...settings, cron: null }), 'deleted');
    } finally {
      await worker.stop();
    }
  });
});
