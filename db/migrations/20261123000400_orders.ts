/**
 * Order to cash and the rest of the timeline model: orders won from quotes (lines and prices
 * copied), their fulfillments, invoices numbered from a sequence (never reused) with their lines and
 * payments, the ledger of changes the order workflow applied, and the attendees of appointments.
 * Money is integer cents (bigint); a line's amount is a generated column. The invoice's status and
 * its paid amount are kept consistent by a check, and an order has at most one invoice that is not
 * canceled (a partial unique index).
 */
import type { Knex } from 'knex';

const ORDER_STATUSES = ['open', 'partially_fulfilled', 'fulfilled', 'canceled'];
const INVOICE_STATUSES = ['open', 'partially_paid', 'paid', 'canceled'];
const ORDER_CANCEL_REASONS = ['customer_request', 'out_of_stock', 'pricing_error', 'duplicate', 'other'];
const INVOICE_CANCEL_REASONS = ['billing_error', 'customer_dispute', 'duplicate', 'order_changed', 'other'];
const KINDS = ['complete', 'partial'];

function inList(column: string, values: string[]): string {
  return `${column} in (${values.map((v) => `'${v}'`).join(', ')})`;
}

function lineColumns(knex: Knex, t: Knex.CreateTableBuilder): void {
  t.uuid('product_id').notNullable().references('products.id');
  t.integer('quantity').notNullable();
  t.bigInteger('unit_price_cents').notNullable();
  t.bigInteger('discount_cents').notNullable().defaultTo(0);
  t.integer('position').notNullable();
  t.uuid('created_by').notNullable().references('users.id');
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
}

