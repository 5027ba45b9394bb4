/**
 * Invoices (SPEC "Quotes, orders, invoices"): read, list, pay (`complete` = the balance, `partial` =
 * less; every payment recorded) and cancel (with a status reason). Payments and cancels go to the
 * order's workflow, which waits for the money; refusals are 409 (`invoice_canceled`,
 * `invoice_paid`, …) or 422 (`payment_amount_mismatch`, `reason_required`), writing nothing.
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { InvoiceStore, type Invoice } from '../../db/stores/invoices';
import { OrderStore } from '../../db/stores/orders';
import type { User } from '../../db/stores/users';
import { INVOICE_CANCEL_REASONS, INVOICE_STATUSES, PAYMENT_KINDS, cancelInvoiceUpdate, recordPaymentUpdate, type OrderUpdateResult } from '../../workflows/orderToCash.contract';
import { cancelInvoiceRejection, paymentRejection } from '../../domain/order';
import { WORKERS, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import { assertNotFuture, cancelReason, cents, csv, idParams, isoDate, optionalText, pageOf, paging } from '../schemas';
import { orderProcess } from '../processes/orders';
import { invoiceDetailSchema, invoiceSchema, orderProcessOf, orderProcessSchema, orderViews } from '../views/orders';

const payBody = z.strictObject({
  status: z.enum(PAYMENT_KINDS).describe('`complete`: the amount is the balance and the invoice is paid; `partial`: less, the rest is awaited'),
  paidOn: isoDate(),
  amountCents: cents().min(1),
});

const cancelBody = z.strictObject({
  reason: cancelReason(INVOICE_CANCEL_REASONS),
  description: optionalText(2000),
});

const listQuery = z.object({
  status: csv(INVOICE_STATUSES).optional().describe('Comma-separated statuses'),
  overdue: z.enum(['true', 'false']).optional().describe('`true`: unpaid past the due date'),
  orderId: z.uuid().optional(),
  ownerId: z.uuid().optional(),
  accountId: z.uuid().optional(),
  contactId: z.uuid().optional(),
  ...paging,
});

export const invoiceChangedSchema = invoiceDetailSchema.extend({ process: orderProcessSchema });

export interface InvoiceRoutesDeps {
  db: Db;
  temporal: Client;
  log: Logger;
}

export function invoiceRoutes(deps: InvoiceRoutesDeps): RouteSpec[] {
  const { db } = deps;
  const orders = new OrderStore(db);
  const invoices = new InvoiceStore(db);
  const views = orderViews(db);
  const orderFlow = orderProcess(deps);
  const params = idParams('invoice');

  /** The invoice, if the caller may work it: its order's owner, a manager or an admin. */
  async function workable(user: User, id: string): Promise<Invoice> {
    const invoice = await invoices.require(id);
    const order = await orders.require(invoice.orderId);
    assertOwnerOrSupervisor(user, order.ownerId, 'order');
    return invoice;
  }

  /** The answer to a change the order's process made to an invoice: the invoice as it is now. */
  function answer(invoiceId: string) {
    return async (result: OrderUpdateResult) => ({ status: 200, body: { ...(await views.invoiceDetail(invoiceId)), process: orderProcessOf(result.state) } });
  }

  return [
    route({
      method: 'get', path: '/invoices', tag: 'Invoices', summary: 'List invoices (newest first); `overdue=true` for the unpaid ones past due', query: listQuery,
      responses: { 200: { description: 'A page of invoices', schema: pageOf(invoiceSchema) } },
      async handler({ query }) {
        const { limit, offset, overdue, ...filter } = query;
        // Overdue from the day after the due date (UTC): due before today.
        const today = new Date().toISOString().slice(0, 10);
        const { items, total } = await invoices.list({ ...filter, ...(overdue ? { overdue: { value: overdue === 'true', asOf: today } } : {}) }, { limit, offset });
        const now = Date.now();
        return { status: 200, body: { data: items.map((i) => views.showInvoice(i, now)), page: { limit, offset, total } } };
      },
    }),
    route({
      method: 'get', path: '/invoices/:id', tag: 'Invoices', summary: 'An invoice with its lines and payments', params,
      responses: { 200: { description: 'The invoice', schema: invoiceDetailSchema }, 404: { description: 'No such invoice' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await views.invoiceDetail(id) };
      },
    }),
    route({
      method: 'post', path: '/invoices/:id/pay', tag: 'Invoices', summary: 'Record a payment: complete (the balance) or partial (less)',
      description: 'A partial payment keeps the order’s workflow waiting for the rest (and, after the due date, the overdue task stays open); the complete one pays the invoice and completes the overdue task, if any.',
      roles: WORKERS, params, body: payBody, idempotent: true,
      responses: {
        200: { description: 'The invoice', schema: invoiceChangedSchema }, 404: { description: 'No such invoice' },
        409: { description: '`invoice_canceled`, `invoice_paid`' }, 422: { description: '`payment_amount_mismatch` (with `balanceCents`)' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const invoice = await workable(user, id);
        assertNotFuture('paidOn', body.paidOn);
        return orderFlow.update(
          invoice.orderId, recordPaymentUpdate,
          { invoiceId: id, kind: body.status, paidOn: body.paidOn, amountCents: body.amountCents, by: user.id, requestId },
          operation.operationKey,
          { rule: (facts) => paymentRejection(facts, id, body.status, body.amountCents), answer: answer(id), resource: `/invoices/${id}` },
        );
      },
    }),
    route({
      method: 'post', path: '/invoices/:id/cancel', tag: 'Invoices', summary: 'Cancel an unpaid invoice (its number is never reused)',
      roles: WORKERS, params, body: cancelBody, idempotent: true,
      responses: {
        200: { description: 'The canceled invoice', schema: invoiceChangedSchema }, 404: { description: 'No such invoice' },
        409: { description: '`invoice_canceled`, `invoice_paid`, `invoice_partially_paid`' }, 422: { description: '`reason_required`' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const invoice = await workable(user, id);
        return orderFlow.update(
          invoice.orderId, cancelInvoiceUpdate,
          { invoiceId: id, reason: body.reason!, description: body.description ?? null, by: user.id, requestId },
          operation.operationKey,
          { rule: (facts) => cancelInvoiceRejection(facts, id, body.reason), answer: answer(id), resource: `/invoices/${id}` },
        );
      },
    }),
  ];
}
