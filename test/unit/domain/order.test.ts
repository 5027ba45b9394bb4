/**
 * The order and invoice rules as tables: every transition from every order and invoice status,
 * the payment amounts at the balance's edge, the phases, and due dates. Pure functions.
 */
import assert from 'node:assert/strict';
import {
  addDays, cancelInvoiceRejection, cancelOrderRejection, fulfillRejection, invoiceRejection, isOverdue, isSettled, orderActionsNow, orderPhase,
  paymentDeadlineMs, paymentRejection, type InvoiceFacts, type InvoiceStatus, type OrderFacts, type OrderStatus,
} from '../../../domain/order';

function invoice(status: InvoiceStatus, paidCents = 0, over: Partial<InvoiceFacts> = {}): InvoiceFacts {
  return { id: 'i1', invoiceNumber: 'INV-1001', status, totalCents: 100_000, paidCents, issuedOn: '2026-11-01', dueOn: '2026-12-01', overdueActivityId: null, ...over };
}

function order(status: OrderStatus, invoices: InvoiceFacts[] = [], totalCents = 100_000): OrderFacts {
  return { orderNumber: 'ORD-1001', name: 'Doorbells', dealId: 'd1', ownerId: 'u1', totalCents, status, fulfillmentCount: status === 'open' ? 0 : 1, invoices };
}

const code = (refusal: { code: string } | null): string | null => refusal?.code ?? null;

describe('domain/order: fulfilling, canceling and invoicing an order', function () {
  const table: Array<[string, () => { code: string } | null, string | null]> = [
    ['fulfil an open order', () => fulfillRejection(order('open'), 'complete'), null],
    ['fulfil the rest of a partly fulfilled order', () => fulfillRejection(order('partially_fulfilled'), 'complete'), null],
    ['fulfil a fulfilled order', () => fulfillRejection(order('fulfilled'), 'partial'), 'order_already_fulfilled'],
    ['fulfil a canceled order', () => fulfillRejection(order('canceled'), 'complete'), 'order_canceled'],
    ['cancel an open order', () => cancelOrderRejection(order('open'), 'customer_request'), null],
    ['cancel without a reason', () => cancelOrderRejection(order('open'), null), 'reason_required'],
    ['cancel a canceled order', () => cancelOrderRejection(order('canceled'), 'other'), 'order_canceled'],
    ['cancel a fulfilled order', () => cancelOrderRejection(order('fulfilled'), 'other'), 'order_fulfilled'],
    ['cancel an order with an open invoice', () => cancelOrderRejection(order('partially_fulfilled', [invoice('open')]), 'other'), 'order_invoiced'],
    ['cancel an order whose invoice was canceled', () => cancelOrderRejection(order('partially_fulfilled', [invoice('canceled')]), 'other'), null],
    ['invoice an open order', () => invoiceRejection(order('open')), 'order_not_fulfilled'],
    ['invoice a partly fulfilled order', () => invoiceRejection(order('partially_fulfilled')), null],
    ['invoice a fulfilled order', () => invoiceRejection(order('fulfilled')), null],
    ['invoice a canceled order', () => invoiceRejection(order('canceled')), 'order_canceled'],
    ['invoice an order that has an open invoice', () => invoiceRejection(order('fulfilled', [invoice('open')])), 'order_already_invoiced'],
    ['invoice again after canceling the invoice', () => invoiceRejection(order('fulfilled', [invoice('canceled')])), null],
    ['invoice an order worth nothing', () => invoiceRejection(order('fulfilled', [], 0)), 'nothing_to_invoice'],
  ];
  for (const [name, judge, want] of table) {
    it(`${name}: ${want ?? 'allowed'}`, function () {
      assert.equal(code(judge()), want);
    });
  }

  it('refusals of the request\'s content are of kind content, the rest of kind state', function () {
    assert.equal(cancelOrderRejection(order('open'), '')?.kind, 'content');
    assert.equal(fulfillRejection(order('canceled'), 'complete')?.kind, 'state');
  });
});

