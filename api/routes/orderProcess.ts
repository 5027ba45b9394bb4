/**
 * The API's side of the order workflow: an Update with a deadline (no worker answering in time →
 * 503 `worker_unavailable`; retrying with the same Idempotency-Key is safe, the update id is derived
 * from it), and the order rules judged on Postgres's rows first, so a refusal is answered with its
 * code and the state behind it — also for an order whose process has ended.
 */
import { ServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { ConflictError, UnprocessableError } from '../../db/errors';
import type { orderToCashWorkflow } from '../../workflows/orderToCash';
import { orderWorkflowId, type OrderUpdateResult } from '../../workflows/orderToCash.contract';
import type { OrderRejection } from '../../workflows/orderToCash.rules';
import { ServiceUnavailableError } from '../errors';

/** How long an API call waits for the order workflow to answer before reporting 503. */
const UPDATE_DEADLINE_MS = 10_000;

export function orderProcess({ temporal }: { temporal: Client }) {
  async function update<A>(orderId: string, definition: UpdateDefinition<OrderUpdateResult, [A]>, arg: A, updateId: string): Promise<OrderUpdateResult> {
    const handle = temporal.workflow.getHandle<typeof orderToCashWorkflow>(orderWorkflowId(orderId));
    try {
      return await temporal.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () => handle.executeUpdate(definition, { args: [arg], updateId }));
    } catch (error) {
      if (error instanceof ServiceError && /deadline/i.test(error.message)) {
        throw new ServiceUnavailableError('worker_unavailable', 'the order process did not answer in time (is a worker running?); retrying the same request with the same Idempotency-Key is safe');
      }
      // The order settled between our read and the Update: its process has ended.
      if (error instanceof WorkflowNotFoundError && /completed/i.test(error.message)) {
        throw new ConflictError('order_closed', `order ${orderId} is settled: its process has ended`);
      }
      throw error;
    }
  }

  return { update };
}

/** A rule's refusal as the API's error: 409 for the record's state, 422 for the request's content. */
export function assertNoRejection(rejection: OrderRejection | null): void {
  if (!rejection) return;
  const { field, ...details } = rejection.details as { field?: string } & Record<string, unknown>;
  if (rejection.status === 422) throw new UnprocessableError(rejection.code, rejection.message, field, details);
  throw new ConflictError(rejection.code, rejection.message, field, details);
}
