/**
 * Customer search ignores accents: "chloe tran" finds "Chloé Tran". `search_fold` (lower case,
 * accents removed with the contrib extension unaccent) is immutable so the name indexes can use it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('create extension if not exists unaccent');
  await knex.raw(`create or replace function search_fold(text) returns text
    language sql immutable parallel safe strict
    as $$ select lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$`);
  for (const column of ['first_name', 'last_name']) {
    await knex.raw(`drop index if exists customer_source_records_${column}`);
    await knex.raw(`create index customer_source_records_${column} on customer_source_records (search_fold(${column}) text_pattern_ops)`);
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const column of ['first_name', 'last_name']) {
    await knex.raw(`drop index if exists customer_source_records_${column}`);
    await knex.raw(`create index customer_source_records_${column} on customer_source_records (lower(${column}) text_pattern_ops)`);
  }
  await knex.raw('drop function if exists search_fold(text)');
  await knex.raw('drop extension if exists unaccent');
}
