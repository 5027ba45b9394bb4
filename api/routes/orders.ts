/**
 * Orders (SPEC "Quotes, orders, invoices"): winning a quote creates one (through the deal's
 * workflow, which keeps the deal's rules: in Close, the Tech Check rule satisfied) and starts its
 * workflow `order-<orderId>`; the order is then fulfilled or canceled, and invoiced, through that
 * workflow's Updates. Reads come from Postgres. Refusals are 409 (422 for a missing reason) with the
 * rule's code and the state behind it; a refused request writes nothing.
 */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { DealConfig, OrderConfig } from '../../config';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { DealStore } from '../../db/stores/deals';
import { InvoiceStore } from '../../db/stores/invoices';
import { OrderStore, type Order } from '../../db/stores/orders';
import { QuoteStore } from '../../db/stores/quotes';
import type { User } from '../../db/stores/users';
import { winQuoteUpdate } from '../../workflows/dealLifecycle.contract';
import {
  DEFAULT_PAYMENT_TERMS_DAYS,
  FULFILLMENT_KINDS,
  ORDER_CANCEL_REASONS,
  ORDER_STATUSES,
  cancelOrderUpdate,
  createInvoiceUpdate,
  fulfillOrderUpdate,
  orderWorkflowId,
  type OrderUpdateResult,
} from '../../workflows/orderToCash.contract';
import { cancelOrderRejection, fulfillRejection, invoiceRejection } from '../../domain/order';
import { WORKERS, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import { assertNotFuture, cancelReason, cents, csv, idParams, isoDate, optionalText, pageOf, paging } from '../schemas';
import { dealProcess } from '../processes/deals';
import { processSchema, processOf } from '../views/deals';
import { orderProcess } from '../processes/orders';
import { invoiceDetailSchema, invoiceSchema, orderDetailSchema, orderProcessOf, orderProcessSchema, orderSchema, orderViews } from '../views/orders';

const winBody = z
  .strictObject({
    closeDeal: z.boolean().optional().describe('Also close the deal as won'),
    actualRevenueCents: cents().optional().describe('With closeDeal: the deal’s actual revenue; defaults to the quote’s total'),
  })
  .superRefine((v, ctx) => {
    if (v.actualRevenueCents !== undefined && !v.closeDeal) ctx.addIssue({ code: 'custom', path: ['actualRevenueCents'], message: 'actual revenue is recorded when the deal is closed (closeDeal: true)', params: { code: 'not_allowed' } });
  });

const fulfillBody = z.strictObject({
  status: z.enum(FULFILLMENT_KINDS).describe('`partial` keeps the order open for the rest; `complete` fulfills it'),
  fulfilledOn: isoDate(),
  note: optionalText(2000),
});

const cancelBody = z.strictObject({
  reason: cancelReason(ORDER_CANCEL_REASONS),
  description: optionalText(2000),
});

const invoiceBody = z.strictObject({
  name: optionalText(200).describe('Defaults to the order’s name'),
  description: optionalText(5000),
  paymentTermsDays: z.number().int().min(0).max(365).optional().describe('Days until due; defaults to the configured terms (net 30)'),
});

const listQuery = z.object({
  status: csv(ORDER_STATUSES).optional().describe('Comma-separated statuses'),
  ownerId: z.uuid().optional(),
  dealId: z.uuid().optional(),
  accountId: z.uuid().optional(),
  contactId: z.uuid().optional(),
  ...paging,
});

export const orderChangedSchema = orderDetailSchema.extend({ process: orderProcessSchema });

export interface OrderRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  deals?: DealConfig;
  orders?: OrderConfig;
}

