/**
 * Qualifying a lead through the API (SPEC "Leads"): contact, account and deal, the lead closed as
 * qualified, its nurture stopped, its timeline carried over, the deal's workflow started — once.
 */
import assert from 'node:assert/strict';
import { getNurtureStateQuery, nurtureWorkflowId } from '../../workflows/leadNurture.contract';
import { dealWorkflowId } from '../../workflows/dealLifecycle.contract';
import { countRows } from '../helpers/db';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { createLead, uniqueEmail } from '../helpers/fixtures';
import { eventually } from '../helpers/temporal';
import type { DealDetail, Qualified, Timeline } from '../helpers/apiTypes';

describe('qualifying a lead (dev server, real worker, Postgres)', function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'dev' });
  });

  after(async function () {
    await stack?.teardown();
  });

  it('answers 201 with the contact, account and deal ids, closes the lead as qualified and starts deal-<dealId>', async function () {
    const lead = await createLead(stack.db, stack.users.rep.id, { companyName: 'Northwind Traders', topic: 'Cameras for 12 stores', estimatedValueCents: 4_200_000 });
    const reply = await stack.as.rep.post<Qualified>(`/leads/${lead.id}/qualify`);
    expectStatus(reply, 201);
    const { dealId, contactId, accountId, workflowId } = reply.body;
    assert.equal(workflowId, `deal-${dealId}`);
    assert.equal(reply.headers.get('location'), `/deals/${dealId}`);

    const closed = await stack.db('leads').where({ id: lead.id }).first();
    assert.deepEqual([closed.status, closed.closed_by], ['qualified', stack.users.rep.id]);
    const contact = await stack.db('contacts').where({ id: contactId }).first();
    assert.deepEqual([contact.first_name, contact.last_name, contact.email, contact.parent_account_id, contact.owner_id], ['Abbie', 'Moss', lead.email, accountId, stack.users.rep.id]);
    const account = await stack.db('accounts').where({ id: accountId }).first();
    assert.deepEqual([account.name, account.normalized_name, account.city, account.owner_id], ['Northwind Traders', 'northwind traders', 'Fairfield', stack.users.rep.id]);
    const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
    assert.deepEqual([deal.name, deal.leadId, deal.contactId, deal.accountId, deal.ownerId, deal.stage, deal.status, deal.valueCents],
      ['Northwind Traders: Cameras for 12 stores', lead.id, contactId, accountId, stack.users.rep.id, 'qualify', 'open', 4_200_000]);

    const description = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).describe();
    assert.equal(description.status.name, 'RUNNING');
    assert.equal(description.type, 'dealLifecycleWorkflow');

    const audit = await stack.db('audit_log').whereIn('entity_id', [lead.id, dealId, contactId, accountId]).orderBy('id');
    assert.deepEqual(audit.map((a) => a.action).sort(), ['account.created', 'contact.created', 'deal.created', 'lead.created', 'lead.qualified']);
    assert.ok(audit.filter((a) => a.action !== 'lead.created').every((a) => a.actor_type === 'user' && a.actor_id === stack.users.rep.id), 'every write is attributed to the rep');
  });

  it('reuses an existing account with the same normalised name and an existing contact with the same email', async function () {
    const email = uniqueEmail('buyer');
    const first = await createLead(stack.db, stack.users.rep.id, { companyName: 'Fabrikam, Inc.', email });
    const second = await createLead(stack.db, stack.users.rep.id, { companyName: '  FABRIKAM   inc ', email: email.toUpperCase(), topic: 'Thermostats' });
    const a = (await stack.as.rep.post<Qualified>(`/leads/${first.id}/qualify`)).body;
    const before = await countRows(stack.db, ['accounts', 'contacts']);
    const b = await stack.as.rep.post<Qualified>(`/leads/${second.id}/qualify`);
    expectStatus(b, 201);
    assert.equal(b.body.accountId, a.accountId);
    assert.equal(b.body.contactId, a.contactId);
    assert.notEqual(b.body.dealId, a.dealId, 'each qualified lead has its own deal');
    assert.deepEqual(await countRows(stack.db, ['accounts', 'contacts']), before, 'nothing new was created for the customer');
  });

  it('a lead without a company becomes a contact and a deal, without an account', async function () {
    const lead = await createLead(stack.db, stack.users.rep.id, { companyName: null, customerType: 'consumer', topic: 'Smart doorbell' });
    const reply = await stack.as.rep.post<Qualified>(`/leads/${lead.id}/qualify`, { dealName: 'Doorbell for Abbie' });
    expectStatus(reply, 201);
    assert.equal(reply.body.accountId, null);
    const deal = (await stack.as.rep.get<DealDetail>(`/deals/${reply.body.dealId}`)).body;
    assert.deepEqual([deal.name, deal.accountId], ['Doorbell for Abbie', null]);
  });

  it('repeating the call answers with the same ids and starts nothing new', async function () {
    const lead = await createLead(stack.db, stack.users.rep.id);
    const first = await stack.as.rep.post<Qualified>(`/leads/${lead.id}/qualify`);
    const handle = stack.env.client.workflow.getHandle(dealWorkflowId(first.body.dealId));
    const { runId } = await handle.describe();
    const before = await countRows(stack.db, ['deals', 'contacts', 'accounts', 'audit_log']);
    const again = await stack.as.rep.post(`/leads/${lead.id}/qualify`);
    expectStatus(again, 200);
    assert.deepEqual(again.body, first.body);
    const byManager = await stack.as.manager.post(`/leads/${lead.id}/qualify`);
    assert.deepEqual(byManager.body, first.body);
    assert.deepEqual(await countRows(stack.db, ['deals', 'contacts', 'accounts', 'audit_log']), before);
    assert.equal((await handle.describe()).runId, runId, 'the same workflow run');
  });

  it('stops the lead’s nurture sequence with reason qualified, and the deal’s timeline shows the lead’s earlier activities', async function () {
    const lead = await createLead(stack.db, stack.users.rep.id);
    expectStatus(await stack.as.rep.post(`/leads/${lead.id}/nurture`), 202);
    const nurture = stack.env.client.workflow.getHandle(nurtureWorkflowId(lead.id));
    await eventually(async () => (await nurture.query(getNurtureStateQuery)).steps[0].state === 'done', 'the intro call');
    const note = await stack.as.rep.post('/activities', { type: 'note', regarding: { type: 'lead', id: lead.id }, subject: 'Asked for a site visit' });
    expectStatus(note, 201);

    const { dealId } = (await stack.as.rep.post<Qualified>(`/leads/${lead.id}/qualify`)).body;
    const stopped = await eventually(async () => {
      const state = await nurture.query(getNurtureStateQuery);
      return state.status === 'stopped' && state;
    }, 'the nurture sequence to stop');
    assert.deepEqual([stopped.stopReason, stopped.stoppedBy], ['qualified', stack.users.rep.id]);

    const task = await stack.as.rep.post('/activities', { type: 'task', regarding: { type: 'deal', id: dealId }, subject: 'Plan the site survey' });
    expectStatus(task, 201);
    const timeline = (await stack.as.rep.get<Timeline>(`/deals/${dealId}/timeline`)).body.data;
    const from = timeline.map((a) => [a.regardingType, a.subject]);
    assert.ok(from.some(([type, subject]: string[]) => type === 'lead' && subject === 'Asked for a site visit'), 'the lead’s note');
    assert.ok(from.some(([type, subject]: string[]) => type === 'lead' && /call/i.test(subject)), 'the lead’s intro call');
    assert.ok(from.some(([type, subject]: string[]) => type === 'deal' && subject === 'Plan the site survey'), 'the deal’s own task');
    const tasks = (await stack.as.rep.get<Timeline>(`/deals/${dealId}/timeline?type=task`)).body.data;
    assert.deepEqual(tasks.map((a) => a.subject), ['Plan the site survey']);
  });

  it('refuses a disqualified lead (409 lead_closed), and only the lead’s owner or a manager qualifies it (403)', async function () {
    const lead = await createLead(stack.db, stack.users.rep.id);
    expectStatus(await stack.as.otherRep.post(`/leads/${lead.id}/qualify`), 403, 'not_owner');
    expectStatus(await stack.as.tech_consultant.post(`/leads/${lead.id}/qualify`), 403, 'forbidden');
    const disqualified = await createLead(stack.db, stack.users.rep.id);
    await stack.db('leads').where({ id: disqualified.id }).update({ status: 'disqualified', status_reason: 'lost', closed_at: stack.db.fn.now(), closed_by: stack.users.rep.id });
    const before = await countRows(stack.db, ['deals', 'contacts', 'accounts']);
    expectStatus(await stack.as.rep.post(`/leads/${disqualified.id}/qualify`), 409, 'lead_closed');
    assert.deepEqual(await countRows(stack.db, ['deals', 'contacts', 'accounts']), before);
    expectStatus(await stack.as.manager.post(`/leads/${lead.id}/qualify`), 201);
    expectStatus(await stack.as.rep.post('/leads/00000000-0000-4000-8000-000000000000/qualify'), 404, 'lead_not_found');
  });
});
