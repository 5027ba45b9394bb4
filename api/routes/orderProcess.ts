/**
 * The API's side of the order workflow: an Update through api/workflowCalls.ts (deadline → 503
 * `still_processing`; the Update's id is the request's operation key, so a retry with the same
 * Idempotency-Key is the same Update), and the order rules judged on Postgres's rows first, so a
 * refusal is answered with its code and the state behind it — also for an order whose process has
 * ended.
 */
import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import { ConflictError, UnprocessableError } from '../../db/errors';
import { orderWorkflowId, type OrderUpdateResult } from '../../workflows/orderToCash.contract';
import type { OrderRejection } from '../../workflows/orderToCash.rules';
import { workflowCalls } from '../workflowCalls';

export function orderProcess({ temporal }: { temporal: Client }) {
  const calls = workflowCalls(temporal);

  /** Sends an Update (its id: the request's operation key) and waits for its answer. */
  function update<A>(orderId: string, definition: UpdateDefinition<OrderUpdateResult, [A]>, arg: A, updateId: string, resource = `/orders/${orderId}`): Promise<OrderUpdateResult> {
    return calls.update(orderWorkflowId(orderId), definition, arg, updateId, {
      resource,
      // The order settled between our read and the Update: its process has ended.
      ended: () => new ConflictError('order_closed', `order ${orderId} is settled: its process has ended`),
    });
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
