/**
 * Passes that need not redo everything (issue 10, part 3).
 *
 * A unification pass remembers what it was computed from — a fingerprint of the person records
 * (count, largest id, a checksum of every row's hash and update time), the rules and their
 * normalisations — so that a pass over the same inputs reuses the published result instead of
 * matching a million records again, and names the pass it reused (`reused_from`).
 *
 * An incremental pass re-matches only the records a change can reach: `mode` says how a pass ran
 * (`reuse`, `incremental`, `full`), `base_pass_id` the published pass it started from; the map
 * phase stamps each record it (re)normalises (`mapped_at`) and keeps the keys a record had
 * before (`customer_record_keys_previous`, for the blocks it left); `customer_unification_scope`
 * holds the records an incremental pass re-matches.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('customer_unification_passes', (t) => {
    t.text('fingerprint').nullable();
    t.uuid('reused_from').nullable();
    t.boolean('full_requested').notNullable().defaultTo(false);
    t.text('mode').nullable();
    t.uuid('base_pass_id').nullable();
    t.index(['fingerprint']);
  });
  await knex.schema.alterTable('customer_record_keys', (t) => {
    t.timestamp('mapped_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('customer_record_keys_previous', (t) => {
    t.uuid('pass_id').notNullable().references('customer_unification_passes.id').onDelete('CASCADE');
    t.bigInteger('record_id').notNullable();
    t.jsonb('keys').notNullable();
    t.primary(['pass_id', 'record_id']);
  });
  await knex.schema.createTable('customer_unification_scope', (t) => {
    t.uuid('pass_id').notNullable().references('customer_unification_passes.id').onDelete('CASCADE');
    t.bigInteger('record_id').notNullable();
    t.primary(['pass_id', 'record_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('customer_unification_scope');
  await knex.schema.dropTableIfExists('customer_record_keys_previous');
  await knex.schema.alterTable('customer_record_keys', (t) => {
    t.dropColumn('mapped_at');
  });
  await knex.schema.alterTable('customer_unification_passes', (t) => {
    t.dropIndex(['fingerprint']);
    t.dropColumn('base_pass_id');
    t.dropColumn('mode');
    t.dropColumn('full_requested');
    t.dropColumn('reused_from');
    t.dropColumn('fingerprint');
  });
}
