/**
 * Audit completeness: one customer's whole story, from a new lead to a paid invoice, through the
 * real API with a real worker and Postgres on the time-skipping server (so the workflows' own writes —
 * the Tech Check reminder, the overdue task — happen too). Around every step the test fingerprints
 * every row of every table, and checks that each record that changed has an audit row for it, by the
 * right actor (the person who acted, or the workflow that did), with the record before and after.
 * A table it does not know that changes fails the test, so new tables cannot slip past the audit.
 */
import assert from 'node:assert/strict';
import type { Db } from '../../db/knex';
import { orderWorkflowId } from '../../workflows/orderToCash.contract';
import { productId, techCheckBody } from '../helpers/deals';
import { type ApiClient, expectStatus, startStack, type TestStack } from '../helpers/stack';
import { uniqueEmail } from '../helpers/fixtures';
import type { Reply } from '../helpers/http';
import { today } from '../helpers/orders';
import { eventually } from '../helpers/temporal';
import type { AuditRecord, Contact, InvoiceIssued, Lead, OrderWon, Page, Qualified, QuoteDetail } from '../helpers/apiTypes';
import type { AuditRow } from '../helpers/rows';

/** Business tables: each row belongs to a record (entity type, and the column naming it). */
const TRACKED: Array<[table: string, entity: string, column: string]> = [
  ['leads', 'lead', 'id'], ['accounts', 'account', 'id'], ['contacts', 'contact', 'id'],
  ['deals', 'deal', 'id'], ['deal_lines', 'deal', 'deal_id'], ['deal_stage_moves', 'deal', 'deal_id'], ['tech_checks', 'deal', 'deal_id'],
  ['quotes', 'quote', 'id'], ['quote_lines', 'quote', 'quote_id'],
  ['orders', 'order', 'id'], ['order_lines', 'order', 'order_id'], ['order_fulfillments', 'order', 'order_id'],
  ['invoices', 'invoice', 'id'], ['invoice_lines', 'invoice', 'invoice_id'], ['invoice_payments', 'invoice', 'invoice_id'],
  ['activities', 'activity', 'id'], ['activity_attendees', 'activity', 'activity_id'],
];
/** Not business records: the log itself, migrations, seeds, people, and the processes' idempotency ledgers. */
const NOT_RECORDS = new Set(['audit_log', 'knex_migrations', 'knex_migrations_lock', 'users', 'products', 'disqualify_reasons', 'idempotency_keys', 'deal_changes', 'order_changes', 'nurture_steps']);

interface Snapshot {
  rows: Map<string, { entity: string; hash: string; primary: boolean }>;
  tables: Map<string, string>;
  lastAuditId: number;
}

async function snapshot(db: Db): Promise<Snapshot> {
  const rows: Snapshot['rows'] = new Map();
  for (const [table, entity, column] of TRACKED) {
    const { rows: found } = await db.raw(`select id::text as id, ${column}::text as owner, md5(t::text) as hash from ${table} t`);
    for (const r of found) rows.set(`${table}/${r.id}`, { entity: `${entity}/${r.owner}`, hash: r.hash, primary: column === 'id' });
  }
  const tables: Snapshot['tables'] = new Map();
  const { rows: names } = await db.raw("select tablename from pg_tables where schemaname = 'public'");
  for (const { tablename } of names) {
    const { rows: [{ hash }] } = await db.raw(`select md5(coalesce(string_agg(md5(t::text), '' order by md5(t::text)), '')) as hash from "${tablename}" t`);
    tables.set(tablename, hash);
  }
  const [{ max }] = await db('audit_log').max({ max: 'id' });
  return { rows, tables, lastAuditId: Number(max ?? 0) };
}

