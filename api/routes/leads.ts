/** Leads (SPEC "Leads"): create, read, list, edit, disqualify (the timeline: timelines.ts). */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { CUSTOMER_TYPES, LEAD_STATUSES, LeadStore, type LeadFields } from '../../db/stores/leads';
import { WORKERS, assertMayAssignOwner, assertOwnerOrSupervisor } from '../auth';
import { EMPTY_LEAD, createLeadBody, leadSchema } from '../views/leads';
import { route, type RouteSpec } from '../http';
import { idFor } from '../idempotency';
import { definedOnly, idParams, pageOf, paging, text } from '../schemas';
import { stopNurtureForClosedLead } from '../processes/nurture';

const patchLeadBody = createLeadBody
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change', params: { code: 'empty_patch' } });

const listQuery = z.object({
  status: z.enum(LEAD_STATUSES).optional(),
  ownerId: z.uuid().optional(),
  customerType: z.enum(CUSTOMER_TYPES).optional(),
  ...paging,
});

export interface LeadRoutesDeps {
  db: Db;
  temporal: Client;
  log: Logger;
}

export function leadRoutes({ db, temporal, log }: LeadRoutesDeps): RouteSpec[] {
  const leads = new LeadStore(db);
  const params = idParams('lead');

  return [
    route({
      method: 'post', path: '/leads', tag: 'Leads', summary: 'Create a lead', roles: WORKERS,
      body: createLeadBody,
      responses: { 201: { description: 'The new lead', schema: leadSchema }, 403: { description: 'Wrong role, or a rep naming another owner' } },
      async handler({ operation, user, body, requestId }) {
        assertMayAssignOwner(user, body.ownerId);
        const fields: LeadFields = { ...EMPTY_LEAD, ...definedOnly(body), ownerId: body.ownerId ?? user.id };
        const lead = await leads.create(fields, user.id, { actor: { type: 'user', id: user.id }, requestId }, idFor(operation, 'lead'));
        return { status: 201, body: lead, headers: { Location: `/leads/${lead.id}` } };
      },
    }),
    route({
      method: 'get', path: '/leads', tag: 'Leads', summary: 'List leads (newest first)',
      query: listQuery,
      responses: { 200: { description: 'A page of leads', schema: pageOf(leadSchema) } },
      async handler({ query }) {
        const { limit, offset, ...filter } = query;
        const { items, total } = await leads.list(filter, { limit, offset });
        return { status: 200, body: { data: items, page: { limit, offset, total } } };
      },
    }),
    route({
      method: 'get', path: '/leads/:id', tag: 'Leads', summary: 'Read a lead', params,
      responses: { 200: { description: 'The lead', schema: leadSchema }, 404: { description: 'No such lead' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await leads.require(id) };
      },
    }),
    route({
      method: 'patch', path: '/leads/:id', tag: 'Leads', summary: 'Change an open lead',
      description: 'Only the named fields change. The lead’s owner, a manager or an admin changes it; reassigning the owner needs a manager or an admin. A closed lead is read-only (409 `lead_closed`).',
      roles: WORKERS, params, body: patchLeadBody,
      responses: {
        200: { description: 'The changed lead', schema: leadSchema }, 403: { description: 'Wrong role, `not_owner` or `owner_reassign_forbidden`' },
        404: { description: 'No such lead' }, 409: { description: '`lead_closed`' },
      },
      async handler({ user, params: { id }, body, requestId }) {
        const current = await leads.require(id);
        assertOwnerOrSupervisor(user, current.ownerId, 'lead');
        assertMayAssignOwner(user, body.ownerId, current.ownerId);
        const { after } = await leads.update(id, body as Partial<LeadFields>, { actor: { type: 'user', id: user.id }, requestId });
        return { status: 200, body: after };
      },
    }),
    route({
      method: 'post', path: '/leads/:id/disqualify', tag: 'Leads', summary: 'Disqualify (close) a lead',
      description: 'Closes the lead with a reason from the configured list (`lost`, `cannot_contact`, `no_longer_interested`, `canceled` by default) and stops its nurture sequence. The lead’s owner, a manager or an admin.',
      roles: WORKERS, params, body: z.strictObject({ reason: text(50) }),
      responses: {
        200: { description: 'The closed lead', schema: leadSchema }, 403: { description: 'Wrong role, or `not_owner`' },
        404: { description: 'No such lead' }, 409: { description: '`lead_closed`: already qualified or disqualified' },
      },
      async handler({ user, params: { id }, body, requestId }) {
        assertOwnerOrSupervisor(user, (await leads.require(id)).ownerId, 'lead');
        const lead = await leads.disqualify(id, body.reason, { actor: { type: 'user', id: user.id }, userId: user.id, requestId });
        await stopNurtureForClosedLead(temporal, log, id, 'disqualified', user.id);
        return { status: 200, body: lead };
      },
    }),
  ];
}
