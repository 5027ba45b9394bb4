/**
 * The orders migration goes down and up again with rows present: orders, invoices, payments,
 * attendees and activities about orders go; deals, quotes (a won one too), accounts and contacts
 * stay; the tables and sequences come back and work.
 */
import assert from 'node:assert/strict';
import { migrateLatest } from '../../db/knex';
import { TimelineActivityStore } from '../../db/stores/timelineActivities';
import { DealStore } from '../../db/stores/deals';
import { InvoiceStore } from '../../db/stores/invoices';
import { LeadQualification } from '../../db/stores/leadQualification';
import { OrderStore } from '../../db/stores/orders';
import { QuoteStore } from '../../db/stores/quotes';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createLead, createUsers } from '../helpers/fixtures';

const ORDERS_MIGRATION = '20261123000400_orders';
const ORDER_TABLES = ['orders', 'order_lines', 'order_fulfillments', 'invoices', 'invoice_lines', 'invoice_payments', 'order_changes', 'activity_attendees'];

describe('the orders migration', function () {
  let database: TestDatabase;

  before(async function () {
    database = await createTestDatabase();
  });

  after(async function () {
    await database?.drop();
  });

  it('migrates down and up with orders, invoices, payments and attendees present, keeping deals and quotes', async function () {
    const { db } = database;
    const users = await createUsers(db);
    const ctx = { actor: { type: 'user' as const, id: users.rep.id }, userId: users.rep.id };
    const { deal } = await new LeadQualification(db).qualify((await createLead(db, users.rep.id)).id, {}, ctx);
    const product = await db('products').where({ sku: 'SS-100' }).first();
    await db.transaction((trx) => new DealStore(db).addLine(trx, deal.id, { productId: product.id, quantity: 2 }, ctx));
    const quotes = new QuoteStore(db);
    const draft = await quotes.create(deal.id, {}, ctx);
    const orders = new OrderStore(db);
    const invoices = new InvoiceStore(db);
    const order = await db.transaction(async (trx) => {
      await quotes.activate(trx, deal.id, draft.id, ctx);
      const won = await quotes.win(trx, deal.id, draft.id, ctx);
      const created = await orders.createFromQuote(trx, won, users.rep.id, ctx);
      await orders.fulfill(trx, created.id, { kind: 'complete', fulfilledOn: '2026-11-20', note: null }, ctx);
      const invoice = await invoices.create(trx, await orders.require(created.id, trx), { name: null, description: null, issuedOn: '2026-11-20', dueOn: '2026-12-20', paymentTermsDays: 30 }, ctx);
      await invoices.pay(trx, invoice.id, { kind: 'partial', paidOn: '2026-11-21', amountCents: 100 }, ctx);
      return created;
    });
    const activities = new TimelineActivityStore(db);
    await activities.create({ type: 'appointment', regarding: { type: 'order', id: order.id }, subject: 'Installation', attendees: [{ contactId: deal.contactId }] }, ctx);
    const onDeal = await activities.create({ type: 'note', regarding: { type: 'deal', id: deal.id }, subject: 'Won' }, ctx);

    while ((await db.migrate.currentVersion()) >= ORDERS_MIGRATION.slice(0, 14)) await db.migrate.down();
    for (const table of ORDER_TABLES) assert.equal(await db.schema.hasTable(table), false, `${table} is gone`);
    assert.equal((await db('quotes').where({ id: draft.id }).first()).status, 'won', 'the quote keeps its status');
    assert.ok(await db('deals').where({ id: deal.id }).first(), 'the deal stays');
    assert.equal((await db('activities').where({ regarding_type: 'order' })).length, 0, 'activities about orders went with them');
    assert.ok(await db('activities').where({ id: onDeal.id }).first(), 'the deal’s activity stays');

    await migrateLatest(db);
    for (const table of ORDER_TABLES) assert.equal(await db.schema.hasTable(table), true, `${table} is back`);
    const again = await db.transaction(async (trx) => {
      const other = await quotes.create(deal.id, {}, ctx);
      await quotes.close(trx, deal.id, other.id, { reason: 'canceled', description: null }, ctx);
      return orders.createFromQuote(trx, (await quotes.get(draft.id, trx))!, users.rep.id, ctx);
    });
    assert.match(again.orderNumber, /^ORD-\d+$/, 'the sequence is back');
  });
});
