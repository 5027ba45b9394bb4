/**
 * An order's way to cash as pure rules (SPEC "Quotes, orders, invoices"): statuses, the facts the
 * rules judge, and why a fulfilment, a cancel, an invoice or a payment is refused. The order
 * workflow's validators use them to answer at once; its activities judge the same functions on
 * Postgres's own rows; the API uses them for an order whose process has ended. Deterministic: no
 * I/O, no clock (dates come in as arguments).
 */
import { dollars } from './money';
import type { Refusal } from './rejection';

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

/** Codes the validators and activities reject with; each a refusal of the order's state, but where marked. */
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

/** Refusals about the request's content rather than the record's state. */
const CONTENT_REJECTIONS: readonly OrderRejectionCode[] = [ORDER_REJECTIONS.paymentAmountMismatch, ORDER_REJECTIONS.reasonRequired];

/** Why a change of an order or its invoice is refused; `details` tell the state behind it (`orderStatus`, `invoiceStatus`, …). */
export type OrderRefusal = Refusal<OrderRejectionCode> & { kind: 'state' | 'content'; details: Record<string, unknown> };

const DAY_MS = 24 * 60 * 60 * 1000;

function reject(code: OrderRejectionCode, message: string, details: Record<string, unknown> = {}): OrderRefusal {
  return { code, kind: CONTENT_REJECTIONS.includes(code) ? 'content' : 'state', message, details };
}

/** The invoice that is not canceled (at most one per order), if any. */
export function liveInvoice(facts: OrderFacts): InvoiceFacts | null {
  return facts.invoices.find((i) => i.status !== 'canceled') ?? null;
}

/** The live invoice while money is still owed on it. */
export function unpaidInvoice(facts: OrderFacts): InvoiceFacts | null {
  const invoice = liveInvoice(facts);
  return invoice && (invoice.status === 'open' || invoice.status === 'partially_paid') ? invoice : null;
}

export const balanceCents = (invoice: InvoiceFacts): number => invoice.totalCents - invoice.paidCents;

/** The order's process is over: canceled, or fulfilled completely and paid in full. */
export function isSettled(facts: OrderFacts): boolean {
  return facts.status === 'canceled' || (facts.status === 'fulfilled' && liveInvoice(facts)?.status === 'paid');
}

export function orderPhase(facts: OrderFacts): OrderPhase {
  if (facts.status === 'canceled') return 'canceled';
  const invoice = liveInvoice(facts);
  if (invoice && invoice.status !== 'paid') return 'awaiting_payment';
  if (invoice) return facts.status === 'fulfilled' ? 'completed' : 'awaiting_fulfillment';
  return facts.status === 'open' ? 'awaiting_fulfillment' : 'awaiting_invoice';
}

/** `YYYY-MM-DD` plus `days`. */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The UTC calendar date of an instant. */
export const utcDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Payment is due by the end of the due date (UTC): from the next midnight on it is overdue. */
export function paymentDeadlineMs(dueOn: string): number {
  return Date.parse(`${dueOn}T00:00:00Z`) + DAY_MS;
}

export function isOverdue(invoice: InvoiceFacts, nowMs: number): boolean {
  return (invoice.status === 'open' || invoice.status === 'partially_paid') && nowMs >= paymentDeadlineMs(invoice.dueOn);
}

// --- the rules ---------------------------------------------------------------------------------

export function fulfillRejection(facts: OrderFacts, _kind: FulfillmentKind): OrderRefusal | null {
  if (facts.status === 'canceled') return reject(ORDER_REJECTIONS.orderCanceled, `order ${facts.orderNumber} is canceled and cannot be fulfilled`, { orderStatus: facts.status });
  if (facts.status === 'fulfilled') return reject(ORDER_REJECTIONS.orderAlreadyFulfilled, `order ${facts.orderNumber} is already fulfilled completely`, { orderStatus: facts.status });
  return null;
}

export function cancelOrderRejection(facts: OrderFacts, reason: string | null | undefined): OrderRefusal | null {
  if (!reason) return reject(ORDER_REJECTIONS.reasonRequired, 'canceling an order needs a status reason', { field: 'reason' });
  if (facts.status === 'canceled') return reject(ORDER_REJECTIONS.orderCanceled, `order ${facts.orderNumber} is already canceled`, { orderStatus: facts.status });
  if (facts.status === 'fulfilled') return reject(ORDER_REJECTIONS.orderFulfilled, `order ${facts.orderNumber} is fulfilled: it can no longer be canceled`, { orderStatus: facts.status });
  const invoice = liveInvoice(facts);
  if (invoice) {
    const hint = invoice.status === 'open' ? 'cancel the invoice first' : 'money has been received: fulfill the rest instead';
    return reject(ORDER_REJECTIONS.orderInvoiced, `order ${facts.orderNumber} has invoice ${invoice.invoiceNumber} (${invoice.status}); ${hint}`, { orderStatus: facts.status, invoiceStatus: invoice.status, invoiceId: invoice.id });
  }
  return null;
}

