/**
 * Customer unification through the API: ask for a pass (the `customer-unification` workflow
 * starts if it is not running), follow it, and see the latest passes.
 */
import { z } from 'zod';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Db } from '../../db/knex';
import { fromRow } from '../../db/rows';
import { CUSTOMER_UNIFICATION_WORKFLOW_ID, getUnificationStateQuery } from '../../workflows/customerUnification.contract';
import { SUPERVISORS } from '../auth';
import { route, type RouteSpec } from '../http';
import { idFor } from '../idempotency';
import { isoDateTime } from '../schemas';
import { passOf, requestUnification } from '../unificationClient';
import { workflowCalls } from '../workflowCalls';

export const passSchema = z.object({
  id: z.uuid(), workflowId: z.string(), workflowRunId: z.string(), pass: z.number().int(), requestIds: z.array(z.string()),
  status: z.enum(['running', 'completed', 'failed']), phase: z.string().nullable(), progress: z.record(z.string(), z.unknown()),
  stats: z.record(z.string(), z.unknown()), rulesHash: z.string().nullable(), error: z.string().nullable(),
  startedAt: isoDateTime(), publishedAt: isoDateTime().nullable(), finishedAt: isoDateTime().nullable(),
});

export const ticketSchema = z.object({ workflowId: z.string(), runId: z.string(), requestId: z.string() });

export interface UnificationRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
}

export function customerUnificationRoutes({ db, temporal, taskQueue }: UnificationRoutesDeps): RouteSpec[] {
  const calls = workflowCalls(temporal);
  return [
    route({
      method: 'post', path: '/unification/runs', tag: 'Customer unification', summary: 'Run customer unification',
      description: 'Hands a request to `customer-unification`: served by the next pass (a pass already running finishes first). Follow it with `GET /unification?requestId=`.',
      roles: SUPERVISORS,
      responses: { 202: { description: 'Requested', schema: ticketSchema } },
      async handler({ operation, user }) {
        // A keyed retry hands the same request again: the workflow takes each request id once.
        const requestId = idFor(operation, 'unification_request') ?? undefined;
        const ticket = await requestUnification(temporal, taskQueue, { trigger: 'api', by: user.id, requestId });
        return { status: 202, body: ticket, headers: { Location: `/unification?requestId=${ticket.requestId}` } };
      },
    }),
    route({
      method: 'get', path: '/unification', tag: 'Customer unification', summary: 'The latest unification passes, and where a request stands',
      roles: SUPERVISORS, query: z.object({ requestId: z.string().max(200).optional() }),
      responses: {
        200: {
          description: 'The latest passes (from the database), and the running workflow\'s view of the request when asked',
          schema: z.object({ passes: z.array(passSchema), request: z.object({ status: z.string(), pass: z.number().nullable(), view: z.unknown() }).nullable() }),
        },
      },
      async handler({ query }) {
        const rows = await db('customer_unification_passes').orderBy('started_at', 'desc').limit(20)
          .select('id', 'workflow_id', 'workflow_run_id', 'pass', 'request_ids', 'status', 'phase', 'progress', 'stats', 'rules_hash', 'error', 'started_at', 'published_at', 'finished_at');
        let request = null;
        if (query.requestId) {
          try {
            const state = await calls.query(temporal.workflow.getHandle(CUSTOMER_UNIFICATION_WORKFLOW_ID), getUnificationStateQuery);
            const known = state.requests[query.requestId];
            if (known) request = { ...known, view: passOf(state, query.requestId) };
          } catch (error) {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          }
        }
        return { status: 200, body: { passes: rows.map((r: Record<string, unknown>) => fromRow(r)), request } };
      },
    }),
  ];
}
