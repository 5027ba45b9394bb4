/**
 * Qualifying a lead (SPEC "Leads"): the contact, the account, the deal, the lead closed as
 * qualified, its nurture stopped, and the deal's workflow started. Idempotent by nature: a repeated
 * call answers with the same ids and starts nothing new.
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { DealConfig } from '../../config';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { DealStore } from '../../db/stores/deals';
import { LeadQualification } from '../../db/stores/leadQualification';
import { LeadStore } from '../../db/stores/leads';
import { dealWorkflowId } from '../../workflows/dealLifecycle.contract';
import { WORKERS, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import { idParams, optionalText } from '../schemas';
import { dealProcess } from '../processes/deals';
import { stopNurtureForClosedLead } from '../processes/nurture';

export const qualifiedSchema = z.object({
  leadId: z.uuid(),
  dealId: z.uuid(),
  contactId: z.uuid(),
  accountId: z.uuid().nullable().describe('Null when the lead has no company name'),
  workflowId: z.string(),
});

export interface LeadQualificationRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  deals?: DealConfig;
}

export function leadQualificationRoutes(deps: LeadQualificationRoutesDeps): RouteSpec[] {
  const { db, temporal, log } = deps;
  const leads = new LeadStore(db);
  const deals = new DealStore(db);
  const qualification = new LeadQualification(db);
  const dealFlow = dealProcess(deps);

  return [
    route({
      method: 'post', path: '/leads/:id/qualify', tag: 'Deals', summary: 'Qualify a lead: contact, account, deal, and the deal’s process',
      description: 'Creates (or reuses, by email) the contact, the account when the lead has a company (reused by normalised name), and a deal in `qualify` linked to both; closes the lead as qualified, stops its nurture sequence (`qualified`), and starts the deal workflow `deal-<dealId>`. The deal’s timeline shows the lead’s activities. Repeating the call answers 200 with the same ids and starts nothing. A disqualified lead gives 409 `lead_closed`.',
      roles: WORKERS, params: idParams('lead'), idempotent: true,
      body: z.strictObject({ dealName: optionalText(200).describe('Defaults to "<company>: <topic>"') }).optional(),
      responses: {
        201: { description: 'Qualified now', schema: qualifiedSchema },
        200: { description: 'Qualified before: the same ids', schema: qualifiedSchema },
        403: { description: '`not_owner`: only the lead’s owner or a manager qualifies it' },
        404: { description: 'No such lead' },
        409: { description: '`lead_closed`: the lead was disqualified' },
      },
      async handler({ user, params: { id }, body, requestId }) {
        const lead = await leads.require(id);
        assertOwnerOrSupervisor(user, lead.ownerId, 'lead');
        const result = await qualification.qualify(id, { dealName: body?.dealName }, { actor: { type: 'user', id: user.id }, userId: user.id, requestId });
        // Also on a repeat: a stop that did not reach the sequence the first time gets another chance.
        await stopNurtureForClosedLead(temporal, log, id, 'qualified', user.id);
        await dealFlow.start(result.deal, deals);
        return {
          status: result.created ? 201 : 200,
          body: { leadId: id, dealId: result.deal.id, contactId: result.contactId, accountId: result.accountId, workflowId: dealWorkflowId(result.deal.id) },
          headers: { Location: `/deals/${result.deal.id}` },
        };
      },
    }),
  ];
}
