/**
 * The API's side of the order workflow: an Update through api/workflowCalls.ts (deadline → 503
 * `still_processing`; the Update's id is the request's operation key, so a retry with the same
 * Idempotency-Key is the same Update). While the order's process runs, its validators and handlers
 * judge every request (the API does not judge first: one judge, no race). Once it has ended, the
 * API judges the request on Postgres's rows with the same rules, so the refusal still names its
 * rule and the state behind it (`invoice_paid`, `order_canceled`, …).
 */
import type { Client } from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { OrderStore } from '../../db/stores/orders';
import type { OrderFacts, OrderRefusal } from '../../domain/order';
import { ConflictError, Rejection } from '../../domain/rejection';
import { orderWorkflowId, type OrderUpdateResult } from '../../workflows/orderToCash.contract';
import { workflowCalls } from '../workflowCalls';

export function orderProcess({ temporal, db, log }: { temporal: Client; db: Db; log: Logger }) {
  const calls = workflowCalls(temporal, (error) => log.warn({ err: error }, 'an order change was made but its answer could not be built'));
  const orders = new OrderStore(db);

  /**
   * Sends an Update (its id: the request's operation key) and waits for its answer, built by
   * `answer`; `rule` judges the request on the rows if the order's process has ended meanwhile.
   */
  function update<A, T>(
    orderId: string, definition: UpdateDefinition<OrderUpdateResult, [A]>, arg: A, updateId: string,
    how: { rule: (facts: OrderFacts) => OrderRefusal | null; answer: (result: OrderUpdateResult) => Promise<T>; resource?: string },
  ): Promise<T> {
    const { rule, answer, resource = `/orders/${orderId}` } = how;
    return calls.update(orderWorkflowId(orderId), definition, arg, updateId, {
      resource,
      answer,
      ended: async () => {
        const refusal = rule(await orders.facts(orderId));
        if (refusal) {
          const { field, ...details } = refusal.details as { field?: string } & Record<string, unknown>;
          return new Rejection({ ...refusal, field, details });
        }
        return new ConflictError('order_closed', `order ${orderId} is settled: its process has ended`);
      },
    });
  }

  return { update };
}
