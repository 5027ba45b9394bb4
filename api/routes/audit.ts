/**
 * The audit trail of one record (SPEC "Who may do what": every change is attributed): who — a
 * person, or the workflow that acted — did what, when, with the record before and after. Managers
 * and admins only.
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { AUDIT_ENTITIES, auditTrail } from '../../db/stores/audit';
import { SUPERVISORS } from '../auth';
import { route, type RouteSpec } from '../http';
import { isoDateTime, pageOf, paging } from '../schemas';

const auditQuery = z.object({
  entity: z.enum(AUDIT_ENTITIES).describe('The record type'),
  id: z.uuid().describe('The record'),
  ...paging,
});

export const auditRecordSchema = z.object({
  id: z.number().int(),
  at: isoDateTime(),
  actor: z.object({ type: z.enum(['user', 'workflow', 'system']), id: z.string().describe('A user id, or a workflow id'), name: z.string().nullable() }),
  action: z.string().describe('e.g. `order.fulfilled`, `invoice.partially_paid`, `activity.created`'),
  entityType: z.enum(AUDIT_ENTITIES),
  entityId: z.string(),
  before: z.unknown().describe('The record before the change (absent for a creation)'),
  after: z.unknown().describe('The record after the change (absent for a deletion)'),
  requestId: z.string().nullable().describe('The API request that caused it'),
});

export function auditRoutes({ db }: { db: Db }): RouteSpec[] {
  return [
    route({
      method: 'get', path: '/audit', tag: 'Audit', summary: 'A record’s audit trail, newest first (managers and admins)',
      roles: SUPERVISORS, query: auditQuery,
      responses: { 200: { description: 'A page of audit records', schema: pageOf(auditRecordSchema) } },
      async handler({ query }) {
        const { entity, id, limit, offset } = query;
        const { items, total } = await auditTrail(db, entity, id, { limit, offset });
        return { status: 200, body: { data: items, page: { limit, offset, total } } };
      },
    }),
  ];
}
