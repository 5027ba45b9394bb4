/**
 * The deals migration goes down and up again with rows present: the foundation's rows survive, the
 * deal tables go and come back, and the catalog is seeded again.
 */
import assert from 'node:assert/strict';
import { migrateLatest } from '../../db/knex';
import { DealStore } from '../../db/stores/deals';
import { LeadQualification } from '../../db/stores/leadQualification';
import { QuoteStore } from '../../db/stores/quotes';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createLead, createUsers } from '../helpers/fixtures';

const DEALS_MIGRATION = '20261123000200_deals';
const DEAL_TABLES = ['accounts', 'contacts', 'products', 'deals', 'deal_lines', 'deal_stage_moves', 'quotes', 'quote_lines', 'tech_checks', 'deal_changes'];

describe('the deals migration', function () {
  let database: TestDatabase;

  before(async function () {
    database = await createTestDatabase();
  });

  after(async function () {
    await database?.drop();
  });

  it('migrates down and up with deals, quotes and lines present, keeping the leads', async function () {
    const { db } = database;
    const users = await createUsers(db);
    const lead = await createLead(db, users.rep.id);
    const ctx = { actor: { type: 'user' as const, id: users.rep.id }, userId: users.rep.id };
    const { deal } = await new LeadQualification(db).qualify(lead.id, {}, ctx);
    const product = await db('products').where({ sku: 'DB-100' }).first();
    await db.transaction((trx) => new DealStore(db).addLine(trx, deal.id, { productId: product.id, quantity: 2 }, ctx));
    await new QuoteStore(db).create(deal.id, {}, ctx);
    const catalogSize = Number((await db('products').count({ n: '*' }))[0].n);

    // Down to just before the deals migration (any later migration first).
    while ((await db.migrate.currentVersion()) >= DEALS_MIGRATION.slice(0, 14)) await db.migrate.down();
    for (const table of DEAL_TABLES) assert.equal(await db.schema.hasTable(table), false, `${table} is gone`);
    assert.equal((await db('leads').where({ id: lead.id }).first()).status, 'qualified', 'the foundation’s rows survive');

    await migrateLatest(db);
    for (const table of DEAL_TABLES) assert.equal(await db.schema.hasTable(table), true, `${table} is back`);
    assert.equal(Number((await db('products').count({ n: '*' }))[0].n), catalogSize, 'the catalog is seeded again');
  });
});