describe('domain/order: paying and canceling an invoice', function () {
  const table: Array<[string, () => { code: string } | null, string | null]> = [
    ['pay the whole balance as complete', () => paymentRejection(order('fulfilled', [invoice('open')]), 'i1', 'complete', 100_000), null],
    ['pay one cent less as complete', () => paymentRejection(order('fulfilled', [invoice('open')]), 'i1', 'complete', 99_999), 'payment_amount_mismatch'],
    ['pay one cent less as partial', () => paymentRejection(order('fulfilled', [invoice('open')]), 'i1', 'partial', 99_999), null],
    ['pay the whole balance as partial', () => paymentRejection(order('fulfilled', [invoice('open')]), 'i1', 'partial', 100_000), 'payment_amount_mismatch'],
    ['pay the rest of a partly paid invoice', () => paymentRejection(order('fulfilled', [invoice('partially_paid', 40_000)]), 'i1', 'complete', 60_000), null],
    ['pay the total of a partly paid invoice', () => paymentRejection(order('fulfilled', [invoice('partially_paid', 40_000)]), 'i1', 'complete', 100_000), 'payment_amount_mismatch'],
    ['pay a paid invoice', () => paymentRejection(order('fulfilled', [invoice('paid', 100_000)]), 'i1', 'complete', 0), 'invoice_paid'],
    ['pay a canceled invoice', () => paymentRejection(order('fulfilled', [invoice('canceled')]), 'i1', 'complete', 100_000), 'invoice_canceled'],
    ['pay another order\'s invoice', () => paymentRejection(order('fulfilled', [invoice('open')]), 'i9', 'complete', 100_000), 'invoice_not_on_order'],
    ['cancel an open invoice', () => cancelInvoiceRejection(order('fulfilled', [invoice('open')]), 'i1', 'billing_error'), null],
    ['cancel without a reason', () => cancelInvoiceRejection(order('fulfilled', [invoice('open')]), 'i1', undefined), 'reason_required'],
    ['cancel a partly paid invoice', () => cancelInvoiceRejection(order('fulfilled', [invoice('partially_paid', 1)]), 'i1', 'other'), 'invoice_partially_paid'],
    ['cancel a paid invoice', () => cancelInvoiceRejection(order('fulfilled', [invoice('paid', 100_000)]), 'i1', 'other'), 'invoice_paid'],
    ['cancel a canceled invoice', () => cancelInvoiceRejection(order('fulfilled', [invoice('canceled')]), 'i1', 'other'), 'invoice_canceled'],
  ];
  for (const [name, judge, want] of table) {
    it(`${name}: ${want ?? 'allowed'}`, function () {
      assert.equal(code(judge()), want);
    });
  }

  it('a wrong amount names the field and the balance', function () {
    const refusal = paymentRejection(order('fulfilled', [invoice('partially_paid', 40_000)]), 'i1', 'complete', 1);
    assert.deepEqual([refusal?.kind, refusal?.details.field, refusal?.details.balanceCents], ['content', 'amountCents', 60_000]);
  });
});

describe('domain/order: phases, settlement and due dates', function () {
  const table: Array<[OrderFacts, string, boolean]> = [
    [order('open'), 'awaiting_fulfillment', false],
    [order('partially_fulfilled'), 'awaiting_invoice', false],
    [order('fulfilled'), 'awaiting_invoice', false],
    [order('fulfilled', [invoice('open')]), 'awaiting_payment', false],
    [order('partially_fulfilled', [invoice('paid', 100_000)]), 'awaiting_fulfillment', false],
    [order('fulfilled', [invoice('paid', 100_000)]), 'completed', true],
    [order('canceled'), 'canceled', true],
  ];
  for (const [facts, phase, settled] of table) {
    it(`${facts.status} with ${facts.invoices.map((i) => i.status).join(', ') || 'no invoice'}: ${phase}${settled ? ', settled' : ''}`, function () {
      assert.equal(orderPhase(facts), phase);
      assert.equal(isSettled(facts), settled);
    });
  }

  it('an invoice due on a day is overdue from the next midnight (UTC), and only while unpaid', function () {
    const due = invoice('open', 0, { dueOn: '2026-12-01' });
    assert.equal(paymentDeadlineMs('2026-12-01'), Date.parse('2026-12-02T00:00:00Z'));
    assert.equal(isOverdue(due, Date.parse('2026-12-01T23:59:59.999Z')), false);
    assert.equal(isOverdue(due, Date.parse('2026-12-02T00:00:00Z')), true);
    assert.equal(isOverdue({ ...due, status: 'paid' }, Date.parse('2027-01-01T00:00:00Z')), false);
    assert.equal(addDays('2026-11-30', 30), '2026-12-30');
    assert.equal(addDays('2028-02-28', 1), '2028-02-29');
  });

  it('the actions of an order in each state match the rules', function () {
    assert.deepEqual(orderActionsNow(order('open')).allowed, ['fulfill', 'cancel']);
    assert.deepEqual(orderActionsNow(order('fulfilled', [invoice('open')])).allowed, ['pay', 'cancel_invoice']);
    assert.deepEqual(orderActionsNow(order('fulfilled', [invoice('paid', 100_000)])).allowed, []);
  });
});
