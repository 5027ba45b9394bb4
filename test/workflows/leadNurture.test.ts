/**
 * The lead-nurture sequence on the time-skipping server, with the real activities, a real Postgres
 * and a real SMTP catch-all: cadence, stop, pause/resume, idempotent retries, a killed worker.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import type { Lead } from '../../db/stores/leads';
import type { leadNurtureWorkflow } from '../../workflows/leadNurture';
import {
  getNurtureStateQuery,
  nurtureWorkflowId,
  pauseNurtureUpdate,
  resumeNurtureUpdate,
  stopNurtureUpdate,
  type LeadNurtureInput,
} from '../../workflows/leadNurture.contract';
import type { NurtureStepInput } from '../../workflows/leadNurture.contract';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { testEnv } from '../helpers/env';
import { createLead, createUsers, type TestUsers } from '../helpers/fixtures';
import { emailsTo } from '../helpers/mail';
import { eventually, startTestWorker, timeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';

const DAY_S = 86_400;

type NurtureHandle = WorkflowHandle<typeof leadNurtureWorkflow>;

function timerSeconds(events: temporal.api.history.v1.IHistoryEvent[]): number[] {
  return events
    .filter((e) => e.timerStartedEventAttributes)
    .map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds ?? 0) + (e.timerStartedEventAttributes!.startToFireTimeout!.nanos ?? 0) / 1e9);
}

describe('lead nurture workflow (time-skipping server)', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let users: TestUsers;

  before(async function () {
    [env, database] = await Promise.all([timeSkippingEnv(), createTestDatabase(), workflowBundle()]).then(([e, d]) => [e, d] as const);
    users = await createUsers(database.db);
  });

  after(async function () {
    await env?.teardown();
    await database?.drop();
  });

  async function start(lead: Lead, taskQueue: string, overrides: Partial<LeadNurtureInput> = {}): Promise<NurtureHandle> {
    return env.client.workflow.start<typeof leadNurtureWorkflow>('leadNurtureWorkflow', {
      workflowId: nurtureWorkflowId(lead.id),
      taskQueue,
      args: [{ leadId: lead.id, ownerId: lead.ownerId, customerType: lead.customerType, enrolledBy: users.rep.id, ...overrides }],
    });
  }

  const timeline = (lead: Lead) => database.db('activities').where({ regarding_type: 'lead', regarding_id: lead.id }).orderBy('created_at');
  const stepRecords = (lead: Lead) => database.db('nurture_steps').where({ lead_id: lead.id }).orderBy('step_index');

  it('runs the four steps in order, 1, 3 and 2 days apart, each writing one timeline activity', async function () {
    const taskQueue = uniqueTaskQueue('nurture');
    const worker = await startTestWorker(env, database.db, taskQueue);
    try {
      const lead = await createLead(database.db, users.rep.id);
      const handle = await start(lead, taskQueue);
      const final = await handle.result();

      assert.equal(final.status, 'completed');
      assert.deepEqual(final.steps.map((s) => [s.step, s.state]), [
        ['intro_call', 'done'], ['information_email', 'done'], ['follow_up_email', 'done'], ['appointment_call', 'done'],
      ]);
      const { events } = await handle.fetchHistory();
      assert.deepEqual(timerSeconds(events!), [DAY_S, 3 * DAY_S, 2 * DAY_S]);
      const done = final.steps.map((s) => Date.parse(s.doneAt!));
      for (let i = 1; i < done.length; i++) assert.ok(done[i] > done[i - 1], 'steps finish in order');

      const rows = await timeline(lead);
      assert.deepEqual(rows.map((r) => r.type), ['phone_call', 'email', 'email', 'phone_call']);
      assert.deepEqual(rows.map((r) => r.id), final.steps.map((s) => s.activityId));
      assert.ok(rows.filter((r) => r.type === 'email').every((r) => r.status === 'completed' && r.sent_at && r.to_address === lead.email));
      assert.ok(rows.filter((r) => r.type === 'phone_call').every((r) => r.status === 'open' && r.owner_id === users.rep.id));
      assert.deepEqual((await stepRecords(lead)).map((r) => r.state), ['done', 'done', 'done', 'done']);

      const mails = await emailsTo(lead.email!);
      assert.equal(mails.length, 2);
      assert.ok(mails.some((m) => m.subject.includes('Fabrikam')), 'the information email names the company');
      assert.ok(mails.every((m) => m.text.includes('Dear Abbie')), 'both emails greet the lead by name');
    } finally {
      await worker.stop();
    }
  });

  it('stopped mid-gap, records the remaining steps as skipped and writes nothing more', async function () {
    const taskQueue = uniqueTaskQueue('nurture');
    const worker = await startTestWorker(env, database.db, taskQueue);
    try {
      const lead = await createLead(database.db, users.rep.id);
      const handle = await start(lead, taskQueue);
      await eventually(async () => (await handle.query(getNurtureStateQuery)).steps[0].state === 'done', 'the intro call');
      await env.sleep('12 hours');
      const stopped = await handle.executeUpdate(stopNurtureUpdate, { args: [{ reason: 'replied', by: users.rep.id }] });
      assert.equal(stopped.status, 'stopped');
      assert.equal(stopped.stopReason, 'replied');
      assert.deepEqual(stopped.steps.map((s) => s.state), ['done', 'skipped', 'skipped', 'skipped']);

      const final = await handle.result();
      assert.equal(final.status, 'stopped');
      const records = await stepRecords(lead);
      assert.deepEqual(records.map((r) => [r.step, r.state, r.skip_reason]), [
        ['intro_call', 'done', null], ['information_email', 'skipped', 'replied'],
        ['follow_up_email', 'skipped', 'replied'], ['appointment_call', 'skipped', 'replied'],
      ]);
      assert.equal((await timeline(lead)).length, 1);
      assert.equal((await emailsTo(lead.email!)).length, 0);
    } finally {
      await worker.stop();
    }
  });

  it('paused, fires no step; resumed, runs only what was left of the gap and later gaps in full', async function () {
    const taskQueue = uniqueTaskQueue('nurture');
    const worker = await startTestWorker(env, database.db, taskQueue);
    try {
      const lead = await createLead(database.db, users.rep.id);
      const handle = await start(lead, taskQueue);
      await eventually(async () => (await handle.query(getNurtureStateQuery)).steps[0].state === 'done', 'the intro call');
      await env.sleep('6 hours');
      const paused = await handle.executeUpdate(pauseNurtureUpdate, { args: [{ by: users.rep.id }] });
      assert.equal(paused.status, 'paused');

      await env.sleep('10 days');
      const whilePaused = await handle.query(getNurtureStateQuery);
      assert.equal(whilePaused.steps[1].state, 'pending', 'no step fires while paused');
      assert.equal(whilePaused.nextStepAt, null);
      const remainingS = whilePaused.remainingGapMs! / 1000;
      assert.ok(remainingS <= 18 * 3600 && remainingS > 18 * 3600 - 120, `about 18 h of the 1-day gap remain (got ${remainingS} s)`);
      assert.equal((await timeline(lead)).length, 1);

      const resumed = await handle.executeUpdate(resumeNurtureUpdate, { args: [{ by: users.manager.id }] });
      assert.equal(resumed.status, 'running');
      const final = await handle.result();
      assert.equal(final.status, 'completed');

      const timers = timerSeconds((await handle.fetchHistory()).events!);
      assert.equal(timers.length, 4, 'the first gap timer, its remainder after resume, then the two later gaps');
      assert.equal(timers[0], DAY_S);
      assert.ok(Math.abs(timers[1] - remainingS) < 1, 'after resume, the timer runs the remaining part of the gap');
      assert.deepEqual(timers.slice(2), [3 * DAY_S, 2 * DAY_S], 'later gaps keep their full length');
    } finally {
      await worker.stop();
    }
  });

  it('refuses a consumer lead: the workflow fails with not_corporate and writes nothing', async function () {
    const taskQueue = uniqueTaskQueue('nurture');
    const worker = await startTestWorker(env, database.db, taskQueue);
    try {
      const lead = await createLead(database.db, users.rep.id, { customerType: 'consumer' });
      const handle = await start(lead, taskQueue);
      await assert.rejects(handle.result(), (error: unknown) => {
        assert.ok(error instanceof WorkflowFailedError);
        assert.equal((error.cause as ApplicationFailure).type, 'not_corporate');
        return true;
      });
      assert.equal((await timeline(lead)).length, 0);
    } finally {
      await worker.stop();
    }
  });

  it('an activity that fails after writing is retried and leaves exactly one row and one email', async function () {
    const taskQueue = uniqueTaskQueue('nurture');
    let failures = 0;
    const worker = await startTestWorker(env, database.db, taskQueue, {
      wrapActivities: (activities) => ({
        ...activities,
        async performNurtureStep(input: NurtureStepInput) {
          const result = await activities.performNurtureStep(input);
          if (input.step === 'information_email' && failures++ === 0) throw new Error('simulated crash after the write');
          return result;
        },
      }),
    });
    try {
      const lead = await createLead(database.db, users.rep.id);
      const handle = await start(lead, taskQueue);
      const final = await handle.result();
      assert.equal(final.status, 'completed');
      assert.equal(failures, 2, 'the step ran twice: the failed attempt and its retry');
      const rows = await timeline(lead);
      assert.equal(rows.length, 4);
      assert.equal(rows.filter((r) => r.subject.startsWith('Contoso Home Security for')).length, 1);
      assert.equal((await emailsTo(lead.email!)).length, 2, 'the retry did not send the information email again');
      assert.equal((await stepRecords(lead)).length, 4);
    } finally {
      await worker.stop();
    }
  });

  it('a worker killed mid-sequence and replaced finishes the sequence with exactly one row per step', async function () {
    this.timeout(180_000);
    const taskQueue = uniqueTaskQueue('nurture');
    const lead = await createLead(database.db, users.rep.id);
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '..', 'fixtures', 'crashingWorker.ts')], {
      env: { ...process.env, TEMPORAL_ADDRESS: env.address, TASK_QUEUE: taskQueue, DATABASE_URL: database.url, SMTP_PORT: String(testEnv.smtpPort), CRASH_AFTER_STEP: 'information_email' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child.once('exit', () => reject(new Error('the crashing worker exited before it was ready')));
    });

    const handle = await start(lead, taskQueue);
    await eventually(async () => (await handle.query(getNurtureStateQuery)).steps[0].state === 'done', 'the intro call', 60_000);
    await env.sleep('1 day');
    assert.equal(await exited, 'SIGKILL', 'the first worker died mid-step');
    const written = await timeline(lead);
    assert.equal(written.length, 2, 'the killed worker had written the information email before dying');

    const replacement = await startTestWorker(env, database.db, taskQueue, { identity: 'replacement-worker' });
    try {
      // The killed attempt times out (startToClose, 1 min, real time: the test server does not skip
      // time while an activity is in flight) and is retried on the replacement.
      const final = await handle.result();
      assert.equal(final.status, 'completed');
      const rows = await timeline(lead);
      assert.deepEqual(rows.map((r) => r.type), ['phone_call', 'email', 'email', 'phone_call']);
      assert.equal(rows[1].id, written[1].id, 'the retry found the row the killed worker wrote');
      assert.equal((await stepRecords(lead)).length, 4);
      assert.equal((await emailsTo(lead.email!)).length, 2);
    } finally {
      await replacement.stop();
    }
  });
});
