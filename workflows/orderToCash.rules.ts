/**
 * The order-to-cash rules of SPEC "Quotes, orders, invoices" as pure functions of an order's facts.
 * The workflow's validators use them to answer at once; the activities use the same functions inside
 * their transactions on Postgres's own rows; the API uses them for an order whose process has ended.
 * Deterministic: no I/O, no clock (dates come in as arguments).
 */
import {
  ORDER_REJECTIONS,
  UNPROCESSABLE_ORDER_REJECTIONS,
  type BlockedOrderAction,
  type FulfillmentKind,
  type InvoiceFacts,
  type OrderAction,
  type OrderFacts,
  type OrderPhase,
  type OrderRejectionCode,
  type PaymentKind,
} from './orderToCash.contract';
import { dollars } from './dealLifecycle.rules';

export interface OrderRejection {
  code: OrderRejectionCode;
  message: string;
  /** 409 for the record's state, 422 for the request's content. */
  status: 409 | 422;
  /** Problem members for the API: the state that caused the refusal (`orderStatus`, `invoiceStatus`, …). */
  details: Record<string, unknown>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function reject(code: OrderRejectionCode, message: string, details: Record<string, unknown> = {}): OrderRejection {
  return { code, message, status: UNPROCESSABLE_ORDER_REJECTIONS.includes(code) ? 422 : 409, details };
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

export function fulfillRejection(facts: OrderFacts, _kind: FulfillmentKind): OrderRejection | null {
  if (facts.status === 'canceled') return reject(ORDER_REJECTIONS.orderCanceled, `order ${facts.orderNumber} is canceled and cannot be fulfilled`, { orderStatus: facts.status });
  if (facts.status === 'fulfilled') return reject(ORDER_REJECTIONS.orderAlreadyFulfilled, `order ${facts.orderNumber} is already fulfilled completely`, { orderStatus: facts.status });
  return null;
}

export function cancelOrderRejection(facts: OrderFacts, reason: string | null | undefined): OrderRejection | null {
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

export function invoiceRejection(facts: OrderFacts): OrderRejection | null {
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

function invoiceOf(facts: OrderFacts, invoiceId: string): InvoiceFacts | OrderRejection {
  const invoice = facts.invoices.find((i) => i.id === invoiceId);
  return invoice ?? reject(ORDER_REJECTIONS.invoiceNotOnOrder, `invoice ${invoiceId} does not belong to order ${facts.orderNumber}`);
}

const isRejection = (value: InvoiceFacts | OrderRejection): value is OrderRejection => 'code' in value;

export function paymentRejection(facts: OrderFacts, invoiceId: string, kind: PaymentKind, amountCents: number): OrderRejection | null {
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

export function cancelInvoiceRejection(facts: OrderFacts, invoiceId: string, reason: string | null | undefined): OrderRejection | null {
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
  const checks: Array<[OrderAction, OrderRejection | null]> = [
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
