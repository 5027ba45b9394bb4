/**
 * The audit log: every change, by a person through the API or by a workflow activity, with its
 * before and after. Written inside the same transaction as the change it describes.
 */
import type { Knex } from 'knex';

export type Actor =
  | { type: 'user'; id: string }
  | { type: 'workflow'; id: string }
  | { type: 'system'; id: string };

export interface AuditEntry {
  actor: Actor;
  action: string;
  entityType: string;
  entityId: string;
  before?: unknown;
  after?: unknown;
  requestId?: string | null;
}

export async function recordAudit(trx: Knex, entry: AuditEntry): Promise<void> {
  await trx('audit_log').insert({
    actor_type: entry.actor.type,
    actor_id: entry.actor.id,
    action: entry.action,
    entity_type: entry.entityType,
    entity_id: entry.entityId,
    before: entry.before === undefined ? null : JSON.stringify(entry.before),
    after: entry.after === undefined ? null : JSON.stringify(entry.after),
    request_id: entry.requestId ?? null,
  });
}
