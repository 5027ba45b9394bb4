/**
 * The nurture step activities on the activity test environment, against the real database and
 * SMTP catch-all: idempotency per workflow run and step, closed leads, bounced addresses.
 */
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createLeadNurtureActivities } from '../../activities/leadNurture';
import { PermanentMailError, type Mailer } from '../../activities/mailer';
import { LeadStore } from '../../db/stores/leads';
import type { NurtureStepInput, NurtureStepResult } from '../../workflows/leadNurture.contract';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createLead, createUsers, type TestUsers } from '../helpers/fixtures';
import { emailsTo } from '../helpers/mail';
import { testLog, testMailer } from '../helpers/temporal';

const step = (leadId: string, name: NurtureStepInput['step'], index: number, activityType: NurtureStepInput['activityType']): NurtureStepInput => ({
  leadId, step: name, stepIndex: index, title: name, activityType, dueAt: new Date().toISOString(),
});

/** Runs a step as an activity of workflow `lead-nurture-test`, run `runId`. */
function runStep(runId: string, fn: (input: NurtureStepInput) => Promise<NurtureStepResult>, input: NurtureStepInput): Promise<NurtureStepResult> {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'lead-nurture-test', runId } } as never);
  return env.run(fn, input) as Promise<NurtureStepResult>;
}

describe('lead nurture activities', function () {
  let database: TestDatabase;
  let users: TestUsers;
  let mailer: Mailer;

  before(async function () {
    mailer = testMailer();
    database = await createTestDatabase();
    users = await createUsers(database.db);
  });

  after(async function () {
    mailer.close();
    await database?.drop();
  });

  it('writes one timeline row and sends one email per run and step, however often it is retried', async function () {
    const lead = await createLead(database.db, users.rep.id);
    const activities = createLeadNurtureActivities({ db: database.db, mailer, log: testLog });
    const first = await runStep('run-1', activities.performNurtureStep, step(lead.id, 'information_email', 1, 'email'));
    const second = await runStep('run-1', activities.performNurtureStep, step(lead.id, 'information_email', 1, 'email'));
    assert.equal(first.outcome, 'done');
    assert.deepEqual(second, first);
    assert.equal((await database.db('activities').where({ regarding_id: lead.id })).length, 1);
    assert.equal((await emailsTo(lead.email!)).length, 1);
    assert.equal((await database.db('audit_log').where({ action: 'activity.created', actor_id: 'lead-nurture-test' })).length, 1);

    const anotherRun = await runStep('run-2', activities.performNurtureStep, step(lead.id, 'information_email', 1, 'email'));
    assert.equal(anotherRun.outcome, 'done');
    assert.notEqual((anotherRun as { activityId: string }).activityId, (first as { activityId: string }).activityId, 'a new enrollment writes its own row');
  });

  it('reports a closed lead instead of acting on it', async function () {
    const lead = await createLead(database.db, users.rep.id);
    await new LeadStore(database.db).disqualify(lead.id, 'lost', { actor: { type: 'user', id: users.rep.id }, userId: users.rep.id });
    const activities = createLeadNurtureActivities({ db: database.db, mailer, log: testLog });
    const result = await runStep('run-3', activities.performNurtureStep, step(lead.id, 'intro_call', 0, 'phone_call'));
    assert.deepEqual(result, { outcome: 'lead_closed', reason: 'disqualified' });
    assert.equal((await database.db('activities').where({ regarding_id: lead.id })).length, 0);
  });

  it('cancels the email and reports a bounce when the mail server refuses the address for good', async function () {
    const lead = await createLead(database.db, users.rep.id);
    const refusing: Mailer = {
      async send(email) {
        throw new PermanentMailError(`550 no such user ${email.to}`);
      },
      close() {},
    };
    const activities = createLeadNurtureActivities({ db: database.db, mailer: refusing, log: testLog });
    const result = await runStep('run-4', activities.performNurtureStep, step(lead.id, 'follow_up_email', 2, 'email'));
    assert.equal(result.outcome, 'bounced');
    const [row] = await database.db('activities').where({ regarding_id: lead.id });
    assert.equal(row.status, 'canceled');
    assert.match(row.outcome, /550 no such user/);
  });

  it('fails without retrying when the lead no longer exists', async function () {
    const activities = createLeadNurtureActivities({ db: database.db, mailer, log: testLog });
    await assert.rejects(
      runStep('run-5', activities.performNurtureStep, step('00000000-0000-4000-8000-000000000000', 'intro_call', 0, 'phone_call')),
      (error: { type?: string; nonRetryable?: boolean }) => error.type === 'lead_not_found' && error.nonRetryable === true,
    );
  });
});
