/**
 * One view of the customer (SPEC "One view of the customer"): what the CSV sources hold once
 * imported (person records and purchases, keyed by source + source key), every import with its
 * rejected rows, and what unification makes of them (profiles, the records each profile owns,
 * with the rule and confidence that put them there) plus the per-pass working tables that make
 * each phase of the `customer-unification` workflow resumable.
 */
import type { Knex } from 'knex';

function inList(column: string, values: string[]): string {
  return `${column} in (${values.map((v) => `'${v}'`).join(', ')})`;
}

const PERSON_COLUMNS = (t: Knex.CreateTableBuilder) => {
  t.text('first_name').nullable();
  t.text('last_name').nullable();
  t.text('full_name').nullable();
  t.text('email').nullable();
  t.text('phone').nullable();
  t.date('date_of_birth').nullable();
  t.text('gender').nullable();
  t.text('postal_code').nullable();
  t.text('street').nullable();
  t.text('city').nullable();
  t.text('state').nullable();
  t.text('country').nullable();
};

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('customer_imports', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('origin').notNullable();
    t.uuid('created_by').nullable().references('users.id');
    t.text('status').notNullable().defaultTo('loading');
    t.integer('rows_read').notNullable().defaultTo(0);
    t.integer('rows_loaded').notNullable().defaultTo(0);
    t.integer('rows_inserted').notNullable().defaultTo(0);
    t.integer('rows_updated').notNullable().defaultTo(0);
    t.integer('rows_unchanged').notNullable().defaultTo(0);
    t.integer('rows_rejected').notNullable().defaultTo(0);
    t.text('error').nullable();
    t.text('unification_workflow_id').nullable();
    t.text('unification_run_id').nullable();
    t.text('unification_request_id').nullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.check(inList('origin', ['cli', 'api']), [], 'customer_imports_origin_check');
    t.check(inList('status', ['loading', 'loaded', 'failed']), [], 'customer_imports_status_check');
  });

  await knex.schema.createTable('customer_import_files', (t) => {
    t.uuid('import_id').notNullable().references('customer_imports.id').onDelete('CASCADE');
    t.text('source').notNullable();
    t.text('file_name').notNullable();
    t.text('mapping').notNullable();
    t.jsonb('header').nullable();
    // Why the header did not fit the mapping (every data row is then rejected as wrong_header).
    t.text('header_error').nullable();
    t.bigInteger('bytes').notNullable().defaultTo(0);
    t.text('sha256').nullable();
    t.integer('rows_read').notNullable().defaultTo(0);
    t.integer('rows_loaded').notNullable().defaultTo(0);
    t.integer('rows_inserted').notNullable().defaultTo(0);
    t.integer('rows_updated').notNullable().defaultTo(0);
    t.integer('rows_unchanged').notNullable().defaultTo(0);
    t.integer('rows_rejected').notNullable().defaultTo(0);
    t.integer('ms').notNullable().defaultTo(0);
    t.primary(['import_id', 'source']);
  });

  await knex.schema.createTable('customer_import_rejects', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('import_id').notNullable().references('customer_imports.id').onDelete('CASCADE');
    t.text('source').notNullable();
    t.text('file_name').notNullable();
    t.integer('line').notNullable();
    t.text('reason').notNullable();
    t.text('column_name').nullable();
    t.text('message').notNullable();
    t.text('raw').nullable();
    t.index(['import_id', 'source', 'line']);
  });

  // Person records of every person-kind source (eCommerce contacts, loyalty members, ...).
  await knex.schema.createTable('customer_source_records', (t) => {
    t.bigIncrements('id').primary();
    t.text('source').notNullable();
    t.text('source_key').notNullable();
    PERSON_COLUMNS(t);
    t.date('created_on').nullable();
    t.integer('reward_points').nullable();
    // Keys of records in other sources this record names (loyalty's ContactId): {"contacts": "CNTID_1000"}.
    t.jsonb('links').notNullable().defaultTo('{}');
    t.jsonb('extra').notNullable().defaultTo('{}');
    t.text('row_hash').notNullable();
    t.uuid('first_import_id').nullable().references('customer_imports.id').onDelete('SET NULL');
    t.uuid('last_import_id').nullable().references('customer_imports.id').onDelete('SET NULL');
    t.integer('line').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['source', 'source_key']);
  });
  await knex.raw("alter table customer_source_records add column phone_digits text generated always as (regexp_replace(split_part(lower(coalesce(phone, '')), 'x', 1), '[^0-9]', '', 'g')) stored");
  await knex.raw('create index customer_source_records_email on customer_source_records (lower(email))');
  await knex.raw('create index customer_source_records_last_name on customer_source_records (lower(last_name) text_pattern_ops)');
  await knex.raw('create index customer_source_records_first_name on customer_source_records (lower(first_name) text_pattern_ops)');
  await knex.raw('create index customer_source_records_phone on customer_source_records (phone_digits text_pattern_ops)');
  await knex.raw('create index customer_source_records_postal on customer_source_records (postal_code)');
  await knex.raw('create index customer_source_records_key on customer_source_records (lower(source_key))');

  await knex.schema.createTable('customer_purchases', (t) => {
    t.text('source').notNullable();
    t.text('purchase_id').notNullable();
    t.text('channel').notNullable();
    // The person record the purchase names (null: an anonymous in-store sale).
    t.text('customer_source').nullable();
    t.text('customer_key').nullable();
    t.text('product_id').nullable();
    t.date('purchased_on').notNullable();
    t.bigInteger('total_cents').notNullable();
    t.integer('points_added').nullable();
    t.jsonb('extra').notNullable().defaultTo('{}');
    t.text('row_hash').notNullable();
    t.uuid('first_import_id').nullable().references('customer_imports.id').onDelete('SET NULL');
    t.uuid('last_import_id').nullable().references('customer_imports.id').onDelete('SET NULL');
    t.integer('line').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['source', 'purchase_id']);
    t.check(inList('channel', ['pos', 'online']), [], 'customer_purchases_channel_check');
    t.index(['customer_source', 'customer_key']);
  });

  // Map phase output: the normalised values the match rules compare, per record.
  await knex.schema.createTable('customer_record_keys', (t) => {
    t.bigInteger('record_id').primary().references('customer_source_records.id').onDelete('CASCADE');
    t.jsonb('keys').notNullable();
    // row_hash + the rules' normalisation signature: a record is mapped again only when either changes.
    t.text('basis').notNullable();
  });

  await knex.schema.createTable('customers', (t) => {
    t.uuid('id').primary();
    PERSON_COLUMNS(t);
    t.integer('reward_points').nullable();
    t.jsonb('source_keys').notNullable().defaultTo('{}');
    t.specificType('emails', 'text[]').notNullable().defaultTo('{}');
    t.integer('record_count').notNullable();
    t.text('profile_hash').notNullable();
    t.uuid('pass_id').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('create index customers_emails on customers using gin (emails)');

  await knex.schema.createTable('customer_members', (t) => {
    t.bigInteger('record_id').primary().references('customer_source_records.id').onDelete('CASCADE');
    t.uuid('customer_id').notNullable().references('customers.id').onDelete('CASCADE');
    t.text('rule').nullable();
    t.specificType('confidence', 'real').notNullable();
    t.uuid('pass_id').nullable();
    t.index(['customer_id']);
  });

  // A profile that joined another keeps answering: GET /customers/<old> points at the survivor.
  await knex.schema.createTable('customer_id_redirects', (t) => {
    t.uuid('old_id').primary();
    t.uuid('new_id').notNullable();
    t.uuid('pass_id').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('customer_unification_passes', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('workflow_id').notNullable();
    t.text('workflow_run_id').notNullable();
    t.integer('pass').notNullable();
    t.jsonb('request_ids').notNullable().defaultTo('[]');
    t.text('status').notNullable().defaultTo('running');
    t.text('phase').nullable();
    t.jsonb('progress').notNullable().defaultTo('{}');
    t.jsonb('stats').notNullable().defaultTo('{}');
    // The rules as they were when the pass began: every phase of the pass applies the same ones.
    t.jsonb('rules').nullable();
    t.text('rules_hash').nullable();
    t.text('error').nullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('published_at', { useTz: true }).nullable();
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.unique(['workflow_run_id', 'pass']);
    t.check(inList('status', ['running', 'completed', 'failed']), [], 'customer_unification_passes_status_check');
  });

  // Durable progress inside a phase: a retried activity resumes after the last step recorded here.
  await knex.schema.createTable('customer_unification_checkpoints', (t) => {
    t.uuid('pass_id').notNullable().references('customer_unification_passes.id').onDelete('CASCADE');
    t.text('phase').notNullable();
    t.integer('step').notNullable();
    t.jsonb('result').notNullable().defaultTo('{}');
    t.timestamp('done_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['pass_id', 'phase', 'step']);
  });

  // Match phase output: the edges that joined two groups, in rule order.
  await knex.schema.createTable('customer_match_links', (t) => {
    t.uuid('pass_id').notNullable().references('customer_unification_passes.id').onDelete('CASCADE');
    t.integer('step').notNullable();
    t.bigInteger('a').notNullable();
    t.bigInteger('b').notNullable();
    t.text('rule').notNullable();
    t.specificType('confidence', 'real').notNullable();
    t.index(['pass_id', 'step']);
  });

  // Cluster phase output: the CustomerId of every record for this pass.
  await knex.schema.createTable('customer_assignments', (t) => {
    t.uuid('pass_id').notNullable().references('customer_unification_passes.id').onDelete('CASCADE');
    t.bigInteger('record_id').notNullable();
    t.uuid('customer_id').notNullable();
    t.text('rule').nullable();
    t.specificType('confidence', 'real').notNullable();
    t.primary(['pass_id', 'record_id']);
    // The merge phase reads the assignments customer by customer.
    t.index(['pass_id', 'customer_id']);
  });

  // Merge phase output before it is published in one transaction.
  await knex.schema.createTable('customer_profile_staging', (t) => {
    t.uuid('pass_id').notNullable().references('customer_unification_passes.id').onDelete('CASCADE');
    t.uuid('customer_id').notNullable();
    PERSON_COLUMNS(t);
    t.integer('reward_points').nullable();
    t.jsonb('source_keys').notNullable();
    t.specificType('emails', 'text[]').notNullable();
    t.integer('record_count').notNullable();
    t.text('profile_hash').notNullable();
    t.primary(['pass_id', 'customer_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'customer_profile_staging',
    'customer_assignments',
    'customer_match_links',
    'customer_unification_checkpoints',
    'customer_unification_passes',
    'customer_id_redirects',
    'customer_members',
    'customers',
    'customer_record_keys',
    'customer_purchases',
    'customer_source_records',
    'customer_import_rejects',
    'customer_import_files',
    'customer_imports',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
