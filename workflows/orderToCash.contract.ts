/**
 * The order-to-cash contract: everything the order workflow, its activities and the API must agree
 * on (ids, statuses, reasons, payment terms, messages, input and state types, rejection codes).
 * Imported by all three; nothing here does I/O. Message name strings never change once shipped.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
/** The order's rules and the facts they judge live in domain/order.ts; re-exported for the contract's users. */
export { ORDER_STATUSES, INVOICE_STATUSES, FULFILLMENT_KINDS, PAYMENT_KINDS, ORDER_CANCEL_REASONS, INVOICE_CANCEL_REASONS, ORDER_PHASES, ORDER_REJECTIONS } from '../domain/order';
export type { OrderStatus, InvoiceStatus, FulfillmentKind, PaymentKind, OrderCancelReason, InvoiceCancelReason, OrderPhase, InvoiceFacts, OrderFacts, OrderAction, BlockedOrderAction, OrderRejectionCode } from '../domain/order';
import type { FulfillmentKind, PaymentKind, OrderCancelReason, InvoiceCancelReason, OrderPhase, OrderFacts, OrderAction, BlockedOrderAction } from '../domain/order';

export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;


/** Net 30 unless configured (PAYMENT_TERMS_DAYS) or given on the invoice. */
export const DEFAULT_PAYMENT_TERMS_DAYS = 30;

/** An order continues as new past this many history events (or sooner when the server suggests it). */
export const ORDER_HISTORY_EVENT_LIMIT = 2_000;


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
