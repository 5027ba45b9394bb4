/**
 * A unification pass remembers what it was computed from — a fingerprint of the person records
 * (count, largest id, a checksum of every row's hash and update time), the rules and their
 * normalisations — so that a pass over the same inputs reuses the published result instead of
 * matching a million records again, and names the pass it reused.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('customer_unification_passes', (t) => {
    t.text('fingerprint').nullable();
    t.uuid('reused_from').nullable();
    t.index(['fingerprint']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('customer_unification_passes', (t) => {
    t.dropIndex(['fingerprint']);
    t.dropColumn('reused_from');
    t.dropColumn('fingerprint');
  });
}
