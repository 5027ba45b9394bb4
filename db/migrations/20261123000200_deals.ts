/**
 * The deal lifecycle's records: accounts and contacts (the customer a qualified lead becomes; their
 * CRUD, hierarchy rules and rollups work on these same tables), the product catalog (seeded
 * here), deals with their product lines and stage moves, quotes with their revisions and lines, and
 * Tech Checks. Money is integer cents (bigint); a line's amount is a generated column, so it can
 * never disagree with its quantity, unit price and discount.
 */
import type { Knex } from 'knex';

const ACCOUNT_TYPES = ['customer', 'partner', 'vendor', 'other'];
const PRODUCT_CATEGORIES = ['doorbell', 'thermostat', 'security_system', 'sensor', 'camera', 'monitoring_plan'];
const DEAL_STAGES = ['qualify', 'develop', 'propose', 'tech_check', 'close'];
const DEAL_STATUSES = ['open', 'won', 'lost'];
/** `won`: winning a quote creates an order; the constraint allows it from the start. */
const QUOTE_STATUSES = ['draft', 'active', 'won', 'closed'];
const QUOTE_CLOSE_REASONS = ['revised', 'lost', 'canceled'];
const TECH_CHECK_OUTCOMES = ['passed', 'failed'];

function inList(column: string, values: string[]): string {
  return `${column} in (${values.map((v) => `'${v}'`).join(', ')})`;
}

/** The Contoso home-security catalog at launch (list prices in cents). */
const CATALOG: Array<[sku: string, name: string, category: string, unit: string, listPriceCents: number, description: string]> = [
  ['DB-100', 'Contoso Smart Doorbell', 'doorbell', 'each', 19_900, 'HD video doorbell with two-way audio and motion alerts'],
  ['DB-200', 'Contoso Smart Doorbell Pro', 'doorbell', 'each', 29_900, '4K video doorbell with package detection and night vision'],
  ['TH-100', 'Contoso Smart Thermostat', 'thermostat', 'each', 24_900, 'Learning thermostat with app control'],
  ['TH-200', 'Contoso Smart Thermostat Pro', 'thermostat', 'each', 34_900, 'Multi-zone thermostat with room sensors and energy reports'],
  ['SS-100', 'Contoso Home Security System', 'security_system', 'each', 59_900, 'Hub, keypad, siren, two door sensors and one motion sensor'],
  ['SS-300', 'Contoso Business Security System', 'security_system', 'each', 249_900, 'Commercial panel for up to 32 zones with cellular backup'],
  ['SN-100', 'Contoso Humidity Sensor', 'sensor', 'each', 4_900, 'Humidity and temperature sensor with leak alerts'],
  ['SN-110', 'Contoso Door and Window Sensor', 'sensor', 'each', 2_900, 'Contact sensor for doors and windows'],
  ['SN-120', 'Contoso Motion Sensor', 'sensor', 'each', 3_900, 'Pet-immune passive infrared motion sensor'],
  ['SN-130', 'Contoso Smoke and CO Sensor', 'sensor', 'each', 7_900, 'Combined smoke and carbon-monoxide detector'],
  ['CM-100', 'Contoso Indoor Camera', 'camera', 'each', 12_900, '1080p indoor camera with privacy shutter'],
  ['CM-200', 'Contoso Outdoor Camera', 'camera', 'each', 22_900, 'Weatherproof 2K camera with spotlight'],
  ['CM-300', 'Contoso PTZ Camera', 'camera', 'each', 89_900, 'Commercial pan-tilt-zoom camera with 30x optical zoom'],
  ['MP-100', 'Contoso Monitoring Basic (12 months)', 'monitoring_plan', 'year', 12_000, 'Self-monitoring with app alerts and 30-day video history'],
  ['MP-200', 'Contoso Monitoring Professional (12 months)', 'monitoring_plan', 'year', 36_000, '24/7 professional monitoring and emergency dispatch'],
  ['MP-300', 'Contoso Business Monitoring (12 months, per site)', 'monitoring_plan', 'year', 120_000, '24/7 monitoring of one business site with guard response'],
];

function lineColumns(knex: Knex, t: Knex.CreateTableBuilder): void {
  t.uuid('product_id').notNullable().references('products.id');
  t.integer('quantity').notNullable();
  t.bigInteger('unit_price_cents').notNullable();
  t.bigInteger('discount_cents').notNullable().defaultTo(0);
  t.integer('position').notNullable();
  t.uuid('created_by').notNullable().references('users.id');
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
}

