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

/**
 * A bulk change's entries (an import's new records) in one statement: one entry per row of
 * `select`, which yields `entity_id` and `after` (jsonb, e.g. `rowJsonSql`, the shape
 * `recordAudit` stores) in the order they are to be written. Returns how many were written.
 */
export async function recordAuditsFrom(trx: Knex, entry: Pick<AuditEntry, 'actor' | 'action' | 'entityType' | 'requestId'>, select: string): Promise<number> {
  const result = await trx.raw(
    `insert into audit_log (actor_type, actor_id, action, entity_type, entity_id, after, request_id)
     select ?, ?, ?, ?, q.entity_id, q.after, ? from (${select}) q`,
    [entry.actor.type, entry.actor.id, entry.action, entry.entityType, entry.requestId ?? null],
  );
  return (result as { rowCount: number }).rowCount;
}

/** Entity types the audit log records (`entity_type`). */
export const AUDIT_ENTITIES = ['lead', 'deal', 'quote', 'activity', 'account', 'contact', 'order', 'invoice', 'sequence'] as const;
export type AuditEntity = (typeof AUDIT_ENTITIES)[number];

export interface AuditRecord {
  id: number;
  at: string;
  actor: Actor & { name: string | null };
  action: string;
  entityType: string;
  entityId: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

/** One record's trail, newest first; a person's name is shown beside their id. */
export async function auditTrail(db: Knex, entityType: AuditEntity, entityId: string, page: { limit: number; offset: number }): Promise<{ items: AuditRecord[]; total: number }> {
  const where = { entity_type: entityType, entity_id: entityId };
  const [rows, [{ count }]] = await Promise.all([
    db('audit_log as a').leftJoin('users as u', (j) => j.on('u.id', '=', db.raw('(case when a.actor_type = ? then a.actor_id end)::uuid', ['user'])))
      .where(Object.fromEntries(Object.entries(where).map(([k, v]) => [`a.${k}`, v])))
      .orderBy([{ column: 'a.id', order: 'desc' }]).limit(page.limit).offset(page.offset)
      .select('a.*', 'u.name as actor_name'),
    db('audit_log').where(where).count<{ count: number }[]>({ count: '*' }),
  ]);
  const items = rows.map((r: Record<string, any>): AuditRecord => ({
    id: Number(r.id), at: (r.at as Date).toISOString(), actor: { type: r.actor_type, id: r.actor_id, name: r.actor_name ?? null },
    action: r.action, entityType: r.entity_type, entityId: r.entity_id, before: r.before, after: r.after, requestId: r.request_id,
  }));
  return { items, total: Number(count) };
}
