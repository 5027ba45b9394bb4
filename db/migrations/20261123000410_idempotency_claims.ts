/**
 * An Idempotency-Key is claimed before its request runs (a row without a response yet) instead of
 * being held by a transaction for the whole request: a transaction per in-flight request pinned a
 * pooled connection while the request waited on workflows and further queries, so a burst of keyed
 * requests could take every connection and wait on each other until the pool timed out.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.integer('status_code').nullable().alter();
    t.jsonb('response_body').nullable().alter();
    t.check('(status_code is null) = (response_body is null)', [], 'idempotency_keys_response_check');
  });
}

export async function down(knex: Knex): Promise<void> {
  // Claims in flight have no response to keep.
  await knex('idempotency_keys').whereNull('status_code').delete();
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropChecks(['idempotency_keys_response_check']);
    t.integer('status_code').notNullable().alter();
    t.jsonb('response_body').notNullable().alter();
  });
}