const LINE_CHECKS = (table: string) => [
  `alter table ${table} add column amount_cents bigint generated always as (quantity * unit_price_cents - discount_cents) stored`,
  `alter table ${table} add constraint ${table}_quantity_check check (quantity > 0)`,
  `alter table ${table} add constraint ${table}_money_check check (unit_price_cents >= 0 and discount_cents >= 0 and discount_cents <= quantity * unit_price_cents)`,
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw('create sequence order_number_seq start 1001');
  await knex.schema.createTable('orders', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('order_number').notNullable().unique();
    t.text('name').notNullable();
    t.uuid('deal_id').notNullable().references('deals.id');
    // One order per won quote.
    t.uuid('quote_id').notNullable().unique().references('quotes.id');
    t.uuid('contact_id').notNullable().references('contacts.id');
    t.uuid('account_id').nullable().references('accounts.id');
    t.uuid('owner_id').notNullable().references('users.id');
    // A projection of the order workflow's state, written only by its activities (docs/order-to-cash.md).
    t.text('status').notNullable().defaultTo('open');
    t.bigInteger('total_cents').notNullable();
    t.date('fulfilled_on').nullable();
    t.text('cancel_reason').nullable();
    t.text('cancel_description').nullable();
    t.timestamp('canceled_at', { useTz: true }).nullable();
    t.uuid('canceled_by').nullable().references('users.id');
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('status', ORDER_STATUSES), [], 'orders_status_check');
    t.check('total_cents >= 0', [], 'orders_money_check');
    t.check(`(status = 'canceled') = (cancel_reason is not null and canceled_at is not null) and (cancel_reason is null or ${inList('cancel_reason', ORDER_CANCEL_REASONS)})`, [], 'orders_canceled_check');
    t.check("status not in ('partially_fulfilled', 'fulfilled') or fulfilled_on is not null", [], 'orders_fulfilled_check');
    t.index(['deal_id']);
    t.index(['account_id']);
    t.index(['contact_id']);
    t.index(['owner_id', 'status']);
  });

  await knex.schema.createTable('order_lines', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('order_id').notNullable().references('orders.id').onDelete('CASCADE');
    lineColumns(knex, t);
    t.index(['order_id', 'position']);
  });
  for (const sql of LINE_CHECKS('order_lines')) await knex.raw(sql);

  await knex.schema.createTable('order_fulfillments', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('order_id').notNullable().references('orders.id').onDelete('CASCADE');
    t.integer('seq').notNullable();
    t.text('kind').notNullable();
    t.date('fulfilled_on').notNullable();
    t.text('note').nullable();
    t.uuid('recorded_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['order_id', 'seq']);
    t.check(inList('kind', KINDS), [], 'order_fulfillments_kind_check');
  });

  // Invoice numbers come from here: unique and never reused, whatever happens to the invoice.
  await knex.raw('create sequence invoice_number_seq start 1001');
  await knex.schema.createTable('invoices', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('invoice_number').notNullable().unique();
    t.uuid('order_id').notNullable().references('orders.id');
    t.text('name').notNullable();
    t.text('description').nullable();
    t.uuid('contact_id').notNullable().references('contacts.id');
    t.uuid('account_id').nullable().references('accounts.id');
    t.uuid('owner_id').notNullable().references('users.id');
    t.text('status').notNullable().defaultTo('open');
    t.bigInteger('total_cents').notNullable();
    t.bigInteger('paid_cents').notNullable().defaultTo(0);
    t.date('issued_on').notNullable();
    t.integer('payment_terms_days').notNullable();
    t.date('due_on').notNullable();
    t.date('paid_on').nullable();
    // The owner's task once the due date has passed unpaid (written by the order workflow).
    t.uuid('overdue_activity_id').nullable().references('activities.id');
    t.text('cancel_reason').nullable();
    t.text('cancel_description').nullable();
    t.timestamp('canceled_at', { useTz: true }).nullable();
    t.uuid('canceled_by').nullable().references('users.id');
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('status', INVOICE_STATUSES), [], 'invoices_status_check');
    t.check(
      `total_cents > 0 and case status when 'open' then paid_cents = 0 when 'partially_paid' then paid_cents > 0 and paid_cents < total_cents
        when 'paid' then paid_cents = total_cents and paid_on is not null when 'canceled' then paid_cents = 0 end`,
      [], 'invoices_paid_check',
    );
    t.check(`(status = 'canceled') = (cancel_reason is not null and canceled_at is not null) and (cancel_reason is null or ${inList('cancel_reason', INVOICE_CANCEL_REASONS)})`, [], 'invoices_canceled_check');
    t.check('due_on >= issued_on and payment_terms_days >= 0', [], 'invoices_dates_check');
    t.index(['order_id']);
    t.index(['account_id']);
    t.index(['contact_id']);
    t.index(['owner_id', 'status']);
    t.index(['status', 'due_on']);
  });
  // At most one invoice per order that is not canceled: a second bill for the same goods is refused.
  await knex.raw("create unique index invoices_one_live_per_order on invoices (order_id) where status <> 'canceled'");

  await knex.schema.createTable('invoice_lines', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('invoice_id').notNullable().references('invoices.id').onDelete('CASCADE');
    lineColumns(knex, t);
    t.index(['invoice_id', 'position']);
  });
  for (const sql of LINE_CHECKS('invoice_lines')) await knex.raw(sql);

  await knex.schema.createTable('invoice_payments', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('invoice_id').notNullable().references('invoices.id').onDelete('CASCADE');
    t.integer('seq').notNullable();
    t.text('kind').notNullable();
    t.date('paid_on').notNullable();
    t.bigInteger('amount_cents').notNullable();
    t.uuid('recorded_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['invoice_id', 'seq']);
    t.check(inList('kind', KINDS), [], 'invoice_payments_kind_check');
    t.check('amount_cents > 0', [], 'invoice_payments_amount_check');
  });

  // The ledger of changes the order workflow applied: a retried activity returns the stored result.
  await knex.schema.createTable('order_changes', (t) => {
    t.text('idempotency_key').primary();
    t.uuid('order_id').notNullable().references('orders.id').onDelete('CASCADE');
    t.text('kind').notNullable();
    t.jsonb('result').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['order_id']);
  });

  // SPEC "Activities and the timeline": appointments have attendees — users, contacts, or anyone by email.
  await knex.schema.createTable('activity_attendees', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('activity_id').notNullable().references('activities.id').onDelete('CASCADE');
    t.uuid('user_id').nullable().references('users.id');
    t.uuid('contact_id').nullable().references('contacts.id');
    t.text('email').nullable();
    t.text('name').nullable();
    t.integer('position').notNullable();
    t.check('num_nonnulls(user_id, contact_id, email) = 1', [], 'activity_attendees_one_party_check');
    t.index(['activity_id', 'position']);
    t.index(['contact_id']);
    t.index(['user_id']);
  });
  await knex.raw('create unique index activity_attendees_user_unique on activity_attendees (activity_id, user_id) where user_id is not null');
  await knex.raw('create unique index activity_attendees_contact_unique on activity_attendees (activity_id, contact_id) where contact_id is not null');
  await knex.raw('create unique index activity_attendees_email_unique on activity_attendees (activity_id, lower(email)) where email is not null');
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['activity_attendees', 'order_changes', 'invoice_payments', 'invoice_lines', 'invoices', 'order_fulfillments', 'order_lines', 'orders']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.raw('drop sequence if exists invoice_number_seq');
  await knex.raw('drop sequence if exists order_number_seq');
  // Activities about orders and invoices would point at nothing once their tables are gone.
  await knex('activities').whereIn('regarding_type', ['order', 'invoice']).delete();
}
