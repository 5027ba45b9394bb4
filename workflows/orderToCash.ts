/**
 * One order's way from a won quote to cash (SPEC "Quotes, orders, invoices"): fulfilled (in parts or
 * at once) or canceled; invoiced; paid (in parts or at once) or the invoice canceled and reissued.
 * The workflow is the source of truth for the order's and its invoices' status: every change comes
 * through its Updates, whose validators answer at once from the workflow's copy of the facts; the
 * handlers, one at a time, write Postgres through activities (which re-judge on the rows) before
 * answering. While an invoice is unpaid the workflow waits durably until its due date, then leaves an
 * overdue task for the order's owner and keeps waiting; partial payments keep it waiting for the rest.
 * It ends when the order is canceled, or fulfilled completely and paid in full.
 * Deterministic: time from the workflow clock, all I/O in activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions } from '@temporalio/workflow';
import type { OrderToCashActivities } from '../activities/orderToCash';
import {
  ORDER_HISTORY_EVENT_LIMIT,
  ORDER_REJECTIONS,
  cancelInvoiceUpdate,
  cancelOrderUpdate,
  createInvoiceUpdate,
  fulfillOrderUpdate,
  getOrderStateQuery,
  recordPaymentUpdate,
  type OrderChange,
  type OrderFacts,
  type OrderState,
  type OrderUpdateResult,
  type OrderWorkflowInput,
  type RecordedOrder,
} from './orderToCash.contract';
import {
  addDays,
  balanceCents,
  cancelInvoiceRejection,
  cancelOrderRejection,
  fulfillRejection,
  invoiceRejection,
  isSettled,
  liveInvoice,
  orderActionsNow,
  orderPhase,
  paymentDeadlineMs,
  paymentRejection,
  unpaidInvoice,
  utcDate,
  type InvoiceStatus,
  type OrderRefusal,
  type OrderStatus,
} from '../domain/order';
import { EntityLock } from './lib/entityLock';
import { PublishedAttributes, historyNearLimit, iso, updateFailure } from './lib/entity';
import { AmountDueKey, DealIdKey, InvoiceStatusKey, OrderStatusKey, OwnerIdKey, PaymentDueAtKey, PaymentOverdueKey } from './searchAttributes';

/**
 * Writes behind an Update: the API waits for them, so they are short and retried briskly until
 * Postgres is back; a rule refusal is final (and typed: it becomes the API's 409 or 422 code).
 */
const ORDER_WRITE: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [...Object.values(ORDER_REJECTIONS), 'order_not_found', 'invoice_not_found', 'no_workflow'] },
};
/** The overdue task: nobody waits on it, so it backs off further. */
const OVERDUE_TASK_WRITE: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['order_not_found', 'invoice_not_found', 'no_workflow'] },
};

const { applyOrderChange } = proxyActivities<OrderToCashActivities>(ORDER_WRITE);
const { createOverdueTask } = proxyActivities<OrderToCashActivities>(OVERDUE_TASK_WRITE);
const OVERDUE_FAILURE_KEPT = 'order-overdue-failure-kept';

class OrderToCash {
  private readonly state: OrderState;
  /** One handler writes at a time, in arrival order; validators answer from the state before their turn, handlers re-check in it. */
  private readonly lock = new EntityLock();
  /** Bumped whenever the facts change, so the payment wait re-evaluates. */
  private version = 0;
  /** The Web UI's search attributes, upserted when what they show changes. */
  private readonly attributes = new PublishedAttributes<{
    orderStatus: OrderStatus; invoiceStatus: InvoiceStatus | 'none'; dueAt: number | null; amountDue: number; overdue: boolean; owner: string;
  }>(
    {
      orderStatus: (value) => ({ key: OrderStatusKey, value }),
      invoiceStatus: (value) => ({ key: InvoiceStatusKey, value }),
      // No deadline yet: nothing to clear on the first upsert.
      dueAt: (value, first) => (first && value === null ? null : { key: PaymentDueAtKey, value: value === null ? null : new Date(value) }),
      amountDue: (value) => ({ key: AmountDueKey, value }),
      overdue: (value) => ({ key: PaymentOverdueKey, value }),
      owner: (value) => ({ key: OwnerIdKey, value }),
    },
    () => [{ key: DealIdKey, value: this.state.facts.dealId }],
  );