describe('audit completeness: a lead’s way to a paid invoice, every change audited with its actor (time-skipping server)', function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'time-skipping' });
  });

  after(async function () {
    await stack?.teardown();
  });

  const audited: string[] = [];

  /**
   * Runs one step and checks its changes: every changed record has an audit row by `actor`; a
   * record's own row that changed has one with before and after, a new one has one with after.
   */
  async function step(what: string, actor: { type: 'user' | 'workflow'; id: string }, run: () => Promise<unknown>): Promise<void> {
    const before = await snapshot(stack.db);
    await run();
    const after = await snapshot(stack.db);
    const entries = await stack.db('audit_log').where('id', '>', before.lastAuditId).orderBy('id');
    assert.ok(entries.length > 0, `${what}: changes were audited`);
    for (const e of entries) {
      assert.deepEqual([e.actor_type, e.actor_id], [actor.type, actor.id], `${what}: ${e.action} is attributed to ${actor.type} ${actor.id}`);
      assert.ok(e.before !== null || e.after !== null, `${what}: ${e.action} records the change`);
      audited.push(e.action);
    }
    const entriesFor = (entity: string) => entries.filter((e: AuditRow) => `${e.entity_type}/${e.entity_id}` === entity);
    for (const [key, now] of after.rows) {
      const was = before.rows.get(key);
      if (was && was.hash === now.hash) continue;
      const found = entriesFor(now.entity);
      assert.ok(found.length > 0, `${what}: ${key} changed but ${now.entity} has no audit row`);
      if (now.primary && was) assert.ok(found.some((e: AuditRow) => e.before !== null && e.after !== null), `${what}: ${now.entity} changed: an audit row holds it before and after`);
      if (now.primary && !was) assert.ok(found.some((e: AuditRow) => e.after !== null), `${what}: ${now.entity} was created: an audit row holds it`);
    }
    for (const [key, was] of before.rows) {
      if (!after.rows.has(key)) assert.ok(entriesFor(was.entity).length > 0, `${what}: ${key} was deleted without an audit row`);
    }
    for (const [table, hash] of after.tables) {
      if (before.tables.get(table) === hash || NOT_RECORDS.has(table) || TRACKED.some(([t]) => t === table)) continue;
      assert.fail(`${what}: table ${table} changed, and this test does not know which record its rows belong to`);
    }
  }

  const ok = async <T>(reply: Promise<Reply<T>>, status = 200): Promise<T> => {
    const r = await reply;
    expectStatus(r, status);
    return r.body;
  };

  it('from a new lead to a paid invoice, every change has an audit row with the right actor and before/after', async function () {
    const { rep, manager, tech_consultant: tc } = stack.as as Record<string, ApiClient>;
    const user = (name: 'rep' | 'manager' | 'tech_consultant') => ({ type: 'user' as const, id: stack.users[name].id });
    const ids: Record<string, string> = {};

    await step('a rep creates a lead', user('rep'), async () => {
      ids.lead = (await ok(rep.post<Lead>('/leads', { topic: 'Cameras for 6 warehouses', firstName: 'Jo', lastName: 'Berry', email: uniqueEmail('jo'), companyName: `Adatum ${Date.now()}`, customerType: 'corporate', estimatedValueCents: 2_400_000 }), 201)).id;
    });
    await step('the rep notes a call on the lead', user('rep'), () => ok(rep.post('/activities', { type: 'note', regarding: { type: 'lead', id: ids.lead }, subject: 'Wants a quote by Friday' }), 201));
    await step('the rep qualifies the lead', user('rep'), async () => {
      const q = await ok(rep.post<Qualified>(`/leads/${ids.lead}/qualify`), 201);
      Object.assign(ids, { deal: q.dealId, account: q.accountId, contact: q.contactId });
    });
    await step('a manager completes the account', user('manager'), () => ok(manager.patch(`/accounts/${ids.account}`, { website: 'https://adatum.example', phone: '555-0142' })));
    await step('the rep adds a second contact to the account', user('rep'), async () => {
      ids.buyer = (await ok(rep.post<Contact>('/contacts', { firstName: 'Lee', lastName: 'Buyer', email: uniqueEmail('lee'), parentAccountId: ids.account }), 201)).id;
    });
    await step('the rep names the products and moves the deal to Propose', user('rep'), async () => {
      await ok(rep.post(`/deals/${ids.deal}/lines`, { productId: await productId(stack.db, 'CM-300'), quantity: 3, unitPriceCents: 800_000 }), 201);
      await ok(rep.post(`/deals/${ids.deal}/advance`, { to: 'develop' }));
      await ok(rep.post(`/deals/${ids.deal}/advance`, { to: 'propose' }));
    });
    await step('the rep quotes', user('rep'), async () => {
      ids.quote = (await ok(rep.post<QuoteDetail>(`/deals/${ids.deal}/quotes`), 201)).id;
      await ok(rep.post(`/quotes/${ids.quote}/activate`));
    });
    await step('the rep moves the $24,000.00 deal to Tech Check', user('rep'), () => ok(rep.post(`/deals/${ids.deal}/advance`, { to: 'tech_check' })));
    await step('two days in Tech Check: the deal workflow leaves a task for the technical consultants', { type: 'workflow', id: `deal-${ids.deal}` }, async () => {
      await stack.env.sleep('2 days');
      await eventually(async () => (await stack.db('activities').where({ regarding_type: 'deal', regarding_id: ids.deal, type: 'task' })).length === 1, 'the reminder');
    });
    await step('a technical consultant records the check', user('tech_consultant'), () => ok(tc.post(`/deals/${ids.deal}/tech-checks`, techCheckBody(ids.quote, 'passed', 'Cabling and mounts checked; all in order.')), 201));
    await step('the rep moves the deal to Close', user('rep'), () => ok(rep.post(`/deals/${ids.deal}/advance`, { to: 'close' })));
    await step('the rep wins the quote and closes the deal', user('rep'), async () => {
      ids.order = (await ok(rep.post<OrderWon>(`/quotes/${ids.quote}/win`, { closeDeal: true }), 201)).id;
    });
    await step('the rep books the installation with the buyer', user('rep'), () =>
      ok(rep.post('/activities', { type: 'appointment', regarding: { type: 'order', id: ids.order }, subject: 'Installation', dueAt: new Date(Date.now() + 7 * 86_400_000).toISOString(), attendees: [{ contactId: ids.buyer }, { userId: stack.users.tech_consultant.id }] }), 201));
    await step('the rep records a partial fulfillment', user('rep'), () => ok(rep.post(`/orders/${ids.order}/fulfill`, { status: 'partial', fulfilledOn: today() })));
    await step('the manager records the complete fulfillment', user('manager'), () => ok(manager.post(`/orders/${ids.order}/fulfill`, { status: 'complete', fulfilledOn: today() })));
    await step('the rep invoices the order', user('rep'), async () => {
      ids.invoice = (await ok(rep.post<InvoiceIssued>(`/orders/${ids.order}/invoices`), 201)).id;
    });
    await step('past the due date the order workflow leaves an overdue task for the owner', { type: 'workflow', id: orderWorkflowId(ids.order) }, async () => {
      await stack.env.sleep('31 days');
      await eventually(async () => (await stack.db('invoices').where({ id: ids.invoice }).first()).overdue_activity_id, 'the overdue task');
    });
    await step('the rep records a partial payment', user('rep'), () => ok(rep.post(`/invoices/${ids.invoice}/pay`, { status: 'partial', paidOn: today(), amountCents: 1_000_000 })));
    await step('the manager records the rest', user('manager'), () => ok(manager.post(`/invoices/${ids.invoice}/pay`, { status: 'complete', paidOn: today(), amountCents: 1_400_000 })));

    const final = await stack.env.client.workflow.getHandle(orderWorkflowId(ids.order)).result();
    assert.equal(final.phase, 'completed');
    for (const action of ['lead.created', 'lead.qualified', 'account.updated', 'contact.created', 'deal.stage_moved', 'quote.activated', 'tech_check.recorded', 'quote.won', 'order.created', 'deal.won', 'order.fulfilled', 'invoice.created', 'invoice.overdue', 'invoice.partially_paid', 'invoice.paid', 'activity.completed']) {
      assert.ok(audited.includes(action), `the walk audited ${action}`);
    }

    // The trail is for managers and admins.
    const trail = await manager.get<Page<AuditRecord>>(`/audit?entity=invoice&id=${ids.invoice}`);
    expectStatus(trail, 200);
    assert.deepEqual(trail.body.data.map((e) => [e.action, e.actor.type, e.actor.id]), [
      ['invoice.paid', 'user', stack.users.manager.id],
      ['invoice.partially_paid', 'user', stack.users.rep.id],
      ['invoice.overdue', 'workflow', orderWorkflowId(ids.order)],
      ['invoice.created', 'user', stack.users.rep.id],
    ], 'newest first, each with its actor');
    assert.equal(trail.body.data[0].actor.name, 'Morgan Manager');
    assert.deepEqual([(trail.body.data[0].before as { status: string }).status, (trail.body.data[0].after as { status: string }).status], ['partially_paid', 'paid']);
    expectStatus(await rep.get(`/audit?entity=invoice&id=${ids.invoice}`), 403, 'forbidden');
    expectStatus(await stack.as.admin.get(`/audit?entity=order&id=${ids.order}`), 200);
    expectStatus(await manager.get(`/audit?entity=spaceship&id=${ids.invoice}`), 400, 'validation_failed');
  });
});