export function invoiceRejection(facts: OrderFacts): OrderRefusal | null {
  if (facts.status === 'canceled') return reject(ORDER_REJECTIONS.orderCanceled, `order ${facts.orderNumber} is canceled and cannot be invoiced`, { orderStatus: facts.status });
  if (facts.status === 'open') return reject(ORDER_REJECTIONS.orderNotFulfilled, `order ${facts.orderNumber} is not fulfilled yet: record a (partial) fulfillment first`, { orderStatus: facts.status });
  const invoice = liveInvoice(facts);
  if (invoice) {
    const hint = invoice.status === 'open' ? '; cancel it to issue another' : '';
    return reject(ORDER_REJECTIONS.orderAlreadyInvoiced, `order ${facts.orderNumber} already has invoice ${invoice.invoiceNumber} (${invoice.status})${hint}`, { orderStatus: facts.status, invoiceStatus: invoice.status, invoiceId: invoice.id });
  }
  if (facts.totalCents === 0) return reject(ORDER_REJECTIONS.nothingToInvoice, `order ${facts.orderNumber} totals ${dollars(0)}: there is nothing to invoice`, { orderStatus: facts.status });
  return null;
}

function invoiceOf(facts: OrderFacts, invoiceId: string): InvoiceFacts | OrderRefusal {
  const invoice = facts.invoices.find((i) => i.id === invoiceId);
  return invoice ?? reject(ORDER_REJECTIONS.invoiceNotOnOrder, `invoice ${invoiceId} does not belong to order ${facts.orderNumber}`);
}

const isRejection = (value: InvoiceFacts | OrderRefusal): value is OrderRefusal => 'code' in value;

export function paymentRejection(facts: OrderFacts, invoiceId: string, kind: PaymentKind, amountCents: number): OrderRefusal | null {
  const invoice = invoiceOf(facts, invoiceId);
  if (isRejection(invoice)) return invoice;
  if (invoice.status === 'canceled') return reject(ORDER_REJECTIONS.invoiceCanceled, `invoice ${invoice.invoiceNumber} is canceled and cannot be paid`, { invoiceStatus: invoice.status });
  if (invoice.status === 'paid') return reject(ORDER_REJECTIONS.invoicePaid, `invoice ${invoice.invoiceNumber} is already paid in full`, { invoiceStatus: invoice.status });
  const balance = balanceCents(invoice);
  const details = { field: 'amountCents', invoiceStatus: invoice.status, balanceCents: balance };
  if (kind === 'complete' && amountCents !== balance) {
    return reject(ORDER_REJECTIONS.paymentAmountMismatch, `a complete payment of invoice ${invoice.invoiceNumber} is its balance, ${dollars(balance)}; ${dollars(amountCents)} is a partial payment or too much`, details);
  }
  if (kind === 'partial' && amountCents >= balance) {
    return reject(ORDER_REJECTIONS.paymentAmountMismatch, `a partial payment of invoice ${invoice.invoiceNumber} is less than its balance, ${dollars(balance)}; pay ${dollars(balance)} as complete`, details);
  }
  return null;
}

export function cancelInvoiceRejection(facts: OrderFacts, invoiceId: string, reason: string | null | undefined): OrderRefusal | null {
  if (!reason) return reject(ORDER_REJECTIONS.reasonRequired, 'canceling an invoice needs a status reason', { field: 'reason' });
  const invoice = invoiceOf(facts, invoiceId);
  if (isRejection(invoice)) return invoice;
  if (invoice.status === 'canceled') return reject(ORDER_REJECTIONS.invoiceCanceled, `invoice ${invoice.invoiceNumber} is already canceled`, { invoiceStatus: invoice.status });
  if (invoice.status === 'paid') return reject(ORDER_REJECTIONS.invoicePaid, `invoice ${invoice.invoiceNumber} is paid and cannot be canceled`, { invoiceStatus: invoice.status });
  if (invoice.status === 'partially_paid') {
    return reject(ORDER_REJECTIONS.invoicePartiallyPaid, `invoice ${invoice.invoiceNumber} has payments recorded (${dollars(invoice.paidCents)}) and cannot be canceled`, { invoiceStatus: invoice.status });
  }
  return null;
}

/** What may be done to the order now, and what is refused and why (for the API's reads). */
export function orderActionsNow(facts: OrderFacts): { allowed: OrderAction[]; blocked: BlockedOrderAction[] } {
  const invoice = liveInvoice(facts);
  const checks: Array<[OrderAction, OrderRefusal | null]> = [
    ['fulfill', fulfillRejection(facts, 'complete')],
    ['cancel', cancelOrderRejection(facts, 'other')],
    ['invoice', invoiceRejection(facts)],
    ['pay', invoice ? paymentRejection(facts, invoice.id, 'complete', balanceCents(invoice)) : reject(ORDER_REJECTIONS.noInvoice, 'the order has no invoice to pay')],
    ['cancel_invoice', invoice ? cancelInvoiceRejection(facts, invoice.id, 'other') : reject(ORDER_REJECTIONS.noInvoice, 'the order has no invoice to cancel')],
  ];
  const allowed: OrderAction[] = [];
  const blocked: BlockedOrderAction[] = [];
  for (const [action, rejection] of checks) {
    if (rejection) blocked.push({ action, code: rejection.code, message: rejection.message });
    else allowed.push(action);
  }
  return { allowed, blocked };
}
