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
import type { Logger } from '../config/logger';
import { Rejection } from '../domain/rejection';
import type { Db } from '../db/knex';
import { InvoiceStore } from '../db/stores/invoices';
import { OrderStore } from '../db/stores/orders';
import { userContext } from '../db/stores/context';
import { ORDER_REJECTIONS, type ApplyOrderChangeInput, type OrderChange, type OrderChangeResult, type OrderFacts, type OverdueTaskInput, type OverdueTaskResult, type RecordedOrder } from '../workflows/orderToCash.contract';
import { cancelInvoiceRejection, cancelOrderRejection, fulfillRejection, invoiceRejection, paymentRejection, type OrderRefusal } from '../domain/order';
import { applyOnce, lastChangeNumber, type ChangeLedger } from './lib/changeLedger';
import { currentWorkflowId, refusalsAsFailures, rejectionDetails } from './lib/execution';

export interface OrderToCashDeps {
  db: Db;
  log: Logger;
}

const ORDER_CHANGES: ChangeLedger = { table: 'order_changes', recordColumn: 'order_id', outOfStepCode: ORDER_REJECTIONS.outOfStep };

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
    return { facts: await orders.facts(orderId), changeSeq: await lastChangeNumber(db, ORDER_CHANGES, orderId, workflowId) };
  }

  /**
   * A refused change is a typed, non-retryable failure whose details are the problem the API
   * shows (with the refusal's kind) and then what Postgres holds, so the workflow's copy cannot
   * stay behind.
   */
  function refusalsCarryingRecord<T>(orderId: string, workflowId: string, work: () => Promise<T>): Promise<T> {
    return refusalsAsFailures(work, async (rejection) => [rejectionDetails(rejection), await recordedOrder(orderId, workflowId)]);
  }

  /** One change in one transaction: the ledger row makes it happen once; the rule is judged on the rows. */
  async function applyOrderChange(input: ApplyOrderChangeInput): Promise<OrderChangeResult> {
    const workflowId = currentWorkflowId();
    const { orderId, change } = input;
    const alreadyApplied = () => log.debug({ orderId, key: input.key }, 'order change already applied');
    return refusalsCarryingRecord(orderId, workflowId, () =>
      db.transaction((trx) => applyOnce(trx, ORDER_CHANGES, { key: input.key, recordId: orderId, kind: change.kind }, async () => {
        const order = await orders.lock(trx, orderId);
        const rejection = changeRejection(await orders.facts(orderId, trx), change);
        if (rejection) throw new Rejection(rejection);
        const ctx = userContext(input.by, input.requestId);
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
        return result;
      }, alreadyApplied)),
    );
  }

  /** The due date has passed unpaid: a task for the order's owner, once per invoice. */
  async function createOverdueTask(input: OverdueTaskInput): Promise<OverdueTaskResult> {
    const workflowId = currentWorkflowId();
    const { activityId, created } = await invoices.createOverdueTask(input.orderId, input.invoiceId, workflowId);
    log.info({ orderId: input.orderId, invoiceId: input.invoiceId, activityId, firstWrite: created }, 'invoice overdue task');
    return { activityId, facts: await orders.facts(input.orderId) };
  }

  return { applyOrderChange, createOverdueTask };
}

export type OrderToCashActivities = ReturnType<typeof createOrderToCashActivities>;
