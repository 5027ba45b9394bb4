/**
 * The order workflow's side effects. Every change (fulfillment, cancel, invoice, payment, invoice
 * cancel) is written here, one transaction each, so Postgres follows the workflow exactly:
 * - a change is keyed by `<workflowId>/change-<n>` in order_changes: a retry returns the stored result,
 *   and only a retry does (the stored change must be of the same kind for the same order);
 * - each transaction locks the order, re-judges the rule on its own rows (the same pure functions the
 *   workflow's validators use), writes, and returns the fresh facts, which the workflow adopts;
 * - the overdue task is keyed per invoice in activities, so it is written once.
 * Business refusals are non-retryable ApplicationFailures typed with the rule's code; a refused change
 * also carries what Postgres holds (RecordedOrder), so the workflow's copy cannot stay behind.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from '../config/logger';
import { ConflictError, Rejection } from '../domain/rejection';
import type { Db } from '../db/knex';
import { InvoiceStore } from '../db/stores/invoices';
import { OrderStore } from '../db/stores/orders';
import type { WriteContext } from '../db/stores/leads';
import { ORDER_REJECTIONS, type ApplyOrderChangeInput, type OrderChange, type OrderChangeResult, type OrderFacts, type OverdueTaskInput, type OverdueTaskResult, type RecordedOrder } from '../workflows/orderToCash.contract';
import { cancelInvoiceRejection, cancelOrderRejection, fulfillRejection, invoiceRejection, paymentRejection, type OrderRefusal } from '../domain/order';

export interface OrderToCashDeps {
  db: Db;
  log: Logger;
}

type Ctx = WriteContext & { userId: string };

function currentWorkflowId(): string {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw ApplicationFailure.nonRetryable('order activities run only inside a workflow', 'no_workflow');
  return execution.workflowId;
}

/** A rule's refusal, typed with its code; the details carry what the API shows. */
function refusal(rejection: OrderRefusal): ApplicationFailure {
  return ApplicationFailure.create({ message: rejection.message, type: rejection.code, nonRetryable: true, details: [{ ...rejection.details, kind: rejection.kind }] });
}

/** Store refusals become typed, non-retryable failures; anything else is transient and retried. */
async function refusalsAsFailures<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Rejection) throw ApplicationFailure.nonRetryable(error.message, error.code);
    throw error;
  }
}

/** The rule a change must pass, judged on the facts read inside the change's transaction. */
export function changeRejection(facts: OrderFacts, change: OrderChange): OrderRefusal | null {
  switch (change.kind) {
    case 'fulfill':
      return fulfillRejection(facts, change.fulfillment);
    case 'cancel_order':
      return cancelOrderRejection(facts, change.reason);
    case 'create_invoice':
      return invoiceRejection(facts);
    case 'record_payment':
      return paymentRejection(facts, change.invoiceId, change.payment, change.amountCents);
    case 'cancel_invoice':
      return cancelInvoiceRejection(facts, change.invoiceId, change.reason);
  }
}

export function createOrderToCashActivities({ db, log }: OrderToCashDeps) {
  const orders = new OrderStore(db);
  const invoices = new InvoiceStore(db);

  /** What Postgres holds now, read after the refused transaction rolled back. */
  async function recordedOrder(orderId: string, workflowId: string): Promise<RecordedOrder> {
    const [{ last }] = await db('order_changes')
      .where({ order_id: orderId })
      .whereLike('idempotency_key', `${workflowId}/change-%`)
      .select(db.raw("coalesce(max(substring(idempotency_key from '/change-([0-9]+)$')::int), 0) as last"));
    return { facts: await orders.facts(orderId), changeSeq: Number(last) };
  }

  /** A refused change carries, after the problem the API shows, what Postgres holds. */
  async function carryingRecord<T>(orderId: string, workflowId: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof ApplicationFailure) || !error.nonRetryable) throw error;
      throw ApplicationFailure.create({ message: error.message, type: error.type ?? undefined, nonRetryable: true, details: [error.details?.[0] ?? {}, await recordedOrder(orderId, workflowId)] });
    }
  }

  /** One change in one transaction: the ledger row makes it happen once; the rule is judged on the rows. */
  async function applyOrderChange(input: ApplyOrderChangeInput): Promise<OrderChangeResult> {
    const workflowId = currentWorkflowId();
    const { orderId, change } = input;
    return carryingRecord(orderId, workflowId, () => refusalsAsFailures(() =>
      db.transaction(async (trx) => {
        const fresh = await trx('order_changes').insert({ idempotency_key: input.key, order_id: orderId, kind: change.kind }).onConflict('idempotency_key').ignore().returning('idempotency_key');
        if (fresh.length === 0) {
          const done = await trx('order_changes').where({ idempotency_key: input.key }).first('result', 'kind', 'order_id');
          // Another change under this number (a reset run counting again): its result is not ours.
          if (done.kind !== change.kind || done.order_id !== orderId) {
            throw new ConflictError(ORDER_REJECTIONS.outOfStep, `change ${input.key} is a ${done.kind} already recorded in the database, not this ${change.kind}`);
          }
          log.debug({ orderId, key: input.key }, 'order change already applied');
          return done.result as OrderChangeResult;
        }
        const order = await orders.lock(trx, orderId);
        const rejection = changeRejection(await orders.facts(orderId, trx), change);
        if (rejection) throw refusal(rejection);
        const ctx: Ctx = { actor: { type: 'user', id: input.by }, userId: input.by, requestId: input.requestId ?? null };
        let createdId: string | null = null;
        switch (change.kind) {
          case 'fulfill':
            await orders.fulfill(trx, orderId, { kind: change.fulfillment, fulfilledOn: change.fulfilledOn, note: change.note }, ctx);
            break;
          case 'cancel_order':
            await orders.cancel(trx, orderId, { reason: change.reason, description: change.description }, ctx);
            break;
          case 'create_invoice':
            createdId = (await invoices.create(trx, order, change, ctx)).id;
            break;
          case 'record_payment':
            await invoices.pay(trx, change.invoiceId, { kind: change.payment, paidOn: change.paidOn, amountCents: change.amountCents }, ctx);
            break;
          case 'cancel_invoice':
            await invoices.cancel(trx, change.invoiceId, { reason: change.reason, description: change.description }, ctx);
            break;
        }
        const result: OrderChangeResult = { facts: await orders.facts(orderId, trx), createdId };
        await trx('order_changes').where({ idempotency_key: input.key }).update({ result: JSON.stringify(result) });
        return result;
      }),
    ));
  }

  /** The due date has passed unpaid: a task for the order's owner, once per invoice. */
  async function createOverdueTask(input: OverdueTaskInput): Promise<OverdueTaskResult> {
    const workflowId = currentWorkflowId();
    const { activityId, created } = await refusalsAsFailures(() => invoices.createOverdueTask(input.orderId, input.invoiceId, workflowId));
    log.info({ orderId: input.orderId, invoiceId: input.invoiceId, activityId, firstWrite: created }, 'invoice overdue task');
    return { activityId, facts: await orders.facts(input.orderId) };
  }

  return { applyOrderChange, createOverdueTask };
}

export type OrderToCashActivities = ReturnType<typeof createOrderToCashActivities>;
