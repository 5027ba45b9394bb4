/** Per-database secrets (issue 9): the key that signs unsubscribe links and the inbound-mail webhook's secret. */
import type { Knex } from 'knex';

export type SecretName = 'mail_links' | 'inbound_email';

export async function serviceSecret(db: Knex, name: SecretName): Promise<string> {
  const row = await db('service_secrets').where({ name }).first('value');
  if (!row) throw new Error(`service secret ${name} is missing: run the migrations`);
  return row.value as string;
}
