/**
 * Lead imports (SPEC "Leads": a lead may be imported from a table): each import with its counts
 * (written in the import's own transaction, so only a finished import is ever on record),
 * the rows it did not create (bad, duplicate or already imported, with line, reason and raw text),
 * and the stable key of every lead an import created, which makes re-importing a file a no-op.
 * Leads get an index on their lower-cased email, which the import's duplicate check joins on.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('lead_imports', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('origin').notNullable();
    t.uuid('created_by').nullable().references('users.id');
    t.text('file_name').notNullable();
    t.bigInteger('bytes').notNullable().defaultTo(0);
    t.text('sha256').nullable();
    t.jsonb('header').nullable();
    t.jsonb('ignored_columns').nullable();
    t.text('key_column').nullable();
    t.integer('rows_read').notNullable().defaultTo(0);
    t.integer('rows_created').notNullable().defaultTo(0);
    t.integer('rows_already_imported').notNullable().defaultTo(0);
    t.integer('rows_duplicate').notNullable().defaultTo(0);
    t.integer('rows_rejected').notNullable().defaultTo(0);
    t.integer('ms').notNullable().defaultTo(0);
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.check("origin in ('cli', 'api')", [], 'lead_imports_origin_check');
  });

  await knex.schema.createTable('lead_import_rows', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('import_id').notNullable().references('lead_imports.id').onDelete('CASCADE');
    t.integer('line').notNullable();
    // `rejected`: bad row; `duplicate`: its email is taken; `already_imported`: an earlier import made it.
    t.text('outcome').notNullable();
    t.text('reason').notNullable();
    t.text('column_name').nullable();
    t.text('message').notNullable();
    t.text('email').nullable();
    t.uuid('existing_lead_id').nullable();
    t.uuid('existing_contact_id').nullable();
    t.text('raw').nullable();
    t.check("outcome in ('rejected', 'duplicate', 'already_imported')", [], 'lead_import_rows_outcome_check');
    t.index(['import_id', 'line']);
  });

  await knex.schema.createTable('lead_import_keys', (t) => {
    t.text('key').primary();
    t.uuid('lead_id').notNullable().unique().references('leads.id').onDelete('CASCADE');
    t.uuid('import_id').notNullable().references('lead_imports.id').onDelete('CASCADE');
    t.integer('line').notNullable();
    t.index(['import_id', 'line']);
  });

  await knex.raw('create index leads_email_lower on leads (lower(email)) where email is not null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists leads_email_lower');
  await knex.schema.dropTable('lead_import_keys');
  await knex.schema.dropTable('lead_import_rows');
  await knex.schema.dropTable('lead_imports');
}