const LINE_CHECKS = (table: string) => [
  `alter table ${table} add column amount_cents bigint generated always as (quantity * unit_price_cents - discount_cents) stored`,
  `alter table ${table} add constraint ${table}_quantity_check check (quantity > 0)`,
  `alter table ${table} add constraint ${table}_money_check check (unit_price_cents >= 0 and discount_cents >= 0 and discount_cents <= quantity * unit_price_cents)`,
];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    // Lower case, ASCII, punctuation and repeated spaces dropped: "Fabrikam, Inc." = "fabrikam inc".
    t.text('normalized_name').notNullable();
    t.text('account_type').notNullable().defaultTo('customer');
    t.uuid('parent_account_id').nullable().references('accounts.id');
    t.uuid('primary_contact_id').nullable(); // references contacts, added below (the two refer to each other)
    t.text('website').nullable();
    t.text('phone').nullable();
    t.text('street').nullable();
    t.text('city').nullable();
    t.text('postal_code').nullable();
    t.text('state').nullable();
    t.text('country').nullable();
    t.uuid('owner_id').notNullable().references('users.id');
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('account_type', ACCOUNT_TYPES), [], 'accounts_type_check');
    t.check('parent_account_id is null or parent_account_id <> id', [], 'accounts_parent_self_check');
    t.index(['normalized_name']);
    t.index(['parent_account_id']);
    t.index(['owner_id']);
  });

  await knex.schema.createTable('contacts', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('first_name').nullable();
    t.text('last_name').notNullable();
    t.text('email').nullable();
    t.text('mobile_phone').nullable();
    t.text('business_phone').nullable();
    t.uuid('parent_account_id').nullable().references('accounts.id');
    t.uuid('owner_id').notNullable().references('users.id');
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['parent_account_id']);
    t.index(['owner_id']);
  });
  await knex.raw('create unique index contacts_email_unique on contacts (lower(email)) where email is not null');
  await knex.schema.alterTable('accounts', (t) => {
    t.foreign('primary_contact_id', 'accounts_primary_contact_fk').references('contacts.id');
  });

  await knex.schema.createTable('products', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('sku').notNullable().unique();
    t.text('name').notNullable();
    t.text('category').notNullable();
    t.text('description').nullable();
    t.text('unit').notNullable().defaultTo('each');
    t.bigInteger('list_price_cents').notNullable();
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('category', PRODUCT_CATEGORIES), [], 'products_category_check');
    t.check('list_price_cents >= 0', [], 'products_price_check');
  });
  await knex('products').insert(
    CATALOG.map(([sku, name, category, unit, listPriceCents, description]) => ({ sku, name, category, unit, list_price_cents: listPriceCents, description })),
  );

  await knex.schema.createTable('deals', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.uuid('lead_id').nullable().references('leads.id');
    t.uuid('contact_id').notNullable().references('contacts.id');
    t.uuid('account_id').nullable().references('accounts.id');
    t.uuid('owner_id').notNullable().references('users.id');
    // A projection of the deal workflow's state, written only by its activities (see docs/deal-lifecycle.md).
    t.text('stage').notNullable().defaultTo('qualify');
    t.text('status').notNullable().defaultTo('open');
    t.integer('move_seq').notNullable().defaultTo(0);
    t.timestamp('stage_entered_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // The sum of the lines, or the rep's estimate while there are none.
    t.bigInteger('value_cents').notNullable().defaultTo(0);
    t.bigInteger('estimated_value_cents').nullable();
    t.text('close_reason').nullable();
    t.text('close_description').nullable();
    t.bigInteger('actual_revenue_cents').nullable();
    t.timestamp('closed_at', { useTz: true }).nullable();
    t.uuid('closed_by').nullable().references('users.id');
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('stage', DEAL_STAGES), [], 'deals_stage_check');
    t.check(inList('status', DEAL_STATUSES), [], 'deals_status_check');
    t.check('value_cents >= 0 and (estimated_value_cents is null or estimated_value_cents >= 0) and (actual_revenue_cents is null or actual_revenue_cents >= 0)', [], 'deals_money_check');
    t.check("(status = 'open') = (closed_at is null) and (status <> 'lost' or close_reason is not null)", [], 'deals_closed_check');
    t.index(['stage', 'status']);
    t.index(['owner_id', 'status']);
    t.index(['account_id']);
    t.index(['contact_id']);
    t.index(['value_cents']);
  });
  await knex.raw('create unique index deals_lead_unique on deals (lead_id) where lead_id is not null');

  await knex.schema.createTable('deal_lines', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('deal_id').notNullable().references('deals.id').onDelete('CASCADE');
    lineColumns(knex, t);
    t.index(['deal_id', 'position']);
  });
  for (const sql of LINE_CHECKS('deal_lines')) await knex.raw(sql);

  await knex.schema.createTable('deal_stage_moves', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('deal_id').notNullable().references('deals.id').onDelete('CASCADE');
    // The workflow's move counter: a retried write finds its row, and moves apply in order.
    t.integer('seq').notNullable();
    t.text('from_stage').notNullable();
    t.text('to_stage').notNullable();
    t.uuid('moved_by').notNullable().references('users.id');
    t.text('reason').nullable();
    t.text('workflow_id').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.unique(['deal_id', 'seq']);
    t.check(inList('from_stage', DEAL_STAGES), [], 'deal_stage_moves_from_check');
    t.check(inList('to_stage', [...DEAL_STAGES, 'won', 'lost']), [], 'deal_stage_moves_to_check');
  });

  await knex.raw('create sequence quote_number_seq start 1001');
  await knex.schema.createTable('quotes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('deal_id').notNullable().references('deals.id').onDelete('CASCADE');
    // One number per quote; its revisions share it.
    t.text('quote_number').notNullable();
    t.integer('revision').notNullable().defaultTo(1);
    t.uuid('revised_from_id').nullable().references('quotes.id');
    t.text('name').notNullable();
    t.text('description').nullable();
    t.date('valid_until').nullable();
    t.uuid('contact_id').notNullable().references('contacts.id');
    t.uuid('account_id').nullable().references('accounts.id');
    t.text('status').notNullable().defaultTo('draft');
    t.text('status_reason').nullable();
    t.bigInteger('total_cents').notNullable().defaultTo(0);
    t.timestamp('activated_at', { useTz: true }).nullable();
    t.uuid('activated_by').nullable().references('users.id');
    t.timestamp('closed_at', { useTz: true }).nullable();
    t.uuid('closed_by').nullable().references('users.id');
    t.text('close_description').nullable();
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['quote_number', 'revision']);
    t.check(inList('status', QUOTE_STATUSES), [], 'quotes_status_check');
    t.check(`(status = 'closed') = (status_reason is not null) and (status_reason is null or ${inList('status_reason', QUOTE_CLOSE_REASONS)})`, [], 'quotes_reason_check');
    t.check("status not in ('active', 'won') or activated_at is not null", [], 'quotes_activated_check');
    t.check('total_cents >= 0 and revision >= 1', [], 'quotes_numbers_check');
    t.index(['deal_id', 'status']);
  });
  // SPEC: a deal has at most one active quote.
  await knex.raw("create unique index quotes_one_active_per_deal on quotes (deal_id) where status = 'active'");

  await knex.schema.createTable('quote_lines', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('quote_id').notNullable().references('quotes.id').onDelete('CASCADE');
    lineColumns(knex, t);
    t.index(['quote_id', 'position']);
  });
  for (const sql of LINE_CHECKS('quote_lines')) await knex.raw(sql);

  await knex.schema.createTable('tech_checks', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('deal_id').notNullable().references('deals.id').onDelete('CASCADE');
    t.uuid('quote_id').notNullable().references('quotes.id');
    // What was reviewed: a later revision is a different offer and needs its own check.
    t.integer('quote_revision').notNullable();
    t.bigInteger('quote_total_cents').notNullable();
    t.text('outcome').notNullable();
    t.timestamp('completed_at', { useTz: true }).notNullable();
    t.text('notes').notNullable();
    t.uuid('performed_by').notNullable().references('users.id');
    t.uuid('activity_id').nullable().references('activities.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('outcome', TECH_CHECK_OUTCOMES), [], 'tech_checks_outcome_check');
    t.check("length(btrim(notes)) > 0", [], 'tech_checks_notes_check');
    t.index(['deal_id']);
    t.index(['quote_id']);
  });

  // The ledger of changes the deal workflow applied: a retried activity returns the stored result.
  await knex.schema.createTable('deal_changes', (t) => {
    t.text('idempotency_key').primary();
    t.uuid('deal_id').notNullable().references('deals.id').onDelete('CASCADE');
    t.text('kind').notNullable();
    t.jsonb('result').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['deal_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['deal_changes', 'tech_checks', 'quote_lines', 'quotes', 'deal_stage_moves', 'deal_lines', 'deals', 'products']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.raw('drop sequence if exists quote_number_seq');
  await knex.schema.alterTable('accounts', (t) => {
    t.dropForeign('primary_contact_id', 'accounts_primary_contact_fk');
  });
  await knex.schema.dropTableIfExists('contacts');
  await knex.schema.dropTableIfExists('accounts');
}