  constructor(private readonly input: OrderWorkflowInput) {
    this.state = input.carried
      ? { ...input.carried, runs: input.carried.runs + 1 }
      : {
          orderId: input.orderId,
          facts: input.facts,
          phase: orderPhase(input.facts),
          liveInvoiceId: null,
          paymentOverdue: false,
          allowedActions: [],
          blockedActions: [],
          changeSeq: 0,
          startedAt: iso(Date.now()),
          endedAt: null,
          historyEventLimit: input.historyEventLimit ?? ORDER_HISTORY_EVENT_LIMIT,
          runs: 0,
        };
    this.refresh();
  }

  setup(): void {
    setHandler(getOrderStateQuery, () => this.state);
    setHandler(fulfillOrderUpdate, (input) => this.lock.exclusive(() => {
      this.refuse(fulfillRejection(this.state.facts, input.kind));
      return this.apply({ kind: 'fulfill', fulfillment: input.kind, fulfilledOn: input.fulfilledOn, note: input.note ?? null }, input);
    }), { validator: (input) => this.refuse(fulfillRejection(this.state.facts, input.kind)) });
    setHandler(cancelOrderUpdate, (input) => this.lock.exclusive(() => {
      this.refuse(cancelOrderRejection(this.state.facts, input.reason));
      return this.apply({ kind: 'cancel_order', reason: input.reason!, description: input.description ?? null }, input);
    }), { validator: (input) => this.refuse(cancelOrderRejection(this.state.facts, input.reason)) });
    setHandler(createInvoiceUpdate, (input) => this.lock.exclusive(() => {
      this.refuse(invoiceRejection(this.state.facts));
      // Issued today (workflow time, UTC), due after the payment terms.
      const issuedOn = utcDate(Date.now());
      const change: OrderChange = {
        kind: 'create_invoice', name: input.name ?? null, description: input.description ?? null,
        issuedOn, dueOn: addDays(issuedOn, input.paymentTermsDays), paymentTermsDays: input.paymentTermsDays,
      };
      return this.apply(change, input);
    }), { validator: (_input) => this.refuse(invoiceRejection(this.state.facts)) });
    setHandler(recordPaymentUpdate, (input) => this.lock.exclusive(() => {
      this.refuse(paymentRejection(this.state.facts, input.invoiceId, input.kind, input.amountCents));
      return this.apply({ kind: 'record_payment', invoiceId: input.invoiceId, payment: input.kind, paidOn: input.paidOn, amountCents: input.amountCents }, input);
    }), { validator: (input) => this.refuse(paymentRejection(this.state.facts, input.invoiceId, input.kind, input.amountCents)) });
    setHandler(cancelInvoiceUpdate, (input) => this.lock.exclusive(() => {
      this.refuse(cancelInvoiceRejection(this.state.facts, input.invoiceId, input.reason));
      return this.apply({ kind: 'cancel_invoice', invoiceId: input.invoiceId, reason: input.reason!, description: input.description ?? null }, input);
    }), { validator: (input) => this.refuse(cancelInvoiceRejection(this.state.facts, input.invoiceId, input.reason)) });
  }

  async run(): Promise<OrderState> {
    this.publish();
    while (!isSettled(this.state.facts) && !historyNearLimit(this.state.historyEventLimit)) {
      const invoice = unpaidInvoice(this.state.facts);
      if (invoice && !invoice.overdueActivityId && !this.state.overdueTaskFailures?.[invoice.id]) await this.waitForPayment(invoice.id, invoice.invoiceNumber, invoice.dueOn);
      else await this.waitForChange();
    }
    // Let every accepted Update finish (and answer its caller) before the run ends.
    await condition(allHandlersFinished);
    if (!isSettled(this.state.facts)) {
      await continueAsNew<typeof orderToCashWorkflow>({ ...this.input, facts: this.state.facts, carried: this.state });
    }
    this.state.endedAt = iso(Date.now());
    return this.state;
  }

  // --- waiting -------------------------------------------------------------------------------------

  private async waitForChange(): Promise<void> {
    const seen = this.version;
    await condition(() => this.version !== seen || historyNearLimit(this.state.historyEventLimit));
  }

