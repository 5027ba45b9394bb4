/**
 * SPEC: a quote is closed "with a close date and description". The description already had its
 * column; the close date is the business date the rep gives (a calendar date, like an order's
 * `fulfilled_on`), apart from `closed_at`, the instant the row changed. Every closed or won quote
 * has one: rows closed before this migration get the UTC day of their `closed_at`.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('quotes', (t) => {
    t.date('close_date').nullable();
  });
  await knex.raw("update quotes set close_date = (coalesce(closed_at, updated_at) at time zone 'UTC')::date where status in ('closed', 'won')");
  await knex.schema.alterTable('quotes', (t) => {
    t.check("(status in ('closed', 'won')) = (close_date is not null)", [], 'quotes_close_date_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('quotes', (t) => {
    t.dropChecks(['quotes_close_date_check']);
    t.dropColumn('close_date');
  });
}
