/**
 * The order-to-cash contract: everything the order workflow, its activities and the API must agree
 * on (ids, statuses, reasons, payment terms, messages, input and state types, rejection codes).
 * Imported by all three; nothing here does I/O. Message name strings never change once shipped.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;

/** An order is open until fulfilled (partly, then completely) or canceled. */
export const ORDER_STATUSES = ['open', 'partially_fulfilled', 'fulfilled', 'canceled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** An invoice is open until paid (partly, then completely) or canceled. */
export const INVOICE_STATUSES = ['open', 'partially_paid', 'paid', 'canceled'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/** SPEC: an order is fulfilled `complete` or `partial`; an invoice is paid `complete` or `partial`. */
export const FULFILLMENT_KINDS = ['complete', 'partial'] as const;
export type FulfillmentKind = (typeof FULFILLMENT_KINDS)[number];
export const PAYMENT_KINDS = ['complete', 'partial'] as const;
export type PaymentKind = (typeof PAYMENT_KINDS)[number];

/** Status reasons (SPEC: canceling needs one; a description is optional). */
export const ORDER_CANCEL_REASONS = ['customer_request', 'out_of_stock', 'pricing_error', 'duplicate', 'other'] as const;
export type OrderCancelReason = (typeof ORDER_CANCEL_REASONS)[number];
export const INVOICE_CANCEL_REASONS = ['billing_error', 'customer_dispute', 'duplicate', 'order_changed', 'other'] as const;
export type InvoiceCancelReason = (typeof INVOICE_CANCEL_REASONS)[number];

/** Net 30 unless configured (PAYMENT_TERMS_DAYS) or given on the invoice. */
export const DEFAULT_PAYMENT_TERMS_DAYS = 30;

/** An order continues as new past this many history events (or sooner when the server suggests it). */
export const ORDER_HISTORY_EVENT_LIMIT = 2_000;

/** Where the order is in its process: what it waits for, or how it ended. */
export const ORDER_PHASES = ['awaiting_fulfillment', 'awaiting_invoice', 'awaiting_payment', 'completed', 'canceled'] as const;
export type OrderPhase = (typeof ORDER_PHASES)[number];

export interface InvoiceFacts {
  id: string;
  invoiceNumber: string;
  status: InvoiceStatus;
  totalCents: number;
  paidCents: number;
  /** YYYY-MM-DD. */
  issuedOn: string;
  /** YYYY-MM-DD: payment is overdue from the next day (UTC). */
  dueOn: string;
  /** The owner's overdue task, once the due date has passed unpaid. */
  overdueActivityId: string | null;
}

/**
 * What the order rules are judged on. Postgres holds the records; the workflow holds this copy,
 * refreshed by every change it applies (all of them go through it), so its validators answer at once.
 */
export interface OrderFacts {
  orderNumber: string;
  name: string;
  dealId: string;
  ownerId: string;
  totalCents: number;
  status: OrderStatus;
  fulfillmentCount: number;
  /** Every invoice of the order, oldest first; at most one is not canceled. */
  invoices: InvoiceFacts[];
}

export type OrderAction = 'fulfill' | 'cancel' | 'invoice' | 'pay' | 'cancel_invoice';

export interface BlockedOrderAction {
  action: OrderAction;
  code: OrderRejectionCode;
  message: string;
}

export interface OrderState {
  orderId: string;
  facts: OrderFacts;
  phase: OrderPhase;
  /** The invoice that is not canceled, if any. */
  liveInvoiceId: string | null;
  /** Unpaid past its due date: the owner has an overdue task. */
  paymentOverdue: boolean;
  allowedActions: OrderAction[];
  blockedActions: BlockedOrderAction[];
  /** Counts the changes applied, across runs: the key of each change's idempotent write. */
  changeSeq: number;
  /** Invoices whose overdue task failed permanently, with the failure code: not tried again. */
  overdueTaskFailures?: Record<string, string>;
  startedAt: string;
  endedAt: string | null;
  historyEventLimit: number;
  /** How many times this order has continued as new. */
  runs: number;
}

/** A new order: its facts when the quote was won. Continue-as-new passes `carried` instead. */
export interface OrderWorkflowInput {
  orderId: string;
  facts: OrderFacts;
  historyEventLimit?: number;
  carried?: OrderState;
}

/** Every message names the person acting and the API request, for attribution and audit. */
interface Attributed {
  by: string;
  requestId?: string | null;
}

export interface FulfillOrderInput extends Attributed {
  kind: FulfillmentKind;
  /** YYYY-MM-DD. */
  fulfilledOn: string;
  note?: string | null;
}

export interface CancelOrderInput extends Attributed {
  reason: OrderCancelReason | null;
  description?: string | null;
}

export interface CreateInvoiceInput extends Attributed {
  name?: string | null;
  description?: string | null;
  /** Days from the issue date (the workflow's today) to the due date. */
  paymentTermsDays: number;
}

export interface RecordPaymentInput extends Attributed {
  invoiceId: string;
  kind: PaymentKind;
  /** YYYY-MM-DD. */
  paidOn: string;
  amountCents: number;
}

export interface CancelInvoiceInput extends Attributed {
  invoiceId: string;
  reason: InvoiceCancelReason | null;
  description?: string | null;
}

/** What an update returns: the new state, and the id of what it created (an invoice), if anything. */
export interface OrderUpdateResult {
  state: OrderState;
  createdId: string | null;
}

/** Codes the validators and activities reject with; the API answers 409 (422 where marked) with them. */
export const ORDER_REJECTIONS = {
  orderCanceled: 'order_canceled',
  orderAlreadyFulfilled: 'order_already_fulfilled',
  orderFulfilled: 'order_fulfilled',
  orderInvoiced: 'order_invoiced',
  orderNotFulfilled: 'order_not_fulfilled',
  orderAlreadyInvoiced: 'order_already_invoiced',
  nothingToInvoice: 'nothing_to_invoice',
  invoiceNotOnOrder: 'invoice_not_on_order',
  noInvoice: 'no_invoice',
  invoiceCanceled: 'invoice_canceled',
  invoicePaid: 'invoice_paid',
  invoicePartiallyPaid: 'invoice_partially_paid',
  /** 422: the amount does not match the payment kind (complete = the balance, partial = less). */
  paymentAmountMismatch: 'payment_amount_mismatch',
  /** 422: canceling needs a status reason. */
  reasonRequired: 'reason_required',
  outOfStep: 'order_out_of_step',
} as const;
export type OrderRejectionCode = (typeof ORDER_REJECTIONS)[keyof typeof ORDER_REJECTIONS];

/** Rejections that are about the request's content rather than the record's state. */
export const UNPROCESSABLE_ORDER_REJECTIONS: readonly OrderRejectionCode[] = [ORDER_REJECTIONS.paymentAmountMismatch, ORDER_REJECTIONS.reasonRequired];

export const getOrderStateQuery = defineQuery<OrderState>('getOrderState');
export const fulfillOrderUpdate = defineUpdate<OrderUpdateResult, [FulfillOrderInput]>('fulfillOrder');
export const cancelOrderUpdate = defineUpdate<OrderUpdateResult, [CancelOrderInput]>('cancelOrder');
export const createInvoiceUpdate = defineUpdate<OrderUpdateResult, [CreateInvoiceInput]>('createInvoice');
export const recordPaymentUpdate = defineUpdate<OrderUpdateResult, [RecordPaymentInput]>('recordPayment');
export const cancelInvoiceUpdate = defineUpdate<OrderUpdateResult, [CancelInvoiceInput]>('cancelInvoice');

// ---------------------------------------------------------------------------------------------
// Activity inputs and results.

export type OrderChange =
  | { kind: 'fulfill'; fulfillment: FulfillmentKind; fulfilledOn: string; note: string | null }
  | { kind: 'cancel_order'; reason: OrderCancelReason; description: string | null }
  | { kind: 'create_invoice'; name: string | null; description: string | null; issuedOn: string; dueOn: string; paymentTermsDays: number }
  | { kind: 'record_payment'; invoiceId: string; payment: PaymentKind; paidOn: string; amountCents: number }
  | { kind: 'cancel_invoice'; invoiceId: string; reason: InvoiceCancelReason; description: string | null };

export interface ApplyOrderChangeInput {
  orderId: string;
  /** `<workflowId>/change-<n>`: the key of the idempotent write. */
  key: string;
  change: OrderChange;
  by: string;
  requestId?: string | null;
}

/** What a change activity hands back: the fresh facts and what it created. */
export interface OrderChangeResult {
  facts: OrderFacts;
  createdId: string | null;
}

/**
 * What Postgres holds, carried as the second detail of a refused change (the first is the problem
 * the API shows): the workflow takes these facts, so a copy that drifted is corrected by the refusal.
 */
export interface RecordedOrder {
  facts: OrderFacts;
  /** The highest change number in the ledger under this workflow id: the next change goes past it. */
  changeSeq: number;
}

export interface OverdueTaskInput {
  orderId: string;
  invoiceId: string;
}

export interface OverdueTaskResult {
  /** Null when the invoice was settled (paid or canceled) before the task was written. */
  activityId: string | null;
  facts: OrderFacts;
}
