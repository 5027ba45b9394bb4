/**
 * Users and roles, leads, the activity timeline, the audit log, idempotency keys for API retries,
 * and the per-step record of nurture sequences. Money is integer cents (bigint).
 */
import type { Knex } from 'knex';

const ROLES = ['rep', 'tech_consultant', 'manager', 'admin'];
const ACTIVITY_TYPES = ['phone_call', 'email', 'task', 'appointment', 'note'];
const ACTIVITY_STATUSES = ['open', 'completed', 'canceled'];
const LEAD_STATUSES = ['open', 'qualified', 'disqualified'];
const LEAD_SOURCES = ['web_form', 'email', 'trade_show', 'phone', 'referral', 'import', 'other'];
const CUSTOMER_TYPES = ['corporate', 'consumer'];
const DISQUALIFY_REASONS: Array<[string, string]> = [
  ['lost', 'Lost'],
  ['cannot_contact', 'Cannot contact'],
  ['no_longer_interested', 'No longer interested'],
  ['canceled', 'Canceled'],
];

function inList(column: string, values: string[]): string {
  return `${column} in (${values.map((v) => `'${v}'`).join(', ')})`;
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.text('email').nullable();
    t.text('role').notNullable();
    t.uuid('manager_id').nullable().references('users.id');
    t.text('token_hash').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('disabled_at', { useTz: true }).nullable();
    t.check(inList('role', ROLES), [], 'users_role_check');
  });
  await knex.raw('create unique index users_email_unique on users (lower(email)) where email is not null');

  await knex.schema.createTable('disqualify_reasons', (t) => {
    t.text('code').primary();
    t.text('label').notNullable();
    t.boolean('active').notNullable().defaultTo(true);
  });
  await knex('disqualify_reasons').insert(DISQUALIFY_REASONS.map(([code, label]) => ({ code, label })));

  await knex.schema.createTable('leads', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('topic').notNullable();
    t.text('first_name').nullable();
    t.text('last_name').notNullable();
    t.text('email').nullable();
    t.text('mobile_phone').nullable();
    t.text('business_phone').nullable();
    t.text('company_name').nullable();
    t.text('website').nullable();
    t.text('street').nullable();
    t.text('city').nullable();
    t.text('postal_code').nullable();
    t.text('state').nullable();
    t.text('country').nullable();
    t.text('source').notNullable().defaultTo('other');
    t.text('customer_type').notNullable();
    t.bigInteger('estimated_value_cents').nullable();
    t.text('status').notNullable().defaultTo('open');
    t.text('status_reason').nullable().references('disqualify_reasons.code');
    t.timestamp('closed_at', { useTz: true }).nullable();
    t.uuid('closed_by').nullable().references('users.id');
    t.uuid('owner_id').notNullable().references('users.id');
    t.uuid('created_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('source', LEAD_SOURCES), [], 'leads_source_check');
    t.check(inList('customer_type', CUSTOMER_TYPES), [], 'leads_customer_type_check');
    t.check(inList('status', LEAD_STATUSES), [], 'leads_status_check');
    t.check('estimated_value_cents is null or estimated_value_cents >= 0', [], 'leads_value_check');
    t.check(
      "(status = 'disqualified') = (status_reason is not null) and (status = 'open') = (closed_at is null)",
      [],
      'leads_closed_check',
    );
    t.index(['owner_id', 'status']);
    t.index(['status', 'customer_type']);
  });

  await knex.schema.createTable('activities', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('type').notNullable();
    t.text('regarding_type').notNullable();
    t.uuid('regarding_id').notNullable();
    t.text('subject').notNullable();
    t.text('body').nullable();
    t.timestamp('due_at', { useTz: true }).nullable();
    t.uuid('owner_id').nullable().references('users.id');
    t.text('status').notNullable().defaultTo('open');
    t.timestamp('completed_at', { useTz: true }).nullable();
    t.timestamp('canceled_at', { useTz: true }).nullable();
    t.text('outcome').nullable();
    t.text('to_address').nullable();
    t.timestamp('sent_at', { useTz: true }).nullable();
    t.text('message_id').nullable();
    t.uuid('created_by').nullable().references('users.id');
    t.text('created_by_workflow').nullable();
    // A workflow step's write carries `<workflowId>/<runId>/<step>`: a retried activity finds it.
    t.text('idempotency_key').nullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.check(inList('type', ACTIVITY_TYPES), [], 'activities_type_check');
    t.check(inList('status', ACTIVITY_STATUSES), [], 'activities_status_check');
    t.check('created_by is not null or created_by_workflow is not null', [], 'activities_creator_check');
    t.check("(status = 'completed') = (completed_at is not null)", [], 'activities_completed_check');
    t.index(['regarding_type', 'regarding_id', 'status']);
    t.index(['owner_id', 'status', 'due_at']);
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('actor_type').notNullable();
    t.text('actor_id').notNullable();
    t.text('action').notNullable();
    t.text('entity_type').notNullable();
    t.text('entity_id').notNullable();
    t.jsonb('before').nullable();
    t.jsonb('after').nullable();
    t.text('request_id').nullable();
    t.check(inList('actor_type', ['user', 'workflow', 'system']), [], 'audit_actor_type_check');
    t.index(['entity_type', 'entity_id', 'at']);
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.uuid('user_id').notNullable().references('users.id');
    t.text('key').notNullable();
    t.text('method').notNullable();
    t.text('path').notNullable();
    t.text('request_hash').notNullable();
    t.integer('status_code').notNullable();
    t.jsonb('response_body').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['user_id', 'key']);
  });

  await knex.schema.createTable('nurture_steps', (t) => {
    t.text('run_id').notNullable();
    t.text('step').notNullable();
    t.text('workflow_id').notNullable();
    t.uuid('lead_id').notNullable().references('leads.id');
    t.integer('step_index').notNullable();
    t.text('state').notNullable();
    t.timestamp('due_at', { useTz: true }).nullable();
    t.timestamp('done_at', { useTz: true }).nullable();
    t.uuid('activity_id').nullable().references('activities.id');
    t.text('skip_reason').nullable();
    t.timestamp('recorded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['run_id', 'step']);
    t.check(inList('state', ['done', 'skipped']), [], 'nurture_steps_state_check');
    t.index(['lead_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'nurture_steps',
    'idempotency_keys',
    'audit_log',
    'activities',
    'leads',
    'disqualify_reasons',
    'users',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
