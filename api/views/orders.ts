/**
 * What the API shows of an order and an invoice: the response schemas (which also make the OpenAPI
 * document) and the reads that fill them. Everything is read from Postgres, which the order
 * workflow has brought in step before any update answered; the order rules add what may be done now.
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { fromRow } from '../../db/rows';
import { readTogether } from '../../db/snapshot';
import { InvoiceStore, toInvoice, type Invoice } from '../../db/stores/invoices';
import { OrderStore, orderFacts, toFulfillment, toOrder, type OrderLine } from '../../db/stores/orders';
import { NotFoundError } from '../../domain/rejection';
import {
  FULFILLMENT_KINDS,
  INVOICE_CANCEL_REASONS,
  INVOICE_STATUSES,
  ORDER_CANCEL_REASONS,
  ORDER_PHASES,
  ORDER_STATUSES,
  PAYMENT_KINDS,
  orderWorkflowId,
  type OrderState,
} from '../../workflows/orderToCash.contract';
import { balanceCents, isOverdue, liveInvoice, orderActionsNow, orderPhase } from '../../domain/order';
import { isoDate, isoDateTime } from '../schemas';
import { lineSchema } from './deals';

const ACTIONS = ['fulfill', 'cancel', 'invoice', 'pay', 'cancel_invoice'] as const;

export const invoiceSchema = z.object({
  id: z.uuid(),
  invoiceNumber: z.string().describe('From a database sequence: unique, never reused'),
  orderId: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  contactId: z.uuid(),
  accountId: z.uuid().nullable(),
  ownerId: z.uuid(),
  status: z.enum(INVOICE_STATUSES),
  totalCents: z.number().int(),
  paidCents: z.number().int(),
  balanceCents: z.number().int().describe('What is still owed (0 once paid or canceled)'),
  issuedOn: isoDate(),
  paymentTermsDays: z.number().int(),
  dueOn: isoDate().describe('YYYY-MM-DD; unpaid after this date it is overdue'),
  overdue: z.boolean().describe('Unpaid and past its due date'),
  overdueActivityId: z.uuid().nullable().describe('The owner’s overdue task, once written'),
  paidOn: isoDate().nullable(),
  cancelReason: z.enum(INVOICE_CANCEL_REASONS).nullable(),
  cancelDescription: z.string().nullable(),
  canceledAt: isoDateTime().nullable(),
  canceledBy: z.uuid().nullable(),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});

export const paymentSchema = z.object({
  seq: z.number().int(),
  kind: z.enum(PAYMENT_KINDS),
  paidOn: isoDate(),
  amountCents: z.number().int(),
  recordedBy: z.uuid(),
  createdAt: isoDateTime(),
});

export const invoiceDetailSchema = invoiceSchema.extend({
  orderNumber: z.string(),
  workflowId: z.string().describe('The order workflow that waits for the payment'),
  lines: z.array(lineSchema),
  payments: z.array(paymentSchema),
});

export const fulfillmentSchema = z.object({
  seq: z.number().int(),
  kind: z.enum(FULFILLMENT_KINDS),
  fulfilledOn: isoDate(),
  note: z.string().nullable(),
  recordedBy: z.uuid(),
  createdAt: isoDateTime(),
});

export const orderSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  orderNumber: z.string(),
  name: z.string(),
  dealId: z.uuid(),
  quoteId: z.uuid(),
  contactId: z.uuid(),
  accountId: z.uuid().nullable(),
  ownerId: z.uuid(),
  status: z.enum(ORDER_STATUSES),
  totalCents: z.number().int(),
  fulfilledOn: isoDate().nullable().describe('The date of the latest fulfillment'),
  cancelReason: z.enum(ORDER_CANCEL_REASONS).nullable(),
  cancelDescription: z.string().nullable(),
  canceledAt: isoDateTime().nullable(),
  canceledBy: z.uuid().nullable(),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});

export const orderDetailSchema = orderSchema.extend({
  phase: z.enum(ORDER_PHASES).describe('What the order waits for, or how it ended'),
  lines: z.array(lineSchema),
  fulfillments: z.array(fulfillmentSchema),
  invoices: z.array(invoiceSchema),
  balanceCents: z.number().int().describe('Owed on the current invoice'),
  paymentOverdue: z.boolean(),
  allowedActions: z.array(z.enum(ACTIONS)),
  blockedActions: z.array(z.object({ action: z.enum(ACTIONS), code: z.string(), message: z.string() })).describe('What the rules refuse now, and why'),
});

/** The order workflow's own answer to an update: the API's record agrees with it. */
export const orderProcessSchema = z.object({
  workflowId: z.string(),
  orderStatus: z.enum(ORDER_STATUSES),
  phase: z.enum(ORDER_PHASES),
  changeSeq: z.number().int(),
});

export const orderProcessOf = (state: OrderState) => ({ workflowId: orderWorkflowId(state.orderId), orderStatus: state.facts.status, phase: state.phase, changeSeq: state.changeSeq });

export type OrderDetail = z.infer<typeof orderDetailSchema>;

export function orderViews(db: Db) {
  const orders = new OrderStore(db);
  const invoices = new InvoiceStore(db);

  const showInvoice = (invoice: Invoice, now: number) => ({
    ...invoice,
    balanceCents: invoice.status === 'canceled' ? 0 : invoice.totalCents - invoice.paidCents,
    overdue: isOverdue(invoice, now),
  });

  async function orderDetail(id: string): Promise<OrderDetail> {
    // One snapshot, so the status, the facts and the invoices shown belong together; one round trip.
    const rows = await readTogether(db, {
      order: orders.query(id), lines: orders.linesQuery(id), fulfillments: orders.fulfillmentsQuery(id), invoices: invoices.forOrderQuery(id),
    });
    if (!rows.order.length) throw new NotFoundError('order', id);
    const order = toOrder(rows.order[0]);
    const lines = rows.lines.map((r) => fromRow<OrderLine>(r));
    const fulfillments = rows.fulfillments.map(toFulfillment);
    const invoiceList = rows.invoices.map(toInvoice);
    const facts = orderFacts(order, fulfillments.length, invoiceList);
    const now = Date.now();
    const live = liveInvoice(facts);
    const { allowed, blocked } = orderActionsNow(facts);
    return {
      ...order,
      workflowId: orderWorkflowId(order.id),
      phase: orderPhase(facts),
      lines,
      fulfillments,
      invoices: invoiceList.map((i) => showInvoice(i, now)),
      balanceCents: live ? balanceCents(live) : 0,
      paymentOverdue: live ? isOverdue(live, now) : false,
      allowedActions: allowed,
      blockedActions: blocked,
    };
  }

  async function invoiceDetail(id: string) {
    const invoice = await invoices.require(id);
    const [order, lines, payments] = await Promise.all([orders.require(invoice.orderId), invoices.lines(id), invoices.payments(id)]);
    return { ...showInvoice(invoice, Date.now()), orderNumber: order.orderNumber, workflowId: orderWorkflowId(order.id), lines, payments };
  }

  return { orderDetail, invoiceDetail, showInvoice };
}
