/**
 * Timelines through the real API (dev server, real worker, Postgres): every record type — lead,
 * deal, account, contact, quote, order, invoice — has one, with the same activity model, filters,
 * order and overdue rule; the aggregated ones (a deal with its lead, an order with its invoices, an
 * account with its contacts, deals, quotes, orders and invoices, a contact with the appointments
 * they attend) say which record each activity came from. Appointments have attendees.
 */
import assert from 'node:assert/strict';
import { countRows } from '../helpers/db';
import { driveDeal } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { createLead, uniqueEmail } from '../helpers/fixtures';
import { today } from '../helpers/orders';
import type { Account, Activity, Contact, DealDetail, InvoiceIssued, OrderWon, Problem, Qualified, Timeline } from '../helpers/apiTypes';
import type { AuditRow } from '../helpers/rows';

const HOUR_MS = 3_600_000;
const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

describe('timelines through the API (dev server, real worker, Postgres)', function () {
  let stack: TestStack;
  /** One customer's whole story: a lead qualified into a deal of an account, quoted, won, fulfilled and invoiced. */
  let ids: { lead: string; deal: string; account: string; contact: string; quote: string; order: string; invoice: string };

  const add = async (type: string, regarding: { type: string; id: string }, subject: string, extra: Record<string, unknown> = {}) => {
    const reply = await stack.as.rep.post<Activity>('/activities', { type, regarding, subject, ...extra });
    expectStatus(reply, 201);
    return reply.body;
  };

  before(async function () {
    stack = await startStack({ server: 'dev' });
    const company = `Litware ${Math.random().toString(36).slice(2, 8)}`;
    const lead = await createLead(stack.db, stack.users.rep.id, { companyName: company });
    await add('note', { type: 'lead', id: lead.id }, 'Met at the trade show');
    const qualified = await stack.as.rep.post<Qualified>(`/leads/${lead.id}/qualify`);
    expectStatus(qualified, 201);
    const dealId: string = qualified.body.dealId;
    const { quoteId } = await driveDeal(stack, dealId, 'close', 1_200_000);
    const won = await stack.as.rep.post<OrderWon>(`/quotes/${quoteId}/win`);
    expectStatus(won, 201);
    expectStatus(await stack.as.rep.post(`/orders/${won.body.id}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
    const invoice = await stack.as.rep.post<InvoiceIssued>(`/orders/${won.body.id}/invoices`);
    expectStatus(invoice, 201);
    const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
    ids = { lead: lead.id, deal: dealId, account: deal.accountId!, contact: deal.contactId!, quote: quoteId, order: won.body.id, invoice: invoice.body.id };
    for (const type of ['deal', 'account', 'contact', 'quote', 'order', 'invoice'] as const) await add('email', { type, id: ids[type] }, `About the ${type}`, { status: 'completed' });
  });

  after(async function () {
    await stack?.teardown();
  });

  it('every record type has a timeline with the same order, filters and overdue rule', async function () {
    for (const [type, path] of [['lead', 'leads'], ['deal', 'deals'], ['account', 'accounts'], ['contact', 'contacts'], ['quote', 'quotes'], ['order', 'orders'], ['invoice', 'invoices']] as const) {
      const regarding = { type, id: ids[type] };
      const overdue = await add('phone_call', regarding, `Call about the ${type}`, { dueAt: at(-2 * HOUR_MS) });
      const upcoming = await add('task', regarding, `Prepare the ${type}`, { dueAt: at(48 * HOUR_MS) });
      const note = await add('note', regarding, `A note on the ${type}`);
      const mine = new Set([overdue.id, upcoming.id, note.id]);
      const own = (await stack.as.rep.get<Timeline>(`/${path}/${ids[type]}/timeline?limit=200`)).body.data.filter((a) => mine.has(a.id));
      assert.deepEqual(own.map((a) => [a.id, a.via, a.overdue]), [[upcoming.id, 'self', false], [note.id, 'self', false], [overdue.id, 'self', true]], `${type}: upcoming first, then newest first`);
      const overdueOnly = (await stack.as.rep.get<Timeline>(`/${path}/${ids[type]}/timeline?status=overdue`)).body.data;
      assert.ok(overdueOnly.length >= 1 && overdueOnly.every((a) => a.overdue && a.status === 'open'), `${type}: status=overdue selects open activities past due`);
      assert.ok(overdueOnly.some((a) => a.id === overdue.id));
      const calls = (await stack.as.rep.get<Timeline>(`/${path}/${ids[type]}/timeline?type=phone_call`)).body.data;
      assert.ok(calls.length >= 1 && calls.every((a) => a.type === 'phone_call'), `${type}: filtered by type`);
      expectStatus(await stack.as.rep.get(`/${path}/00000000-0000-4000-8000-000000000000/timeline`), 404, `${type}_not_found`);
      expectStatus(await stack.as.rep.get(`/${path}/${ids[type]}/timeline?status=urgent`), 400, 'validation_failed');
    }
  });

  it('a deal’s timeline includes its lead’s activities, flagged as coming from the lead, and nothing of its quotes', async function () {
    const data = (await stack.as.rep.get<Timeline>(`/deals/${ids.deal}/timeline?limit=200`)).body.data;
    const fromLead = data.filter((a) => a.via === 'lead');
    assert.ok(fromLead.some((a) => a.subject === 'Met at the trade show' && a.regardingType === 'lead' && a.regardingId === ids.lead));
    assert.deepEqual([...new Set(data.map((a) => a.via))].sort(), ['lead', 'self']);
  });

  it('an order’s timeline includes its invoices’ activities', async function () {
    const data = (await stack.as.rep.get<Timeline>(`/orders/${ids.order}/timeline?limit=200`)).body.data;
    assert.ok(data.some((a) => a.via === 'invoice' && a.regardingId === ids.invoice));
    assert.ok(data.some((a) => a.via === 'self' && a.regardingId === ids.order));
  });

  it('an account’s timeline includes its contacts’, deals’ (and their leads’), quotes’, orders’ and invoices’ activities, each flagged; other accounts’ stay out', async function () {
    const colleague = await stack.as.rep.post<Contact>('/contacts', { firstName: 'Sam', lastName: 'Colleague', email: uniqueEmail('sam'), parentAccountId: ids.account });
    expectStatus(colleague, 201);
    const call = await add('phone_call', { type: 'contact', id: colleague.body.id }, 'Call Sam about the rollout', { dueAt: at(HOUR_MS) });
    const elsewhere = await stack.as.rep.post<Account>('/accounts', { name: `Elsewhere ${Math.random().toString(36).slice(2, 8)}` });
    const unrelated = await add('task', { type: 'account', id: elsewhere.body.id }, 'Not this customer');

    const reply = await stack.as.rep.get<Timeline>(`/accounts/${ids.account}/timeline?limit=200`);
    const data = reply.body.data;
    assert.deepEqual([...new Set(data.map((a) => a.via))].sort(), ['contact', 'deal', 'invoice', 'lead', 'order', 'quote', 'self']);
    for (const a of data) {
      if (a.via !== 'self') assert.equal(a.regardingType, a.via, 'the flag names the kind of record it is about');
    }
    assert.ok(data.some((a) => a.id === call.id && a.via === 'contact'), 'a contact’s call');
    assert.ok(data.some((a) => a.via === 'lead' && a.subject === 'Met at the trade show'), 'a deal’s lead’s note');
    assert.ok(!data.some((a) => a.id === unrelated.id), 'another account’s task is not shown');
    assert.equal(reply.body.page.total, data.length);
    const page = (await stack.as.rep.get<Timeline>(`/accounts/${ids.account}/timeline?limit=3&offset=3`)).body;
    assert.deepEqual(page.data.map((a) => a.id), data.slice(3, 6).map((a) => a.id), 'paged in the same order');
    const tasks = (await stack.as.rep.get<Timeline>(`/accounts/${ids.account}/timeline?type=task&status=open`)).body.data;
    assert.ok(tasks.length > 0 && tasks.every((a) => a.type === 'task' && a.status === 'open'));
  });

  it('appointments have attendees — users, contacts, anyone by email — and show on the timelines of the contacts who attend', async function () {
    const before = await countRows(stack.db, ['activities', 'activity_attendees']);
    const notAppointment = await stack.as.rep.post<Problem>('/activities', { type: 'task', regarding: { type: 'deal', id: ids.deal }, subject: 'x', attendees: [{ userId: stack.users.manager.id }] });
    expectStatus(notAppointment, 400, 'validation_failed');
    assert.equal(notAppointment.body.field, 'attendees');
    const unknown = await stack.as.rep.post<Problem>('/activities', { type: 'appointment', regarding: { type: 'deal', id: ids.deal }, subject: 'x', attendees: [{ contactId: '00000000-0000-4000-8000-000000000000' }] });
    expectStatus(unknown, 400, 'validation_failed');
    assert.equal(unknown.body.field, 'attendees.0.contactId');
    assert.deepEqual(await countRows(stack.db, ['activities', 'activity_attendees']), before, 'nothing written');

    const visit = await add('appointment', { type: 'deal', id: ids.deal }, 'Site survey', {
      dueAt: at(72 * HOUR_MS),
      attendees: [{ userId: stack.users.manager.id }, { contactId: ids.contact }, { email: 'installer@partner.example', name: 'Ivy Installer' }, { contactId: ids.contact }],
    });
    assert.deepEqual(visit.attendees.map((a) => [a.type, a.userId ?? a.contactId ?? a.email, a.name !== null]), [
      ['user', stack.users.manager.id, true], ['contact', ids.contact, true], ['email', 'installer@partner.example', true],
    ], 'in the order given, each person once, with their names');

    const contactTimeline = (await stack.as.rep.get<Timeline>(`/contacts/${ids.contact}/timeline?type=appointment`)).body.data;
    const shown = contactTimeline.find((a) => a.id === visit.id);
    assert.ok(shown, 'on the attending contact’s timeline');
    assert.equal(shown.attendees.length, 3);
    assert.ok(['attendee', 'deal'].includes(shown.via));

    const changed = await stack.as.rep.patch<Activity>(`/activities/${visit.id}`, { attendees: [{ contactId: ids.contact }] });
    expectStatus(changed, 200);
    assert.deepEqual(changed.body.attendees.map((a) => a.contactId), [ids.contact]);
    const audit = await stack.db('audit_log').where({ entity_type: 'activity', entity_id: visit.id }).orderBy('id');
    assert.deepEqual(audit.map((a: AuditRow<{ attendees?: unknown[] }>) => [a.action, a.before?.attendees?.length ?? null, a.after!.attendees!.length]), [['activity.created', null, 3], ['activity.updated', 3, 1]]);
  });
});
