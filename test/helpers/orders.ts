/**
 * Orders for the tests: a deal driven to Close through the real API and its quote won, an order
 * fulfilled and invoiced, and what Postgres and the order workflow each say about it.
 */
import assert from 'node:assert/strict';
import { getOrderStateQuery, orderWorkflowId, type OrderState } from '../../workflows/orderToCash.contract';
import { dealAt } from './deals';
import { expectStatus, type TestStack } from './stack';
import type { InvoiceIssued, OrderWon } from './apiTypes';
import type { InvoiceRow } from './rows';

export interface WonOrder {
  dealId: string;
  quoteId: string;
  orderId: string;
  order: OrderWon;
}

/** Today's date (UTC), as the API takes dates. */
export const today = (): string => new Date().toISOString().slice(0, 10);

/** A deal worth `valueCents` in Close, its quote won through the API: the new order. */
export async function wonOrder(stack: TestStack, valueCents = 1_500_000, body: Record<string, unknown> = {}): Promise<WonOrder> {
  const { dealId, quoteId } = await dealAt(stack, 'close', valueCents);
  const won = await stack.as.rep.post<OrderWon>(`/quotes/${quoteId}/win`, body);
  expectStatus(won, 201);
  return { dealId, quoteId, orderId: won.body.id, order: won.body };
}

/** A won order, fulfilled completely and invoiced: the invoice. */
export async function invoicedOrder(stack: TestStack, valueCents = 1_500_000, invoiceBody: Record<string, unknown> = {}): Promise<WonOrder & { invoiceId: string; invoice: InvoiceIssued }> {
  const won = await wonOrder(stack, valueCents);
  expectStatus(await stack.as.rep.post(`/orders/${won.orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
  const invoice = await stack.as.rep.post<InvoiceIssued>(`/orders/${won.orderId}/invoices`, invoiceBody);
  expectStatus(invoice, 201);
  return { ...won, invoiceId: invoice.body.id, invoice: invoice.body };
}

export function orderState(stack: TestStack, orderId: string): Promise<OrderState> {
  return stack.env.client.workflow.getHandle(orderWorkflowId(orderId)).query(getOrderStateQuery);
}

/** What Postgres and the workflow each say the order's and its invoices' statuses are. */
export async function orderEverywhere(stack: TestStack, orderId: string): Promise<{ db: unknown; workflow: unknown }> {
  const row = await stack.db('orders').where({ id: orderId }).first('status');
  const invoices = await stack.db('invoices').where({ order_id: orderId }).orderBy('created_at').select('id', 'status', 'paid_cents');
  const state = await orderState(stack, orderId);
  assert.equal(state.orderId, orderId);
  return {
    db: [row.status, invoices.map((i: Pick<InvoiceRow, 'id' | 'status' | 'paid_cents'>) => [i.id, i.status, i.paid_cents])],
    workflow: [state.facts.status, state.facts.invoices.map((i) => [i.id, i.status, i.paidCents])],
  };
}
