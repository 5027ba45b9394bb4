/**
 * A whole sequence driven through the real API over HTTP on the time-skipping server: the two
 * emails reach the SMTP catch-all with the lead's name and company, and the timeline shows all
 * four steps.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createUsers, uniqueEmail, type TestUsers } from '../helpers/fixtures';
import { client, startTestApi, type TestApi } from '../helpers/http';
import { emailsTo } from '../helpers/mail';
import { startTestWorker, timeSkippingEnv, uniqueTaskQueue, workflowBundle, type RunningTestWorker } from '../helpers/temporal';
import type { Enrolled, Lead, Nurture, Timeline } from '../helpers/apiTypes';

describe('nurture emails over HTTP (time-skipping server)', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let users: TestUsers;
  let api: TestApi;
  let worker: RunningTestWorker;

  before(async function () {
    const taskQueue = uniqueTaskQueue('emails');
    [env, database] = await Promise.all([timeSkippingEnv(), createTestDatabase(), workflowBundle()]).then(([e, d]) => [e, d] as const);
    users = await createUsers(database.db);
    worker = await startTestWorker(env, database.db, taskQueue);
    api = await startTestApi(database.db, env.client, taskQueue);
  });

  after(async function () {
    await api?.close();
    await worker?.stop();
    await env?.teardown();
    await database?.drop();
  });

  it('sends the information and follow-up emails to the lead, by name and company, and records all four steps', async function () {
    const rep = client(api.url, users.rep.token);
    const email = uniqueEmail('jacqueline');
    const lead = (await rep.post<Lead>('/leads', {
      topic: 'Humidity sensors for server rooms', firstName: 'Jacqueline', lastName: 'Biondi', email,
      companyName: 'Northwind Traders', customerType: 'corporate',
    })).body;
    const enrolled = await rep.post<Enrolled>(`/leads/${lead.id}/nurture`);
    assert.equal(enrolled.status, 202);

    await env.client.workflow.getHandle(enrolled.body.workflowId).result();

    const mails = await emailsTo(email);
    assert.equal(mails.length, 2);
    const information = mails.find((m) => m.subject === 'Contoso Home Security for Northwind Traders');
    const followUp = mails.find((m) => m !== information)!;
    assert.ok(information, 'the information email names the company in its subject');
    assert.match(information.text, /Dear Jacqueline,/);
    assert.match(information.text, /Humidity sensors for server rooms/);
    assert.equal(followUp.subject, 'Any questions about Contoso Home Security, Jacqueline?');
    assert.match(followUp.text, /Northwind Traders/);
    assert.match(followUp.text, new RegExp(users.rep.name), 'signed by the owning rep');

    const state = (await rep.get<Nurture>(`/leads/${lead.id}/nurture`)).body;
    assert.equal(state.status, 'completed');
    const timeline = (await rep.get<Timeline>(`/leads/${lead.id}/timeline`)).body;
    assert.deepEqual(timeline.data.map((a: { type: string }) => a.type).sort(), ['email', 'email', 'phone_call', 'phone_call']);
    const sent = timeline.data.filter((a: { type: string }) => a.type === 'email');
    assert.ok(sent.every((a) => a.status === 'completed' && a.sentAt && a.toAddress === email));
  });

  it('reports 503 from /health when Temporal cannot be reached', async function () {
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 }) });
    const isolated = await startTestApi(database.db, unreachable, 'unused');
    try {
      const reply = await client(isolated.url).get('/health');
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.body, { status: 'unavailable', checks: { postgres: 'ok', temporal: 'unavailable' } });
    } finally {
      await isolated.close();
    }
  });
});
