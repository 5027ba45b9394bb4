/**
 * Sequences as data over HTTP (issue 9), on the dev server with a real worker and Postgres: a
 * manager creates and publishes a sequence, a rep enrolls a contact, a reply stops it, an
 * unsubscribe stops it and blocks the next enrollment, a booked meeting stops it; running
 * enrollments keep their version when a new one is published; the funnel counts it all.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createUsers, uniqueEmail, type TestUsers } from '../helpers/fixtures';
import { client, startTestApi, type TestApi } from '../helpers/http';
import { emailsTo } from '../helpers/mail';
import { devServerEnv, eventually, startTestWorker, uniqueTaskQueue, workflowBundle, type RunningTestWorker } from '../helpers/temporal';
import type { Contact, Enrolled, Funnel, InboundResult, Nurture, Problem, Sequence, SequenceVersion, Timeline } from '../helpers/apiTypes';

const INTRO_EMAIL = {
  key: 'intro_email', type: 'email', title: 'Intro email', wait: { amount: 0, unit: 'hours' },
  subject: 'Hello {{firstName}} from {{company}}', body: 'Dear {{firstName}},\n\nA word about {{topic}}.\n\n{{ownerSignature}}',
};
const CALL_LATER = { key: 'call', type: 'phone_call', title: 'Call', wait: { amount: 2, unit: 'business_days' }, subject: 'Call {{fullName}}', body: 'Follow up' };

describe('sequences over HTTP (dev server)', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let users: TestUsers;
  let api: TestApi;
  let worker: RunningTestWorker;
  let rep: ReturnType<typeof client>;
  let manager: ReturnType<typeof client>;
  let inboundSecret: string;

  before(async function () {
    const taskQueue = uniqueTaskQueue('sequences');
    [env, database] = await Promise.all([devServerEnv(), createTestDatabase(), workflowBundle()]).then(([e, d]) => [e, d] as const);
    users = await createUsers(database.db);
    worker = await startTestWorker(env, database.db, taskQueue);
    api = await startTestApi(database.db, env.client, taskQueue);
    rep = client(api.url, users.rep.token);
    manager = client(api.url, users.manager.token);
    inboundSecret = (await client(api.url, users.admin.token).get<{ secret: string }>('/settings/inbound-email')).body.secret;
  });

  after(async function () {
    await api?.close();
    await worker?.stop();
    await env?.teardown();
    await database?.drop();
  });

  async function publishedSequence(steps: unknown[], name = 'Partner outreach'): Promise<Sequence> {
    const created = await manager.post<Sequence>('/sequences', { name, eligibility: { customerTypes: ['corporate', 'consumer'] }, steps });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const published = await manager.post<SequenceVersion>(`/sequences/${created.body.id}/publish`);
    assert.equal(published.status, 201);
    return (await manager.get<Sequence>(`/sequences/${created.body.id}`)).body;
  }

  async function newContact(): Promise<Contact> {
    const reply = await rep.post<Contact>('/contacts', { firstName: 'Nora', lastName: 'Lind', email: uniqueEmail('nora'), timeZone: 'Europe/Berlin' });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return reply.body;
  }

  const stateOf = async (contactId: string) => (await rep.get<Nurture>(`/contacts/${contactId}/nurture`)).body;

  async function sentEmail(contactId: string) {
    return eventually(async () => {
      const row = await database.db('activities').where({ regarding_type: 'contact', regarding_id: contactId, type: 'email' }).whereNotNull('message_id').first('message_id', 'body');
      return row as { message_id: string; body: string } | undefined;
    }, 'the intro email sent');
  }

  it('lets managers create, edit and publish sequences; reps read them but cannot write; bad steps are 400 naming the field', async function () {
    const refused = await rep.post<Problem>('/sequences', { name: 'Mine', steps: [INTRO_EMAIL] });
    assert.equal(refused.status, 403);
    const typo = await manager.post<Problem>('/sequences', { name: 'Typo', steps: [{ ...INTRO_EMAIL, body: 'Hi {{frstName}}' }] });
    assert.equal(typo.status, 400);
    assert.deepEqual(typo.body.errors?.map((e) => [e.field, e.code]), [['steps.0.body', 'unknown_merge_field']]);
    const twice = await manager.post<Problem>('/sequences', { name: 'Twice', steps: [INTRO_EMAIL, INTRO_EMAIL] });
    assert.equal(twice.status, 400);
    assert.equal(twice.body.errors?.[0].code, 'duplicate_key');

    const sequence = await publishedSequence([INTRO_EMAIL]);
    assert.equal(sequence.latestVersion, 1);
    const edited = await manager.patch<Sequence>(`/sequences/${sequence.id}`, { steps: [INTRO_EMAIL, CALL_LATER] });
    assert.equal(edited.status, 200);
    assert.equal(edited.body.latestVersion, 1, 'editing the draft publishes nothing');
    const v1 = await rep.get<SequenceVersion>(`/sequences/${sequence.id}/versions/1`);
    assert.deepEqual(v1.body.steps.map((s) => s.key), ['intro_email'], 'a published version never changes');
    const list = await rep.get<{ data: Sequence[] }>('/sequences');
    assert.equal(list.body.data[0].isDefault, true, 'the seeded default comes first');
    assert.equal(list.body.data[0].latestVersion, 1);
  });

  it('enrolls a contact; the email carries a signed unsubscribe link; a reply stops the sequence as replied and lands on the timeline', async function () {
    const sequence = await publishedSequence([INTRO_EMAIL, CALL_LATER]);
    const contact = await newContact();
    const enrolled = await rep.post<Enrolled>(`/contacts/${contact.id}/nurture`, { sequenceId: sequence.id });
    assert.equal(enrolled.status, 202, JSON.stringify(enrolled.body));
    assert.equal(enrolled.body.workflowId, `contact-nurture-${contact.id}`);
    assert.equal(enrolled.body.sequenceVersion, 1);

    const sent = await sentEmail(contact.id);
    const mails = await eventually(async () => ((await emailsTo(contact.email!)).length ? emailsTo(contact.email!) : null), 'the email delivered');
    assert.equal(mails[0].subject, 'Hello Nora from your company');
    assert.match(mails[0].text, /\/unsubscribe\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
    assert.match(sent.body, /Test rep\nContoso Home Security/, 'signed with the owner’s name');

    const unauthenticated = await client(api.url).post<Problem>('/inbound/email', { from: contact.email, text: 'hi' });
    assert.equal(unauthenticated.status, 401);
    const inbound = client(api.url);
    const reply = await inbound.post<InboundResult>('/inbound/email', {
      from: `Nora Lind <${contact.email}>`, to: 'sales@contoso.example', subject: 'Re: Hello',
      headers: `Message-ID: <reply-${contact.id}@fabrikam.example>\r\nIn-Reply-To: ${sent.message_id}\r\n`, text: 'Yes, please call me on Tuesday.',
    }, { 'X-Inbound-Secret': inboundSecret });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.matched, true);
    assert.equal(reply.body.workflowId, enrolled.body.workflowId);

    const stopped = await eventually(async () => {
      const s = await stateOf(contact.id);
      return s.status === 'stopped' ? s : null;
    }, 'the sequence stopped by the reply');
    assert.equal(stopped.stopReason, 'replied');
    assert.equal(stopped.steps[1].state, 'skipped');
    const timeline = await rep.get<Timeline>(`/contacts/${contact.id}/timeline`);
    assert.ok(timeline.body.data.some((a) => a.type === 'email' && /Tuesday/.test(String((a as { body?: string | null }).body ?? ''))), 'the reply is on the timeline');

    const again = await inbound.post<InboundResult>('/inbound/email', {
      from: contact.email, headers: `Message-ID: <reply-${contact.id}@fabrikam.example>\r\nIn-Reply-To: ${sent.message_id}\r\n`, text: 'Yes',
    }, { 'X-Inbound-Secret': inboundSecret });
    assert.equal(again.body.id, reply.body.id, 'a repeated delivery is stored once');
    const stranger = await inbound.post<InboundResult>('/inbound/email', { from: 'someone@else.example', text: 'hello' }, { 'X-Inbound-Secret': inboundSecret });
    assert.equal(stranger.body.matched, false);
  });

  it('an unsubscribe stops the sequence, marks the person do-not-email and refuses the next enrollment; a forged link is 404', async function () {
    const sequence = await publishedSequence([INTRO_EMAIL, CALL_LATER]);
    const contact = await newContact();
    await rep.post<Enrolled>(`/contacts/${contact.id}/nurture`, { sequenceId: sequence.id });
    const sent = await sentEmail(contact.id);
    const token = /\/unsubscribe\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/.exec(sent.body)![1];

    const forged = await client(api.url).post<Problem>(`/unsubscribe/${token.split('.')[0]}.${'A'.repeat(43)}`);
    assert.equal(forged.status, 404);
    const page = await fetch(`${api.url}/unsubscribe/${token}`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post"/, 'the link shows a confirmation; a mail scanner’s GET unsubscribes nobody');
    assert.equal((await rep.get<Contact>(`/contacts/${contact.id}`)).body.doNotEmailAt, null);

    const done = await client(api.url).post<{ unsubscribed: boolean; firstTime: boolean }>(`/unsubscribe/${token}`);
    assert.equal(done.status, 200);
    assert.equal(done.body.firstTime, true);
    const stopped = await eventually(async () => {
      const s = await stateOf(contact.id);
      return s.status === 'stopped' ? s : null;
    }, 'the sequence stopped by the unsubscribe');
    assert.equal(stopped.stopReason, 'unsubscribed');
    assert.ok((await rep.get<Contact>(`/contacts/${contact.id}`)).body.doNotEmailAt);
    const refused = await rep.post<Problem>(`/contacts/${contact.id}/nurture`, { sequenceId: sequence.id });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'do_not_email');
    assert.equal((await client(api.url).post<{ firstTime: boolean }>(`/unsubscribe/${token}`)).body.firstTime, false);
  });

  it('a completed appointment with the person stops the sequence as meeting_booked', async function () {
    const sequence = await publishedSequence([{ ...CALL_LATER, wait: { amount: 0, unit: 'hours' }, key: 'first' }, CALL_LATER]);
    const contact = await newContact();
    await rep.post<Enrolled>(`/contacts/${contact.id}/nurture`, { sequenceId: sequence.id });
    await eventually(async () => ((await stateOf(contact.id)).steps[0].state === 'done' ? true : null), 'the first call created');
    const meeting = await rep.post('/activities', { type: 'appointment', regarding: { type: 'contact', id: contact.id }, subject: 'Site visit', status: 'completed' });
    assert.equal(meeting.status, 201, JSON.stringify(meeting.body));
    const stopped = await eventually(async () => {
      const s = await stateOf(contact.id);
      return s.status === 'stopped' ? s : null;
    }, 'the sequence stopped by the meeting');
    assert.equal(stopped.stopReason, 'meeting_booked');
  });

  it('running enrollments keep their version when a new one is published; archived sequences take no one; the funnel counts by version', async function () {
    const sequence = await publishedSequence([{ ...CALL_LATER, wait: { amount: 0, unit: 'hours' }, key: 'first' }, CALL_LATER]);
    const early = await newContact();
    await rep.post<Enrolled>(`/contacts/${early.id}/nurture`, { sequenceId: sequence.id });
    await manager.patch(`/sequences/${sequence.id}`, { steps: [{ ...CALL_LATER, wait: { amount: 0, unit: 'hours' }, key: 'opening' }] });
    await manager.post(`/sequences/${sequence.id}/publish`);
    const late = await newContact();
    const lateEnrolled = await rep.post<Enrolled>(`/contacts/${late.id}/nurture`, { sequenceId: sequence.id });
    assert.equal(lateEnrolled.body.sequenceVersion, 2);
    const earlyState = await stateOf(early.id);
    assert.equal(earlyState.sequenceVersion, 1);
    assert.deepEqual(earlyState.steps.map((s) => s.step), ['first', 'call']);
    await eventually(async () => ((await stateOf(late.id)).status === 'completed' ? true : null), 'version 2 (one step) completes');
    await eventually(async () => ((await stateOf(early.id)).steps[0].state === 'done' ? true : null), 'version 1 step 1 done');

    const funnel = await rep.get<Funnel>(`/sequences/${sequence.id}/report`);
    assert.deepEqual(funnel.body.versions.map((v) => [v.version, v.enrolled, v.completed, v.running]), [[1, 1, 0, 1], [2, 1, 1, 0]]);
    assert.deepEqual(funnel.body.versions[0].steps, [{ key: 'first', reached: 1, skipped: 0 }, { key: 'call', reached: 0, skipped: 0 }]);

    const archived = await manager.post<Sequence>(`/sequences/${sequence.id}/archive`);
    assert.equal(archived.body.status, 'archived');
    const refused = await rep.post<Problem>(`/contacts/${(await newContact()).id}/nurture`, { sequenceId: sequence.id });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'sequence_archived');
    assert.equal((await stateOf(early.id)).status, 'running', 'archiving stops no running enrollment');
  });

  it('enrolls a list, pauses and resumes every enrollment of a sequence by filter as a batch, and hands a rep’s enrollments to another rep', async function () {
    this.timeout(120_000);
    const sequence = await publishedSequence([{ ...CALL_LATER, wait: { amount: 0, unit: 'hours' }, key: 'first' }, CALL_LATER]);
    const people = await Promise.all([newContact(), newContact(), newContact()]);
    await rep.post(`/contacts/${people[2].id}/nurture`, { sequenceId: sequence.id });
    const listed = await rep.post<{ enrolled: number; refused: number; results: Array<{ id: string; status: string; code: string | null }> }>(
      `/sequences/${sequence.id}/enrollments`, { people: people.map((p) => ({ type: 'contact', id: p.id })) });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.results.map((r) => [r.id, r.status, r.code]), [
      [people[0].id, 'enrolled', null], [people[1].id, 'enrolled', null], [people[2].id, 'refused', 'already_enrolled'],
    ]);
    const query = `SequenceId = '${sequence.id}' AND ExecutionStatus = 'Running'`;
    await eventually(async () => ((await env.client.workflow.count(query)).count === 3 ? true : null), 'the three enrollments visible');

    const refused = await rep.post<Problem>('/enrollments/bulk', { action: 'pause', filter: { sequenceId: sequence.id } });
    assert.equal(refused.status, 403, 'bulk actions are for managers');
    const paused = await manager.post<{ id: string; state: string }>('/enrollments/bulk', { action: 'pause', filter: { sequenceId: sequence.id } });
    assert.equal(paused.status, 202, JSON.stringify(paused.body));
    const done = await eventually(async () => {
      const b = (await manager.get<{ state: string; total: number; completed: number }>(`/enrollments/bulk/${paused.body.id}`)).body;
      return b.state === 'completed' ? b : null;
    }, 'the pause batch done', 60_000);
    assert.equal(done.total, 3);
    assert.equal(done.completed, 3);
    for (const p of people) assert.equal((await stateOf(p.id)).status, 'paused');
    // Nothing the filter matches is left unpaused (visibility catches up with the runs' own upserts).
    await eventually(async () => ((await manager.get<{ pending: number }>(`/enrollments/bulk/${paused.body.id}`)).body.pending === 0 ? true : null), 'no running enrollment left to pause');

    const resumed = await manager.post<{ id: string; pending: number }>('/enrollments/bulk', { action: 'resume', filter: { sequenceId: sequence.id, status: 'paused' } });
    assert.equal(resumed.body.pending, 3, 'three paused enrollments for the batch to reach');
    await eventually(async () => ((await manager.get<{ state: string }>(`/enrollments/bulk/${resumed.body.id}`)).body.state === 'completed' ? true : null), 'the resume batch done', 60_000);
    for (const p of people) assert.equal((await stateOf(p.id)).status, 'running');

    const handed = await manager.post<{ id: string; people: number }>('/enrollments/reassign', { fromOwnerId: users.rep.id, toOwnerId: users.otherRep.id });
    assert.equal(handed.status, 202, JSON.stringify(handed.body));
    assert.ok(handed.body.people >= 3);
    await eventually(async () => ((await manager.get<{ state: string }>(`/enrollments/bulk/${handed.body.id}`)).body.state === 'completed' ? true : null), 'the reassign batch done', 60_000);
    for (const p of people) {
      assert.equal((await stateOf(p.id)).ownerId, users.otherRep.id);
      assert.equal((await manager.get<Contact>(`/contacts/${p.id}`)).body.ownerId, users.otherRep.id);
    }
  });

  it('refuses a bad time zone and bad working hours with 400 naming the field', async function () {
    const badZone = await rep.post<Problem>('/contacts', { lastName: 'Zed', timeZone: 'Mars/Olympus' });
    assert.equal(badZone.status, 400);
    assert.deepEqual(badZone.body.errors?.map((e) => [e.field, e.code]), [['timeZone', 'invalid_time_zone']]);
    const hours = await rep.patch<Problem>(`/users/${users.rep.id}/calendar`, { hours: { days: [1], start: '17:00', end: '09:00' } });
    assert.equal(hours.status, 400);
    assert.equal(hours.body.errors?.[0].code, 'invalid_working_hours');
    const other = await rep.patch<Problem>(`/users/${users.otherRep.id}/calendar`, { zone: 'Europe/Berlin' });
    assert.equal(other.status, 403);
    const mine = await rep.patch<{ zone: string }>(`/users/${users.rep.id}/calendar`, { zone: 'America/Chicago' });
    assert.equal(mine.body.zone, 'America/Chicago');
  });
});
