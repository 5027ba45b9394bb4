/**
 * Leads and activities through the real API over HTTP (dev server, embedded Postgres): who may do
 * what, clear errors that change nothing, the timeline's order, filters and overdue rule.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db';
import { createUsers, uniqueEmail, type TestUsers } from '../helpers/fixtures';
import { client, startTestApi, type TestApi } from '../helpers/http';
import { devServerEnv, uniqueTaskQueue } from '../helpers/temporal';
import type { Activity, Lead, Page, Problem, Timeline } from '../helpers/apiTypes';

const WRITE_TABLES = ['leads', 'activities', 'audit_log', 'nurture_steps', 'idempotency_keys'];

describe('leads and activities API', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let users: TestUsers;
  let api: TestApi;
  let rep: ReturnType<typeof client>;

  const validLead = () => ({
    topic: 'Security systems for 12 branches', firstName: 'Kenneth', lastName: 'Beraun', email: uniqueEmail('kenneth'),
    businessPhone: '384.995.7852', companyName: 'Kim Boyle', city: 'Amarillo', state: 'Texas', country: 'USA',
    source: 'trade_show', customerType: 'corporate', estimatedValueCents: 1_250_000,
  });

  before(async function () {
    [env, database] = await Promise.all([devServerEnv(), createTestDatabase()]);
    users = await createUsers(database.db);
    api = await startTestApi(database.db, env.client, uniqueTaskQueue('api'));
    rep = client(api.url, users.rep.token);
  });

  after(async function () {
    await api?.close();
    await env?.teardown();
    await database?.drop();
  });

  describe('authentication and roles', function () {
    it('answers 401 with a problem document and writes nothing without a valid token', async function () {
      const before = await countRows(database.db, WRITE_TABLES);
      for (const token of [undefined, 'sps_not-a-real-token']) {
        const reply = await client(api.url, token).post<Problem>('/leads', validLead());
        assert.equal(reply.status, 401);
        assert.equal(reply.body.code, 'unauthorized');
        assert.match(reply.headers.get('content-type')!, /application\/problem\+json/);
        assert.equal(reply.headers.get('www-authenticate'), 'Bearer');
      }
      const malformed = await client(api.url).get('/leads', { Authorization: 'Basic abc' });
      assert.equal(malformed.status, 401);
      assert.deepEqual(await countRows(database.db, WRITE_TABLES), before);
    });

    it('answers 403 when a technical consultant tries to create a lead, and writes nothing', async function () {
      const before = await countRows(database.db, WRITE_TABLES);
      const reply = await client(api.url, users.tech_consultant.token).post<Problem>('/leads', validLead());
      assert.equal(reply.status, 403);
      assert.equal(reply.body.code, 'forbidden');
      assert.deepEqual(await countRows(database.db, WRITE_TABLES), before);
    });

    it('lets a rep own their leads but only a manager give one to someone else', async function () {
      const refused = await rep.post<Problem>('/leads', { ...validLead(), ownerId: users.otherRep.id });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'owner_reassign_forbidden');
      const created = await client(api.url, users.manager.token).post<Lead>('/leads', { ...validLead(), ownerId: users.otherRep.id });
      assert.equal(created.status, 201);
      assert.equal(created.body.ownerId, users.otherRep.id);
      const reassign = await rep.patch(`/leads/${created.body.id}`, { ownerId: users.rep.id });
      assert.equal(reassign.status, 403);
      const byManager = await client(api.url, users.manager.token).patch<Lead>(`/leads/${created.body.id}`, { ownerId: users.rep.id });
      assert.equal(byManager.status, 200);
      assert.equal(byManager.body.ownerId, users.rep.id);
    });
  });

  describe('validation', function () {
    const cases: Array<[string, Record<string, unknown>, string, string]> = [
      ['a missing last name', { lastName: undefined }, 'lastName', 'required'],
      ['an empty topic', { topic: '   ' }, 'topic', 'required'],
      ['a malformed email', { email: 'not-an-email' }, 'email', 'invalid_email'],
      ['an unknown customer type', { customerType: 'government' }, 'customerType', 'invalid_value'],
      ['an unknown source', { source: 'carrier_pigeon' }, 'source', 'invalid_value'],
      ['a fractional amount of cents', { estimatedValueCents: 10.5 }, 'estimatedValueCents', 'invalid_type'],
      ['a negative amount', { estimatedValueCents: -1 }, 'estimatedValueCents', 'too_small'],
      ['a website that is not http(s)', { website: 'ftp://fabrikam.example' }, 'website', 'invalid_url'],
      ['an owner that is not an id', { ownerId: 'bob' }, 'ownerId', 'invalid_uuid'],
      ['an owner who does not exist', { ownerId: '00000000-0000-4000-8000-000000000000' }, 'ownerId', 'unknown_user'],
      ['a field the API does not know', { favouriteColour: 'green' }, 'favouriteColour', 'unknown_field'],
      ['a topic over 200 characters', { topic: 'x'.repeat(201) }, 'topic', 'too_long'],
    ];
    for (const [what, change, field, code] of cases) {
      it(`refuses ${what} with 400, code ${code} on ${field}, and writes nothing`, async function () {
        const before = await countRows(database.db, WRITE_TABLES);
        const client_ = field === 'ownerId' ? client(api.url, users.manager.token) : rep;
        const reply = await client_.post<Problem>('/leads', { ...validLead(), ...change });
        assert.equal(reply.status, 400, JSON.stringify(reply.body));
        assert.equal(reply.body.code, 'validation_failed');
        assert.equal(reply.body.field, field);
        assert.deepEqual(reply.body.errors!.find((e) => e.field === field)?.code, code);
        assert.deepEqual(await countRows(database.db, WRITE_TABLES), before);
      });
    }

    it('refuses a body that is not JSON with malformed_json', async function () {
      const reply = await rep.post<Problem>('/leads', '{"topic": ', { 'Content-Type': 'application/json' });
      assert.equal(reply.status, 400);
      assert.equal(reply.body.code, 'malformed_json');
    });

    it('answers 404 for an id that names no lead, malformed or not', async function () {
      for (const id of ['nope', '00000000-0000-4000-8000-000000000000']) {
        const reply = await rep.get<Problem>(`/leads/${id}`);
        assert.equal(reply.status, 404);
        assert.equal(reply.body.code, 'lead_not_found');
      }
    });
  });

  describe('leads', function () {
    it('creates a lead attributed to the rep, with an audit row naming them', async function () {
      const reply = await rep.post<Lead>('/leads', validLead());
      assert.equal(reply.status, 201);
      assert.equal(reply.headers.get('location'), `/leads/${reply.body.id}`);
      assert.equal(reply.body.status, 'open');
      assert.equal(reply.body.ownerId, users.rep.id);
      assert.equal(reply.body.createdBy, users.rep.id);
      const audit = await database.db('audit_log').where({ entity_type: 'lead', entity_id: reply.body.id });
      assert.deepEqual(audit.map((a) => [a.action, a.actor_type, a.actor_id]), [['lead.created', 'user', users.rep.id]]);
      assert.equal(audit[0].request_id, reply.headers.get('x-request-id'));
    });

    it('lists leads filtered by status, owner and customer type, a page at a time', async function () {
      const owner = users.otherRep;
      const manager = client(api.url, users.manager.token);
      for (const customerType of ['corporate', 'corporate', 'consumer']) {
        assert.equal((await manager.post('/leads', { ...validLead(), customerType, ownerId: owner.id })).status, 201);
      }
      const corporate = await rep.get<Page<Lead>>(`/leads?ownerId=${owner.id}&customerType=corporate&status=open&limit=1`);
      assert.equal(corporate.status, 200);
      assert.equal(corporate.body.page.total, 2);
      assert.equal(corporate.body.data.length, 1);
      const second = await rep.get<Page<Lead>>(`/leads?ownerId=${owner.id}&customerType=corporate&limit=1&offset=1`);
      assert.notEqual(second.body.data[0].id, corporate.body.data[0].id);
      const bad = await rep.get<Problem>('/leads?limit=1000');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'limit');
    });

    it('disqualifies with a reason from the configured list, and then the lead is read-only', async function () {
      const lead = (await rep.post<Lead>('/leads', validLead())).body;
      const unknown = await rep.post<Problem>(`/leads/${lead.id}/disqualify`, { reason: 'bored' });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.field, 'reason');
      const missing = await rep.post<Problem>(`/leads/${lead.id}/disqualify`, {});
      assert.equal(missing.status, 400);
      assert.equal(missing.body.errors![0].code, 'required');

      const closed = await rep.post<Lead>(`/leads/${lead.id}/disqualify`, { reason: 'no_longer_interested' });
      assert.equal(closed.status, 200);
      assert.equal(closed.body.status, 'disqualified');
      assert.equal(closed.body.statusReason, 'no_longer_interested');
      assert.equal(closed.body.closedBy, users.rep.id);

      const again = await rep.post<Problem>(`/leads/${lead.id}/disqualify`, { reason: 'lost' });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'lead_closed');
      const edit = await rep.patch<Problem>(`/leads/${lead.id}`, { topic: 'changed' });
      assert.equal(edit.status, 409);
      assert.equal(edit.body.code, 'lead_closed');
    });

    it('refuses an empty patch', async function () {
      const lead = (await rep.post<Lead>('/leads', validLead())).body;
      const reply = await rep.patch<Problem>(`/leads/${lead.id}`, {});
      assert.equal(reply.status, 400);
      assert.equal(reply.body.errors![0].code, 'empty_patch');
    });
  });

  describe('timeline and activities', function () {
    it('lists newest first, filters by type and status, and flags open activities past due as overdue', async function () {
      const lead = (await rep.post<Lead>('/leads', validLead())).body;
      const regarding = { type: 'lead', id: lead.id };
      const hour = 3_600_000;
      const at = (offset: number) => new Date(Date.now() + offset).toISOString();
      const overdue = (await rep.post<Activity>('/activities', { type: 'phone_call', regarding, subject: 'Call back', dueAt: at(-2 * hour) })).body;
      const upcoming = (await rep.post<Activity>('/activities', { type: 'task', regarding, subject: 'Send brochure', dueAt: at(48 * hour) })).body;
      const note = (await rep.post<Activity>('/activities', { type: 'note', regarding, subject: 'Prefers email' })).body;
      assert.equal(note.status, 'completed');
      const done = (await rep.post<Activity>('/activities', { type: 'email', regarding, subject: 'Sent pricing', dueAt: at(-24 * hour) })).body;
      assert.equal((await rep.patch(`/activities/${done.id}`, { status: 'completed' })).status, 200);

      const all = await rep.get<Timeline>(`/leads/${lead.id}/timeline`);
      assert.equal(all.status, 200);
      // Upcoming first (due in 2 days), then by when things happened: the email just completed,
      // the note written before it, the call that fell due 2 hours ago.
      assert.deepEqual(all.body.data.map((a: { id: string }) => a.id), [upcoming.id, done.id, note.id, overdue.id]);
      assert.deepEqual(all.body.data.filter((a: { overdue: boolean }) => a.overdue).map((a: { id: string }) => a.id), [overdue.id]);

      const calls = await rep.get<Timeline>(`/leads/${lead.id}/timeline?type=phone_call,task`);
      assert.deepEqual(calls.body.data.map((a: { type: string }) => a.type).sort(), ['phone_call', 'task']);
      const onlyOverdue = await rep.get<Timeline>(`/leads/${lead.id}/timeline?status=overdue`);
      assert.deepEqual(onlyOverdue.body.data.map((a: { id: string }) => a.id), [overdue.id]);
      const completed = await rep.get<Timeline>(`/leads/${lead.id}/timeline?status=completed`);
      assert.equal(completed.body.page.total, 2);
      const badFilter = await rep.get<Problem>(`/leads/${lead.id}/timeline?status=urgent`);
      assert.equal(badFilter.status, 400);
      assert.equal(badFilter.body.field, 'status.0');
    });

    it('completes, cancels and reschedules open activities; closed ones are final', async function () {
      const lead = (await rep.post<Lead>('/leads', validLead())).body;
      const regarding = { type: 'lead', id: lead.id };
      const task = (await rep.post<Activity>('/activities', { type: 'task', regarding, subject: 'Prepare demo', dueAt: new Date().toISOString() })).body;
      const later = new Date(Date.now() + 7 * 86_400_000).toISOString();
      const moved = await rep.patch<Activity>(`/activities/${task.id}`, { dueAt: later });
      assert.equal(moved.status, 200);
      assert.equal(moved.body.dueAt, later);
      const canceled = await rep.patch<Activity>(`/activities/${task.id}`, { status: 'canceled' });
      assert.equal(canceled.body.status, 'canceled');
      assert.ok(canceled.body.canceledAt);
      const reopen = await rep.patch<Problem>(`/activities/${task.id}`, { status: 'completed' });
      assert.equal(reopen.status, 409);
      assert.equal(reopen.body.code, 'activity_closed');
      assert.deepEqual((await rep.get<Activity>(`/activities/${task.id}`)).body, canceled.body);
      const actions = await database.db('audit_log').where({ entity_type: 'activity', entity_id: task.id }).orderBy('id').pluck('action');
      assert.deepEqual(actions, ['activity.created', 'activity.rescheduled', 'activity.canceled']);
    });

    it('refuses an activity about a record that does not exist', async function () {
      const before = await countRows(database.db, WRITE_TABLES);
      const reply = await rep.post<Problem>('/activities', { type: 'task', regarding: { type: 'lead', id: '00000000-0000-4000-8000-000000000000' }, subject: 'x' });
      assert.equal(reply.status, 400);
      assert.equal(reply.body.field, 'regarding.id');
      const badType = await rep.post<Problem>('/activities', { type: 'task', regarding: { type: 'spaceship', id: '00000000-0000-4000-8000-000000000000' }, subject: 'x' });
      assert.equal(badType.status, 400);
      assert.equal(badType.body.field, 'regarding.type');
      assert.deepEqual(await countRows(database.db, WRITE_TABLES), before);
    });
  });
});
