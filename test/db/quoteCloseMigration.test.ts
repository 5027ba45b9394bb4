/**
 * The quote close details migration goes down and up again with closed, revised, won and open
 * quotes present: up dates every closed or won quote (the UTC day of its `closed_at`), leaves
 * drafts and active quotes undated, and the check keeps it so.
 */
import assert from 'node:assert/strict';
import { migrateLatest } from '../../db/knex';
import { DealStore } from '../../db/stores/deals';
import { LeadQualification } from '../../db/stores/leadQualification';
import { QuoteStore } from '../../db/stores/quotes';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createLead, createUsers } from '../helpers/fixtures';

const MIGRATION = '20261130000300_quote_close_details';

describe('the quote close details migration', function () {
  let database: TestDatabase;

  before(async function () {
    database = await createTestDatabase();
  });

  after(async function () {
    await database?.drop();
  });

  it('migrates down and up with quotes present, dating the closed and won ones from closed_at', async function () {
    const { db } = database;
    const users = await createUsers(db);
    const ctx = { actor: { type: 'user' as const, id: users.rep.id }, userId: users.rep.id };
    const quotes = new QuoteStore(db);
    const dealWithLines = async () => {
      const { deal } = await new LeadQualification(db).qualify((await createLead(db, users.rep.id)).id, {}, ctx);
      const product = await db('products').where({ sku: 'SS-100' }).first();
      await db.transaction((trx) => new DealStore(db).addLine(trx, deal.id, { productId: product.id, quantity: 1 }, ctx));
      return deal.id;
    };
    const dealA = await dealWithLines();
    const closed = await quotes.create(dealA, {}, ctx);
    await db.transaction((trx) => quotes.close(trx, dealA, closed.id, { reason: 'lost', description: 'Too dear', closeDate: '2026-10-01' }, ctx));
    const revised = await quotes.create(dealA, {}, ctx);
    const revision = await db.transaction(async (trx) => {
      await quotes.activate(trx, dealA, revised.id, ctx);
      return quotes.revise(trx, dealA, revised.id, ctx);
    });
    const dealB = await dealWithLines();
    const won = await quotes.create(dealB, {}, ctx);
    await db.transaction(async (trx) => {
      await quotes.activate(trx, dealB, won.id, ctx);
      await quotes.win(trx, dealB, won.id, ctx);
    });
    // A close recorded late in the evening UTC: its date is that UTC day.
    await db('quotes').where({ id: closed.id }).update({ closed_at: new Date('2026-10-02T23:30:00Z') });

    while ((await db.migrate.currentVersion()) >= MIGRATION.slice(0, 14)) await db.migrate.down();
    assert.equal(await db.schema.hasColumn('quotes', 'close_date'), false, 'the column is gone');
    assert.equal((await db('quotes').where({ id: closed.id }).first()).close_description, 'Too dear', 'the description stays');

    await migrateLatest(db);
    const dates = Object.fromEntries((await db.raw('select id, close_date::text as d, closed_at from quotes where deal_id in (?, ?)', [dealA, dealB])).rows
      .map((r: { id: string; d: string | null; closed_at: Date | null }) => [r.id, { d: r.d, utcDay: r.closed_at?.toISOString().slice(0, 10) ?? null }]));
    assert.deepEqual(dates[closed.id], { d: '2026-10-02', utcDay: '2026-10-02' }, 'a closed quote is dated the UTC day of closed_at');
    assert.equal(dates[revised.id].d, dates[revised.id].utcDay, 'a revised one too');
    assert.equal(dates[won.id].d, dates[won.id].utcDay, 'a won one too');
    assert.equal(dates[revision.id].d, null, 'a draft has none');
    await assert.rejects(db('quotes').where({ id: won.id }).update({ close_date: null }), /quotes_close_date_check/);
    await assert.rejects(db('quotes').where({ id: revision.id }).update({ close_date: '2026-10-01' }), /quotes_close_date_check/);
    const after = await db.transaction((trx) => quotes.close(trx, dealA, revision.id, { reason: 'canceled', description: null }, ctx));
    assert.ok(after.closeDate, 'a close after the migration is dated');
  });
});