  /**
   * Waits durably until the invoice's due date has passed (weeks if need be); any change (a partial
   * payment, a cancel) re-evaluates. Past the due date and still unpaid: the owner's overdue task.
   */
  private async waitForPayment(invoiceId: string, invoiceNumber: string, dueOn: string): Promise<void> {
    const seen = this.version;
    const changed = () => this.version !== seen || historyNearLimit(this.state.historyEventLimit);
    const waitMs = paymentDeadlineMs(dueOn) - Date.now();
    if (waitMs > 0 && (await condition(changed, waitMs, { summary: `Invoice ${invoiceNumber}: wait for payment until the end of ${dueOn}` }))) return;
    await this.lock.exclusive(async () => {
      // Re-checked in our turn: a payment or cancel may have settled it meanwhile.
      const invoice = unpaidInvoice(this.state.facts);
      if (!invoice || invoice.id !== invoiceId || invoice.overdueActivityId) return;
      try {
        const { facts } = await createOverdueTask.executeWithOptions(
          { ...OVERDUE_TASK_WRITE, summary: `Invoice ${invoiceNumber} unpaid after ${dueOn}: overdue task for the owner` },
          [{ orderId: this.state.orderId, invoiceId }],
        );
        this.adopt(facts);
      } catch (error) {
        // A task that can never be written (a permanent failure; transient ones are retried) must
        // not end the order's process: keep its failure, and wait for the payment without it.
        if (!(error instanceof ActivityFailure) || !patched(OVERDUE_FAILURE_KEPT)) throw error;
        const code = error.cause instanceof ApplicationFailure ? (error.cause.type ?? 'overdue_task_failed') : 'overdue_task_failed';
        this.state.overdueTaskFailures = { ...this.state.overdueTaskFailures, [invoiceId]: code };
        this.version += 1;
      }
    });
  }

  // --- applying changes ----------------------------------------------------------------------------

  private refuse(rejection: OrderRefusal | null): void {
    if (rejection) {
      throw ApplicationFailure.create({ message: rejection.message, type: rejection.code, nonRetryable: true, details: [{ ...rejection.details, kind: rejection.kind }] });
    }
  }

  private async apply(change: OrderChange, { by, requestId }: { by: string; requestId?: string | null }): Promise<OrderUpdateResult> {
    this.state.changeSeq += 1;
    const key = `${workflowInfo().workflowId}/change-${this.state.changeSeq}`;
    try {
      const result = await applyOrderChange({ orderId: this.state.orderId, key, change, by, requestId: requestId ?? null });
      this.adopt(result.facts);
      return { state: this.state, createdId: result.createdId };
    } catch (error) {
      // A refusal on Postgres's rows comes back to the caller as the same typed failure; what
      // Postgres holds, carried with it, corrects our copy (the caller sees only the problem).
      throw updateFailure(error, 'order', (cause) => {
        const [problem, recorded] = (cause.details ?? []) as [unknown, RecordedOrder | undefined];
        if (recorded && typeof recorded === 'object' && 'facts' in recorded) {
          this.state.changeSeq = Math.max(this.state.changeSeq, recorded.changeSeq);
          this.adopt(recorded.facts);
        }
        return ApplicationFailure.create({ message: cause.message, type: cause.type ?? 'order_write_refused', nonRetryable: true, details: cause.details ? [problem] : undefined });
      });
    }
  }

  private adopt(facts: OrderFacts): void {
    this.state.facts = facts;
    this.version += 1;
    this.refresh();
  }

  private refresh(): void {
    const facts = this.state.facts;
    const invoice = liveInvoice(facts);
    this.state.phase = orderPhase(facts);
    this.state.liveInvoiceId = invoice?.id ?? null;
    this.state.paymentOverdue = Boolean(unpaidInvoice(facts)?.overdueActivityId);
    const { allowed, blocked } = orderActionsNow(facts);
    this.state.allowedActions = allowed;
    this.state.blockedActions = blocked;
    if (this.attributes.started) this.publish();
  }

  /** Keeps the Web UI's search attributes in step with the state, upserting only what changed. */
  private publish(): void {
    const facts = this.state.facts;
    const unpaid = unpaidInvoice(facts);
    this.attributes.publish({
      orderStatus: facts.status,
      invoiceStatus: liveInvoice(facts)?.status ?? 'none',
      dueAt: unpaid ? paymentDeadlineMs(unpaid.dueOn) : null,
      amountDue: unpaid ? balanceCents(unpaid) / 100 : 0,
      overdue: this.state.paymentOverdue,
      owner: facts.ownerId,
    });
  }

}

export async function orderToCashWorkflow(input: OrderWorkflowInput): Promise<OrderState> {
  const order = new OrderToCash(input);
  order.setup();
  return order.run();
}
