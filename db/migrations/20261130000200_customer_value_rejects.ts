/**
 * A value that does not parse is left out of its row rather than rejecting the row: the rejects
 * table reports both, told apart by `scope`, with the key of the record that loaded without the
 * value; imports and files count the values left out.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('customer_import_rejects', (t) => {
    t.text('scope').notNullable().defaultTo('row');
    t.text('source_key').nullable();
    t.check("scope in ('row', 'value')", [], 'customer_import_rejects_scope_check');
  });
  for (const table of ['customer_imports', 'customer_import_files']) {
    await knex.schema.alterTable(table, (t) => {
      t.integer('values_rejected').notNullable().defaultTo(0);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['customer_imports', 'customer_import_files']) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('values_rejected');
    });
  }
  await knex.schema.alterTable('customer_import_rejects', (t) => {
    t.dropChecks(['customer_import_rejects_scope_check']);
    t.dropColumn('source_key');
    t.dropColumn('scope');
  });
}
