/**
 * `GET /operations/{id}`: what became of a change the API answered 503 `still_processing` (its
 * `Location`). The change is an Update of the record's workflow; Temporal keeps its outcome, so the
 * answer is final once it is not `pending`: `succeeded` (with the workflow's result; read the
 * `resource` for the record as it is now), `failed` (the problem the request would have got;
 * nothing was changed), or `not_applied` (the workflow never took it: nothing was changed, sending
 * the request again is safe). Only the user who made the request, a manager or an admin may ask
 * (403 `not_owner` for anyone else).
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import { NotFoundError } from '../../domain/rejection';
import { isSupervisor } from '../auth';
import { ForbiddenError } from '../errors';
import { route, type RouteSpec } from '../http';
import { operationOwner } from '../idempotency';
import { RETRY_AFTER_SECONDS, parseOperationId, workflowCalls } from '../workflowCalls';

export const operationSchema = z.object({
  id: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed', 'not_applied']).describe('`pending`: ask again after `Retry-After`; the others are final'),
  resource: z.string().describe('Where the record the change concerns can be read'),
  workflowId: z.string(),
  result: z.unknown().optional().describe('`succeeded`: the workflow’s answer (its state after the change)'),
  problem: z.object({ status: z.number().int(), code: z.string(), detail: z.string() }).catchall(z.unknown()).optional().describe('`failed`: the problem the request would have been answered with'),
});

export function operationRoutes({ temporal }: { temporal: Client }): RouteSpec[] {
  const calls = workflowCalls(temporal);
  return [
    route({
      method: 'get', path: '/operations/:id', tag: 'Operations', summary: 'The outcome of a change that was answered 503 still_processing',
      description: 'Poll the `Location` of a 503 `still_processing` answer until `status` is not `pending`.',
      params: z.object({ id: z.string().min(1).max(2000).regex(/^[A-Za-z0-9_-]+$/).describe('As the `Location` gave it (base64url)') }),
      responses: { 200: { description: 'Where the change stands', schema: operationSchema }, 403: { description: '`not_owner`: another user’s request' }, 404: { description: '`operation_not_found`' } },
      async handler({ user, params: { id } }) {
        const ref = parseOperationId(id);
        const owner = ref ? operationOwner(ref.updateId) : null;
        if (!ref || !owner) throw new NotFoundError('operation', id);
        if (owner !== user.id && !isSupervisor(user)) throw new ForbiddenError('only the user who made the request, a manager or an admin may follow it', 'not_owner');
        const outcome = await calls.outcome(ref);
        return {
          status: 200,
          body: { id, resource: ref.resource, workflowId: ref.workflowId, ...outcome },
          headers: outcome.status === 'pending' ? { 'Retry-After': String(RETRY_AFTER_SECONDS) } : undefined,
        };
      },
    }),
  ];
}
