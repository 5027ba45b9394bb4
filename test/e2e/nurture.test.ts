/**
 * The nurture sequence end to end over HTTP: the real API, a real worker, the Temporal dev server
 * and the embedded Postgres. Enroll, read the state, stop, pause and resume, and the refusals.
 */
import assert from 'node:assert/strict';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { nurtureWorkflowId } from '../../workflows/leadNurture.contract';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db';
import { createUsers, uniqueEmail, type TestUsers } from '../helpers/fixtures';
import { client, startTestApi, type TestApi } from '../helpers/http';
import { devServerEnv, eventually, startTestWorker, uniqueTaskQueue, workflowBundle, type RunningTestWorker } from '../helpers/temporal';
import type { Enrolled, Nurture, Problem, Timeline } from '../helpers/apiTypes';

const DAY_MS = 86_400_000;

describe('nurture sequence over HTTP (dev server)', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let users: TestUsers;
  let api: TestApi;
  let worker: RunningTestWorker;
  let rep: ReturnType<typeof client>;
  let manager: ReturnType<typeof client>;

  const newLead = async (overrides: Record<string, unknown> = {}) => {
    const reply = await rep.post('/leads', {
      topic: 'Smart thermostats for a hotel chain', firstName: 'Abbie', lastName: 'Moss', email: uniqueEmail('abbie'),
      companyName: 'Collins Reed and Howard', customerType: 'corporate', ...overrides,
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return reply.body as { id: string; email: string };
  };

  const stateOf = async (leadId: string) => (await rep.get<Nurture>(`/leads/${leadId}/nurture`)).body;

  before(async function () {
    const taskQueue = uniqueTaskQueue('e2e');
    [env, database] = await Promise.all([devServerEnv(), createTestDatabase(), workflowBundle()]).then(([e, d]) => [e, d] as const);
    users = await createUsers(database.db);
    worker = await startTestWorker(env, database.db, taskQueue);
    api = await startTestApi(database.db, env.client, taskQueue);
    rep = client(api.url, users.rep.token);
    manager = client(api.url, users.manager.token);
  });

  after(async function () {
    await api?.close();
    await worker?.stop();
    await env?.teardown();
    await database?.drop();
  });

  it('enrolls a corporate lead: 202, step 1 done at once, step 2 due one day later; then stops with the rest skipped', async function () {
    const lead = await newLead();
    const enrolled = await rep.post<Enrolled>(`/leads/${lead.id}/nurture`);
    assert.equal(enrolled.status, 202);
    assert.equal(enrolled.body.workflowId, `lead-nurture-${lead.id}`);
    assert.ok(enrolled.body.runId);

    const state = await eventually(async () => {
      const s = await stateOf(lead.id);
      return s.steps?.[0].state === 'done' ? s : null;
    }, 'the intro call');
    assert.equal(state.status, 'running');
    assert.equal(state.runId, enrolled.body.runId);
    const [intro, info] = state.steps;
    assert.ok(intro.activityId);
    assert.equal(info.state, 'pending');
    assert.equal(Date.parse(info.dueAt!) - Date.parse(intro.doneAt!), DAY_MS, 'the information email is due one day after the intro call');
    assert.equal(state.nextStepAt, info.dueAt);
    assert.equal(state.currentStep, 'information_email');

    const timeline = await rep.get<Timeline>(`/leads/${lead.id}/timeline`);
    assert.deepEqual(timeline.body.data.map((a) => [a.id, a.type, a.ownerId]), [[intro.activityId, 'phone_call', users.rep.id]]);

    const described = await env.client.workflow.getHandle(enrolled.body.workflowId).describe();
    assert.equal(described.typedSearchAttributes.get({ name: 'LeadId', type: 'KEYWORD' } as never), lead.id);

    const stopped = await rep.post<Nurture>(`/leads/${lead.id}/nurture/stop`, { reason: 'meeting_booked' });
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'stopped');
    assert.equal(stopped.body.stopReason, 'meeting_booked');
    assert.equal(stopped.body.stoppedBy, users.rep.id);
    assert.deepEqual(stopped.body.steps.map((s: { state: string }) => s.state), ['done', 'skipped', 'skipped', 'skipped']);
    await eventually(async () => (await database.db('nurture_steps').where({ lead_id: lead.id, state: 'skipped' })).length === 3, 'skipped steps recorded');
    const audit = await database.db('audit_log').where({ entity_type: 'lead', entity_id: lead.id }).orderBy('id').pluck('action');
    assert.deepEqual(audit, ['lead.created', 'nurture.enrolled', 'nurture.stopped']);

    const again = await rep.post<Problem>(`/leads/${lead.id}/nurture/stop`, { reason: 'manual' });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'nurture_finished');
  });

  it('refuses a consumer lead with 422 not_corporate and starts nothing', async function () {
    const lead = await newLead({ customerType: 'consumer' });
    const before = await countRows(database.db, ['activities', 'nurture_steps', 'audit_log', 'idempotency_keys']);
    const reply = await rep.post<Problem>(`/leads/${lead.id}/nurture`);
    assert.equal(reply.status, 422);
    assert.equal(reply.body.code, 'not_corporate');
    assert.equal(reply.body.field, 'customerType');
    await assert.rejects(env.client.workflow.getHandle(nurtureWorkflowId(lead.id)).describe(), WorkflowNotFoundError);
    assert.deepEqual(await countRows(database.db, ['activities', 'nurture_steps', 'audit_log', 'idempotency_keys']), before);
  });

  it('refuses a closed lead with 409, and a lead without an email with 422 email_required', async function () {
    const closed = await newLead();
    await rep.post(`/leads/${closed.id}/disqualify`, { reason: 'lost' });
    const reply = await rep.post<Problem>(`/leads/${closed.id}/nurture`);
    assert.equal(reply.status, 409);
    assert.equal(reply.body.code, 'lead_closed');

    const noEmail = await newLead({ email: null });
    const refused = await rep.post<Problem>(`/leads/${noEmail.id}/nurture`);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.code, 'email_required');
    assert.equal(refused.body.field, 'email');
  });

  it('refuses a second enrollment while one runs, naming it; a retry with the same Idempotency-Key gets the original 202', async function () {
    const lead = await newLead();
    const key = { 'Idempotency-Key': `enroll-${lead.id}` };
    const first = await rep.post<Enrolled>(`/leads/${lead.id}/nurture`, undefined, key);
    assert.equal(first.status, 202);
    const retried = await rep.post(`/leads/${lead.id}/nurture`, undefined, key);
    assert.equal(retried.status, 202);
    assert.deepEqual(retried.body, first.body);
    assert.equal(retried.headers.get('idempotent-replayed'), 'true');

    const second = await manager.post<Problem>(`/leads/${lead.id}/nurture`);
    assert.equal(second.status, 409);
    assert.equal(second.body.code, 'already_enrolled');
    assert.equal(second.body.workflowId, first.body.workflowId);
    assert.equal(second.body.runId, first.body.runId);

    const enrolledAudits = await database.db('audit_log').where({ entity_id: lead.id, action: 'nurture.enrolled' });
    assert.equal(enrolledAudits.length, 1, 'the retried request did not enroll twice');
  });

  it('lets only the owner or a manager pause and resume', async function () {
    const lead = await newLead();
    await rep.post(`/leads/${lead.id}/nurture`);
    await eventually(async () => (await stateOf(lead.id)).steps?.[0].state === 'done', 'the intro call');

    const stranger = await client(api.url, users.otherRep.token).post<Problem>(`/leads/${lead.id}/nurture/pause`);
    assert.equal(stranger.status, 403);
    assert.equal(stranger.body.code, 'not_owner');
    const tech = await client(api.url, users.tech_consultant.token).post(`/leads/${lead.id}/nurture/pause`);
    assert.equal(tech.status, 403);

    const paused = await rep.post<Nurture>(`/leads/${lead.id}/nurture/pause`);
    assert.equal(paused.status, 200);
    assert.equal(paused.body.status, 'paused');
    assert.equal(paused.body.nextStepAt, null);
    assert.ok(paused.body.remainingGapMs! > DAY_MS - 60_000 && paused.body.remainingGapMs! <= DAY_MS);
    const twice = await rep.post<Problem>(`/leads/${lead.id}/nurture/pause`);
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'nurture_already_paused');

    const resumed = await manager.post<Nurture>(`/leads/${lead.id}/nurture/resume`);
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.status, 'running');
    const notPaused = await manager.post<Problem>(`/leads/${lead.id}/nurture/resume`);
    assert.equal(notPaused.status, 409);
    assert.equal(notPaused.body.code, 'nurture_not_paused');
  });

  it('stops the sequence when the lead is disqualified', async function () {
    const lead = await newLead();
    await rep.post(`/leads/${lead.id}/nurture`);
    await eventually(async () => (await stateOf(lead.id)).steps?.[0].state === 'done', 'the intro call');
    assert.equal((await rep.post(`/leads/${lead.id}/disqualify`, { reason: 'cannot_contact' })).status, 200);
    const state = await eventually(async () => {
      const s = await stateOf(lead.id);
      return s.status === 'stopped' ? s : null;
    }, 'the stop');
    assert.equal(state.stopReason, 'disqualified');
    assert.deepEqual(state.steps.map((s: { state: string }) => s.state), ['done', 'skipped', 'skipped', 'skipped']);
  });

  it('validates the stop reason and answers 404 for a lead never enrolled', async function () {
    const lead = await newLead();
    const never = await rep.get<Problem>(`/leads/${lead.id}/nurture`);
    assert.equal(never.status, 404);
    assert.equal(never.body.code, 'nurture_not_found');
    await rep.post(`/leads/${lead.id}/nurture`);
    const bad = await rep.post<Problem>(`/leads/${lead.id}/nurture/stop`, { reason: 'bored' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'reason');
    assert.equal(bad.body.errors![0].code, 'invalid_value');
    assert.equal((await stateOf(lead.id)).status, 'running');
  });

  it('reports health: 200 with Postgres and Temporal up', async function () {
    const reply = await client(api.url).get('/health');
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body, { status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
  });
});
