/**
 * Tech Checks (SPEC "Deal stages", 4; "Who may do what": only technical consultants record them).
 * A check reviews the deal's active quote revision; notes are required even when everything is in
 * order. It is stored with the revision and the performer, put on the deal's timeline, and
 * delivered to the deal's workflow, which opens (or keeps closed) the gate.
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { DealConfig } from '../../config';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { InvalidFieldError } from '../../domain/rejection';
import { DealStore } from '../../db/stores/deals';
import { QuoteStore } from '../../db/stores/quotes';
import { TechCheckStore } from '../../db/stores/techChecks';
import { TECH_CHECK_OUTCOMES, recordTechCheckUpdate } from '../../workflows/dealLifecycle.contract';
import { route, type RouteSpec } from '../http';
import { idParams, isoDateTime } from '../schemas';
import { dealProcess } from '../processes/deals';
import { processOf, processSchema, techCheckSchema } from '../views/deals';

/** Clocks differ a little; a check "completed" further ahead than this is a typo. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

const recordBody = z.strictObject({
  quoteId: z.uuid().describe('The deal’s active quote: the check covers its current revision'),
  outcome: z.enum(TECH_CHECK_OUTCOMES),
  completedAt: isoDateTime().describe('When the check was completed (not in the future)'),
  notes: z.string().trim().min(1).max(10_000).describe('Required, "everything is in order" included'),
});

export interface TechCheckRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  deals?: DealConfig;
}

export function techCheckRoutes(deps: TechCheckRoutesDeps): RouteSpec[] {
  const { db } = deps;
  const deals = new DealStore(db);
  const quotes = new QuoteStore(db);
  const checks = new TechCheckStore(db);
  const dealFlow = dealProcess(deps);
  const params = idParams('deal');

  return [
    route({
      method: 'post', path: '/deals/:id/tech-checks', tag: 'Tech Checks', summary: 'Record a Tech Check of the deal’s active quote (technical consultants only)',
      description: 'A passed check of the active revision lets a deal above $20,000.00 leave Tech Check. A failed check keeps the gate closed until a revised quote passes a new check (a passed check of a revision that failed: 409 `tech_check_failed`).',
      roles: ['tech_consultant'], params, body: recordBody, idempotent: true,
      responses: {
        201: { description: 'The recorded check', schema: techCheckSchema.extend({ process: processSchema }) },
        404: { description: 'No such deal' },
        409: { description: '`quote_not_active`, `tech_check_failed`, `deal_closed`' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await deals.require(id);
        if (Date.parse(body.completedAt) > Date.now() + FUTURE_TOLERANCE_MS) {
          throw new InvalidFieldError('completedAt', 'in_future', 'a check cannot be completed in the future');
        }
        const quote = await quotes.get(body.quoteId);
        if (!quote || quote.dealId !== id) throw new InvalidFieldError('quoteId', 'not_found', `deal ${id} has no quote ${body.quoteId}`);
        return dealFlow.update(
          id, recordTechCheckUpdate,
          { quoteId: body.quoteId, outcome: body.outcome, completedAt: new Date(body.completedAt).toISOString(), notes: body.notes, by: user.id, requestId },
          operation.operationKey,
          async (result) => {
            const check = (await checks.forDeal(id)).find((c) => c.id === result.createdId);
            if (!check) throw new Error(`Tech Check ${result.createdId} of deal ${id} is not in the store yet`);
            return { status: 201, body: { ...check, process: processOf(result.state) } };
          },
        );
      },
    }),
    route({
      method: 'get', path: '/deals/:id/tech-checks', tag: 'Tech Checks', summary: 'The deal’s Tech Checks, oldest first', params,
      responses: { 200: { description: 'The checks', schema: z.object({ data: z.array(techCheckSchema) }) }, 404: { description: 'No such deal' } },
      async handler({ params: { id } }) {
        await deals.require(id);
        return { status: 200, body: { data: await checks.forDeal(id) } };
      },
    }),
  ];
}