export function orderRoutes(deps: OrderRoutesDeps): RouteSpec[] {
  const { db } = deps;
  const deals = new DealStore(db);
  const quotes = new QuoteStore(db);
  const orders = new OrderStore(db);
  const invoices = new InvoiceStore(db);
  const views = orderViews(db);
  const dealFlow = dealProcess(deps);
  const orderFlow = orderProcess(deps);
  const params = idParams('order');
  const paymentTermsDays = deps.orders?.paymentTermsDays ?? DEFAULT_PAYMENT_TERMS_DAYS;

  /** The order, if the caller may work it: its owner, a manager or an admin. */
  async function workable(user: User, id: string): Promise<Order> {
    const order = await orders.require(id);
    assertOwnerOrSupervisor(user, order.ownerId, 'order');
    return order;
  }

  /** The answer to a change the order's process made: the order as it is now. */
  function answer(orderId: string) {
    return async (result: OrderUpdateResult) => ({ status: 200, body: { ...(await views.orderDetail(orderId)), process: orderProcessOf(result.state) } });
  }

  return [
    route({
      method: 'post', path: '/quotes/:id/win', tag: 'Orders', summary: 'Win the active quote: close it as won, create the order, start its process',
      description: 'Needs the deal in Close (`close_stage_required`), the quote active (`quote_not_active`, `quote_won`) and, above $20,000.00, a passed Tech Check of this revision (`tech_check_required`). The order copies the quote’s lines and prices; its workflow `order-<orderId>` starts. With `closeDeal` the deal is won too (actual revenue: `actualRevenueCents`, else the quote’s total).',
      roles: WORKERS, params: idParams('quote'), body: winBody.optional(), idempotent: true,
      responses: {
        201: { description: 'The new order', schema: orderDetailSchema.extend({ deal: processSchema }) },
        404: { description: 'No such quote' },
        409: { description: '`deal_closed`, `quote_not_active`, `quote_won`, `close_stage_required`, `tech_check_required`' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        const quote = await quotes.require(id);
        const deal = await deals.require(quote.dealId);
        assertOwnerOrSupervisor(user, deal.ownerId, 'deal');
        return dealFlow.update(
          deal.id, winQuoteUpdate,
          { quoteId: id, closeDeal: body?.closeDeal ?? false, actualRevenueCents: body?.actualRevenueCents ?? null, by: user.id, requestId },
          operation.operationKey,
          async (result) => {
            const orderId = result.createdId!;
            return { status: 201, body: { ...(await views.orderDetail(orderId)), deal: processOf(result.state) }, headers: { Location: `/orders/${orderId}` } };
          },
        );
      },
    }),
    route({
      method: 'get', path: '/orders', tag: 'Orders', summary: 'List orders (newest first)', query: listQuery,
      responses: { 200: { description: 'A page of orders', schema: pageOf(orderSchema) } },
      async handler({ query }) {
        const { limit, offset, ...filter } = query;
        const { items, total } = await orders.list(filter, { limit, offset });
        return { status: 200, body: { data: items.map((o) => ({ ...o, workflowId: orderWorkflowId(o.id) })), page: { limit, offset, total } } };
      },
    }),
    route({
      method: 'get', path: '/orders/:id', tag: 'Orders', summary: 'An order: lines, fulfillments, invoices, and what may be done now', params,
      responses: { 200: { description: 'The order', schema: orderDetailSchema }, 404: { description: 'No such order' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await views.orderDetail(id) };
      },
    }),
    route({
      method: 'post', path: '/orders/:id/fulfill', tag: 'Orders', summary: 'Record a fulfillment: complete, or partial (more to come)',
      roles: WORKERS, params, body: fulfillBody, idempotent: true,
      responses: { 200: { description: 'The order', schema: orderChangedSchema }, 404: { description: 'No such order' }, 409: { description: '`order_canceled`, `order_already_fulfilled`' } },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await workable(user, id);
        assertNotFuture('fulfilledOn', body.fulfilledOn);
        return orderFlow.update(
          id, fulfillOrderUpdate, { kind: body.status, fulfilledOn: body.fulfilledOn, note: body.note ?? null, by: user.id, requestId },
          operation.operationKey, { rule: (facts) => fulfillRejection(facts, body.status), answer: answer(id) },
        );
      },
    }),
    route({
      method: 'post', path: '/orders/:id/cancel', tag: 'Orders', summary: 'Cancel an order that is not fulfilled completely and has no invoice',
      roles: WORKERS, params, body: cancelBody, idempotent: true,
      responses: {
        200: { description: 'The canceled order', schema: orderChangedSchema }, 404: { description: 'No such order' },
        409: { description: '`order_canceled`, `order_fulfilled`, `order_invoiced` (cancel the invoice first)' }, 422: { description: '`reason_required`' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await workable(user, id);
        return orderFlow.update(
          id, cancelOrderUpdate, { reason: body.reason!, description: body.description ?? null, by: user.id, requestId },
          operation.operationKey, { rule: (facts) => cancelOrderRejection(facts, body.reason), answer: answer(id) },
        );
      },
    }),
    route({
      method: 'post', path: '/orders/:id/invoices', tag: 'Invoices', summary: 'Invoice a (partly) fulfilled order: prefilled from it, numbered from a sequence',
      description: 'The invoice copies the order’s customer, owner, lines and total; its number comes from a database sequence (unique, never reused). It is due after the payment terms (net 30 by default); the order’s workflow then waits for the payment and, once the due date has passed unpaid, puts an overdue task on the owner’s timeline. An order has at most one invoice that is not canceled.',
      roles: WORKERS, params, body: invoiceBody.optional(), idempotent: true,
      responses: {
        201: { description: 'The invoice', schema: invoiceDetailSchema.extend({ process: orderProcessSchema }) }, 404: { description: 'No such order' },
        409: { description: '`order_not_fulfilled`, `order_canceled`, `order_already_invoiced`, `nothing_to_invoice`' },
      },
      async handler({ operation, user, params: { id }, body, requestId }) {
        await workable(user, id);
        return orderFlow.update(
          id, createInvoiceUpdate,
          { name: body?.name ?? null, description: body?.description ?? null, paymentTermsDays: body?.paymentTermsDays ?? paymentTermsDays, by: user.id, requestId },
          operation.operationKey,
          {
            rule: invoiceRejection,
            answer: async (result) => {
              const invoiceId = result.createdId!;
              return { status: 201, body: { ...(await views.invoiceDetail(invoiceId)), process: orderProcessOf(result.state) }, headers: { Location: `/invoices/${invoiceId}` } };
            },
          },
        );
      },
    }),
    route({
      method: 'get', path: '/orders/:id/invoices', tag: 'Invoices', summary: 'An order’s invoices, oldest first', params,
      responses: { 200: { description: 'The invoices', schema: z.object({ data: z.array(invoiceSchema) }) }, 404: { description: 'No such order' } },
      async handler({ params: { id } }) {
        await orders.require(id);
        const now = Date.now();
        return { status: 200, body: { data: (await invoices.forOrder(id)).map((i) => views.showInvoice(i, now)) } };
      },
    }),
  ];
}
