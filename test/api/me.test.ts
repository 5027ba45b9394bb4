/**
 * GET /me says who the token belongs to; GET /me/activities is the caller's work list across
 * every record: only their own activities, open ones the soonest due first, overdue ones flagged
 * by the timelines' rule, and `dueBefore` for "due today".
 */
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createLead, createUsers, type TestUsers } from '../helpers/fixtures';
import { client, startTestApi, type TestApi } from '../helpers/http';
import type { Activity, Page } from '../helpers/apiTypes';

describe('GET /me and /me/activities', function () {
  let database: TestDatabase;
  let api: TestApi;
  let users: TestUsers;

  before(async function () {
    database = await createTestDatabase();
    users = await createUsers(database.db);
    // Nothing here reaches Temporal.
    api = await startTestApi(database.db, {} as Client, 'me');
  });

  after(async function () {
    await api?.close();
    await database?.drop();
  });

  it('says who the token belongs to, and refuses without one', async function () {
    const me = await client(api.url, users.tech_consultant.token).get('/me');
    assert.equal(me.status, 200);
    assert.deepEqual(me.body, { id: users.tech_consultant.id, name: users.tech_consultant.name, email: null, role: 'tech_consultant', managerId: users.manager.id });
    assert.equal((await client(api.url).get('/me')).status, 401);
  });

  it('lists my activities on every record, open ones the soonest due first, overdue flagged', async function () {
    const rep = client(api.url, users.rep.token);
    const lead = await createLead(database.db, users.rep.id);
    const other = await createLead(database.db, users.otherRep.id);
    const at = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
    const task = async (who: ReturnType<typeof client>, leadId: string, subject: string, dueAt: string | null, ownerId?: string) => {
      const reply = await who.post<Activity>('/activities', { type: 'task', regarding: { type: 'lead', id: leadId }, subject, dueAt, ...(ownerId ? { ownerId } : {}) });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body.id as string;
    };
    const later = await task(rep, lead.id, 'Send the brochure', at(48));
    const overdue = await task(rep, lead.id, 'Call back', at(-2));
    const soon = await task(rep, other.id, 'Note on a colleague’s lead', at(1));
    const undated = await task(rep, lead.id, 'Some day', null);
    await task(client(api.url, users.otherRep.token), other.id, 'Not mine', at(-1));
    const done = await task(rep, lead.id, 'Done already', at(-5));
    assert.equal((await rep.patch(`/activities/${done}`, { status: 'completed' })).status, 200);
    await task(rep, lead.id, 'For my colleague', at(3), users.otherRep.id);

    const open = await rep.get<Page<Activity>>('/me/activities?status=open');
    assert.equal(open.status, 200);
    assert.deepEqual(open.body.data.map((a: { id: string }) => a.id), [overdue, soon, later, undated]);
    assert.deepEqual(open.body.data.map((a: { overdue: boolean }) => a.overdue), [true, false, false, false]);
    assert.equal(open.body.page.total, 4);

    const today = await rep.get<Page<Activity>>(`/me/activities?status=open,overdue&dueBefore=${encodeURIComponent(at(24))}`);
    assert.deepEqual(today.body.data.map((a: { id: string }) => a.id), [overdue, soon]);
    assert.deepEqual((await rep.get<Page<Activity>>('/me/activities?status=overdue')).body.data.map((a: { id: string }) => a.id), [overdue]);
    const all = await rep.get<Page<Activity>>('/me/activities');
    assert.deepEqual(all.body.data.map((a: { id: string }) => a.id), [overdue, soon, later, undated, done], 'closed ones after the open ones');
    assert.equal((await rep.get('/me/activities?dueBefore=tomorrow')).status, 400);
  });
});
