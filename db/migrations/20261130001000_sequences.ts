/**
 * Sequences as data (issue 9): definitions with immutable published versions, one row per
 * enrollment for the funnel and the filters, people's calendars (users' zones and working hours,
 * people's zones, the company's holidays), do-not-email, contacts' customer type, contacts in the
 * step records, and the inbound mail the reply webhook receives. The SPEC's corporate nurture is
 * seeded as the default sequence, version 1.
 */
import type { Knex } from 'knex';
import { DEFAULT_SEQUENCE_ID, DEFAULT_SEQUENCE_STEPS } from '../../domain/sequences/definition';

const DEFAULT_HOURS = JSON.stringify({ days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' });

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.text('time_zone').notNullable().defaultTo('America/New_York');
    t.jsonb('working_hours').notNullable().defaultTo(knex.raw('?::jsonb', [DEFAULT_HOURS]));
    t.text('email_signature').nullable();
  });
  for (const table of ['leads', 'contacts']) {
    await knex.schema.alterTable(table, (t) => {
      t.text('time_zone').nullable();
      t.timestamp('do_not_email_at', { useTz: true }).nullable();
    });
  }
  await knex.schema.alterTable('contacts', (t) => {
    t.text('customer_type').nullable();
  });
  // A contact of an account is a corporate customer's person (B2B); a standalone one is B2C.
  await knex.raw("update contacts set customer_type = case when parent_account_id is null then 'consumer' else 'corporate' end");
  await knex.schema.alterTable('contacts', (t) => {
    t.text('customer_type').notNullable().alter();
    t.check("customer_type in ('corporate', 'consumer')", [], 'contacts_customer_type_check');
  });
  // Every way a contact is made (the API, qualification, fixtures) gets the same default.
  await knex.raw(`
    create function contacts_default_customer_type() returns trigger language plpgsql as $$
    begin
      new.customer_type := coalesce(new.customer_type, case when new.parent_account_id is null then 'consumer' else 'corporate' end);
      return new;
    end $$;
    create trigger contacts_default_customer_type before insert on contacts
      for each row execute function contacts_default_customer_type();
  `);

  await knex.schema.createTable('holidays', (t) => {
    t.date('day').primary();
    t.text('name').notNullable();
  });

  await knex.schema.createTable('sequences', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    t.text('description').nullable();
    // The editable draft: what the next publish freezes into a version.
    t.jsonb('eligibility').notNullable();
    t.jsonb('steps').notNullable();
    t.integer('latest_version').nullable();
    t.boolean('is_default').notNullable().defaultTo(false);
    t.uuid('created_by').nullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('archived_at', { useTz: true }).nullable();
    t.uuid('archived_by').nullable().references('users.id');
  });
  await knex.raw('create unique index sequences_one_default on sequences (is_default) where is_default');

  await knex.schema.createTable('sequence_versions', (t) => {
    t.uuid('sequence_id').notNullable().references('sequences.id');
    t.integer('version').notNullable();
    t.text('name').notNullable();
    t.jsonb('eligibility').notNullable();
    t.jsonb('steps').notNullable();
    t.uuid('published_by').nullable().references('users.id');
    t.timestamp('published_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['sequence_id', 'version']);
  });

  await knex.schema.createTable('sequence_enrollments', (t) => {
    t.text('run_id').primary();
    t.text('workflow_id').notNullable();
    t.uuid('sequence_id').notNullable().references('sequences.id');
    t.integer('sequence_version').notNullable();
    t.text('person_type').notNullable();
    t.uuid('person_id').notNullable();
    t.uuid('owner_id').notNullable().references('users.id');
    t.uuid('enrolled_by').nullable().references('users.id');
    t.timestamp('enrolled_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('status').notNullable().defaultTo('running');
    t.text('exit_reason').nullable();
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.check("person_type in ('lead', 'contact')", [], 'sequence_enrollments_person_check');
    t.check("status in ('running', 'completed', 'stopped')", [], 'sequence_enrollments_status_check');
    t.index(['sequence_id', 'sequence_version']);
    t.index(['person_type', 'person_id']);
  });

  await knex.schema.alterTable('nurture_steps', (t) => {
    t.uuid('lead_id').nullable().alter();
    t.uuid('contact_id').nullable().references('contacts.id');
    t.uuid('sequence_id').nullable().references('sequences.id');
    t.integer('sequence_version').nullable();
    t.check('(lead_id is null) <> (contact_id is null)', [], 'nurture_steps_person_check');
    t.index(['contact_id']);
  });

  await knex.schema.createTable('inbound_emails', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('from_address').notNullable();
    t.text('to_address').nullable();
    t.text('subject').nullable();
    t.text('message_id').nullable().unique();
    t.specificType('refers_to', 'text[]').notNullable();
    t.text('body').nullable();
    t.uuid('matched_activity_id').nullable().references('activities.id');
    t.text('matched_workflow_id').nullable();
    t.uuid('timeline_activity_id').nullable().references('activities.id');
  });

  // Secrets generated per database (strong randomness: gen_random_uuid draws from pg_strong_random),
  // so a fresh install is never protected by a value printed in a README. Env variables override.
  await knex.schema.createTable('service_secrets', (t) => {
    t.text('name').primary();
    t.text('value').notNullable();
  });
  for (const name of ['mail_links', 'inbound_email']) {
    await knex.raw("insert into service_secrets (name, value) values (?, encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex'))", [name]);
  }

  await knex('sequences').insert({
    id: DEFAULT_SEQUENCE_ID,
    name: 'Corporate nurture',
    description: 'SPEC "Lead nurturing sequence": intro call; +1 day information email; +3 days follow-up email; +2 days appointment call.',
    eligibility: JSON.stringify({ customerTypes: ['corporate'] }),
    steps: JSON.stringify(DEFAULT_SEQUENCE_STEPS),
    latest_version: 1,
    is_default: true,
  });
  await knex('sequence_versions').insert({
    sequence_id: DEFAULT_SEQUENCE_ID, version: 1, name: 'Corporate nurture',
    eligibility: JSON.stringify({ customerTypes: ['corporate'] }), steps: JSON.stringify(DEFAULT_SEQUENCE_STEPS),
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('service_secrets');
  await knex.schema.dropTable('inbound_emails');
  // Contacts' step records cannot go back into a lead-only table.
  await knex('nurture_steps').whereNull('lead_id').delete();
  await knex.schema.alterTable('nurture_steps', (t) => {
    t.dropChecks(['nurture_steps_person_check']);
    t.dropIndex(['contact_id']);
    t.dropColumn('contact_id');
    t.dropColumn('sequence_id');
    t.dropColumn('sequence_version');
    t.uuid('lead_id').notNullable().alter();
  });
  await knex.schema.dropTable('sequence_enrollments');
  await knex.schema.dropTable('sequence_versions');
  await knex.schema.dropTable('sequences');
  await knex.schema.dropTable('holidays');
  await knex.raw('drop trigger contacts_default_customer_type on contacts; drop function contacts_default_customer_type()');
  await knex.schema.alterTable('contacts', (t) => {
    t.dropChecks(['contacts_customer_type_check']);
    t.dropColumn('customer_type');
  });
  for (const table of ['leads', 'contacts']) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('time_zone');
      t.dropColumn('do_not_email_at');
    });
  }
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('time_zone');
    t.dropColumn('working_hours');
    t.dropColumn('email_signature');
  });
}
