/**
 * Order to cash through the real API, with a real worker on a Temporal dev server and a real
 * Postgres: winning a quote (the deal's rules still hold), fulfilling and canceling orders, invoices
 * numbered from a sequence (distinct under concurrency), payments and invoice cancels — each
 * transition legal and illegal, illegal ones answered 409 (or 422) with a code and nothing written.
 */
import assert from 'node:assert/strict';
import { loadConfig } from '../../config';
import { orderWorkflowId } from '../../workflows/orderToCash.contract';
import { AmountDueKey, InvoiceStatusKey, OrderStatusKey } from '../../workflows/searchAttributes';
import { countRows } from '../helpers/db';
import { dealAt, productId, techCheckBody } from '../helpers/deals';
import { expectStatus, startExtraApi, startStack, type TestStack } from '../helpers/stack';
import { client, type Reply } from '../helpers/http';
import { invoicedOrder, orderEverywhere, today, wonOrder } from '../helpers/orders';
import { eventually } from '../helpers/temporal';
import type { DealDetail, DealUpdated, Invoice, InvoiceChanged, InvoiceDetail, InvoiceIssued, List, Order, OrderChanged, OrderDetail, OrderWon, Page, Problem, QuoteChanged, QuoteDetail } from '../helpers/apiTypes';

const ABOVE_THRESHOLD = 2_000_001;
const WRITTEN = [
  'deals', 'deal_stage_moves', 'quotes', 'orders', 'order_lines', 'order_fulfillments', 'invoices', 'invoice_lines', 'invoice_payments',
  'order_changes', 'deal_changes', 'activities', 'audit_log',
];

describe('order to cash through the API (dev server, real worker, Postgres)', function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'dev' });
  });

  after(async function () {
    await stack?.teardown();
  });

  /** Runs `call`, which must be refused with `status`/`code`, and checks nothing was written. */
  async function refusedWithoutWriting(call: () => Promise<Reply<unknown>>, status: number, code: string): Promise<Reply<Problem>> {
    const before = await countRows(stack.db, WRITTEN);
    const orders = await stack.db('orders').orderBy('id');
    const invoices = await stack.db('invoices').orderBy('id');
    const reply = await call();
    expectStatus(reply, status, code);
    assert.equal(reply.headers.get('content-type')?.split(';')[0], 'application/problem+json');
    assert.deepEqual(await countRows(stack.db, WRITTEN), before, 'a refused request writes nothing');
    assert.deepEqual(await stack.db('orders').orderBy('id'), orders, 'no order changed');
    assert.deepEqual(await stack.db('invoices').orderBy('id'), invoices, 'no invoice changed');
    return reply as Reply<Problem>;
  }

  const pay = (invoiceId: string, status: 'complete' | 'partial', amountCents: number, as = stack.as.rep) => as.post<InvoiceChanged>(`/invoices/${invoiceId}/pay`, { status, paidOn: today(), amountCents });

  describe('winning a quote', function () {
    it('creates an order with the quote’s lines and prices, closes the quote as won and starts order-<orderId>; the deal stays open in Close', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'close', 1_500_000);
      const { rep } = stack.as;
      const draft = (await rep.get<QuoteDetail>(`/quotes/${quoteId}`)).body;
      const won = await rep.post<OrderWon>(`/quotes/${quoteId}/win`);
      expectStatus(won, 201);
      const order = won.body;
      assert.equal(won.headers.get('location'), `/orders/${order.id}`);
      assert.match(order.orderNumber, /^ORD-\d+$/);
      assert.deepEqual([order.status, order.phase, order.dealId, order.quoteId, order.ownerId], ['open', 'awaiting_fulfillment', dealId, quoteId, stack.users.rep.id]);
      assert.deepEqual(
        order.lines.map((l) => [l.sku, l.quantity, l.unitPriceCents, l.discountCents, l.amountCents]),
        draft.lines.map((l) => [l.sku, l.quantity, l.unitPriceCents, l.discountCents, l.amountCents]),
        'the quote’s products and prices are copied',
      );
      assert.equal(order.totalCents, draft.totalCents);
      assert.equal(order.workflowId, orderWorkflowId(order.id));
      assert.equal((await stack.env.client.workflow.getHandle(order.workflowId).describe()).status.name, 'RUNNING');

      const quote = (await rep.get<QuoteDetail>(`/quotes/${quoteId}`)).body;
      assert.equal(quote.status, 'won');
      const deal = (await rep.get<DealDetail>(`/deals/${dealId}`)).body;
      assert.deepEqual([deal.stage, deal.status, deal.wonQuoteId, deal.activeQuoteId], ['close', 'open', quoteId, null]);
      assert.deepEqual(deal.orders.map((o) => o.id), [order.id]);
      assert.equal(won.body.deal.stage, 'close', 'the deal workflow answered');

      // The deal can still be won afterwards, on the quote the customer accepted.
      const closed = await rep.post<DealUpdated>(`/deals/${dealId}/close`, { outcome: 'won' });
      expectStatus(closed, 200);
      assert.equal(closed.body.actualRevenueCents, draft.totalCents);
    });

    it('with closeDeal, the deal is won too: actual revenue is the quote’s total unless given', async function () {
      const first = await wonOrder(stack, 1_234_500, { closeDeal: true });
      const deal = (await stack.as.rep.get<DealDetail>(`/deals/${first.dealId}`)).body;
      assert.deepEqual([deal.status, deal.actualRevenueCents, deal.moves.at(-1)!.to], ['won', 1_234_500, 'won']);
      assert.equal(first.order.deal.status, 'won');
      const second = await wonOrder(stack, 1_234_500, { closeDeal: true, actualRevenueCents: 1_200_000 });
      assert.equal((await stack.as.rep.get<DealDetail>(`/deals/${second.dealId}`)).body.actualRevenueCents, 1_200_000);
      // The deal's run has ended; the order's goes on (it was started to outlive it).
      await stack.env.client.workflow.getHandle(`deal-${second.dealId}`).result();
      assert.equal((await stack.env.client.workflow.getHandle(orderWorkflowId(second.orderId)).describe()).status.name, 'RUNNING');
      const noDeal = await stack.as.rep.post(`/quotes/${second.quoteId}/win`, { actualRevenueCents: 5 });
      expectStatus(noDeal, 400, 'validation_failed');
    });

    it('refuses a deal not in Close (close_stage_required) and a quote that is not the active one (quote_not_active), writing nothing', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'propose', 1_000_000);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/win`), 409, 'close_stage_required');
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'close' }), 200);
      const draft = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${draft.body.id}/win`), 409, 'quote_not_active');
      const revised = await stack.as.rep.post(`/quotes/${quoteId}/revise`);
      expectStatus(revised, 201);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/win`), 409, 'quote_not_active');
    });

    it('keeps the Tech Check rule: a $20,000.01 quote is won only after a passed check, and a new revision must be checked again', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/win`), 409, 'close_stage_required');
      expectStatus(await stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId)), 201);
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'close' }), 200);
      // A revision sends the deal back to Tech Check: its quote cannot be won until checked.
      const revision = (await stack.as.rep.post<QuoteChanged>(`/quotes/${quoteId}/revise`)).body;
      const activated = await stack.as.rep.post<QuoteChanged>(`/quotes/${revision.id}/activate`);
      expectStatus(activated, 200);
      assert.equal(activated.body.process.stage, 'tech_check');
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${revision.id}/win`), 409, 'close_stage_required');
      expectStatus(await stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(revision.id)), 201);
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'close' }), 200);
      const won = await stack.as.rep.post<OrderWon>(`/quotes/${revision.id}/win`, { closeDeal: true });
      expectStatus(won, 201);
      assert.equal(won.body.totalCents, ABOVE_THRESHOLD);
    });

    it('a won quote settles the offer: winning again, other quotes, revisions and product changes are refused (quote_won)', async function () {
      const { dealId, quoteId } = await wonOrder(stack, 1_000_000);
      const doorbell = await productId(stack.db, 'DB-100');
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/win`), 409, 'quote_won');
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${quoteId}/revise`), 409, 'quote_won');
      await refusedWithoutWriting(() => stack.as.rep.post(`/deals/${dealId}/lines`, { productId: doorbell, quantity: 1 }), 409, 'quote_won');
      const draft = await stack.as.rep.post<QuoteDetail>(`/deals/${dealId}/quotes`);
      expectStatus(draft, 201);
      await refusedWithoutWriting(() => stack.as.rep.post(`/quotes/${draft.body.id}/activate`), 409, 'quote_won');
      expectStatus(await stack.as.rep.patch(`/deals/${dealId}`, { name: 'Renamed after the win' }), 200);
    });

    it('only the deal’s owner, a manager or an admin wins a quote; a retried win with the same Idempotency-Key creates one order', async function () {
      const { dealId, quoteId } = await dealAt(stack, 'close', 1_000_000);
      await refusedWithoutWriting(() => stack.as.otherRep.post(`/quotes/${quoteId}/win`), 403, 'not_owner');
      await refusedWithoutWriting(() => stack.as.tech_consultant.post(`/quotes/${quoteId}/win`), 403, 'forbidden');
      const key = { 'Idempotency-Key': `win-${quoteId}` };
      const first = await stack.as.manager.post<OrderWon>(`/quotes/${quoteId}/win`, {}, key);
      expectStatus(first, 201);
      const retry = await stack.as.manager.post<OrderWon>(`/quotes/${quoteId}/win`, {}, key);
      expectStatus(retry, 201);
      assert.equal(retry.body.id, first.body.id);
      assert.equal((await stack.db('orders').where({ deal_id: dealId })).length, 1);
      const audit = await stack.db('audit_log').where({ entity_type: 'order', entity_id: first.body.id, action: 'order.created' }).first();
      assert.deepEqual([audit.actor_type, audit.actor_id], ['user', stack.users.manager.id], 'attributed to the manager who won it');
    });
  });

  describe('fulfilling and canceling an order', function () {
    it('is fulfilled partially, then completely, each fulfillment recorded with its date; then fulfilling again is refused (order_already_fulfilled)', async function () {
      const { orderId } = await wonOrder(stack);
      const partial = await stack.as.rep.post<OrderChanged>(`/orders/${orderId}/fulfill`, { status: 'partial', fulfilledOn: '2026-01-05', note: 'Cameras shipped; panels back-ordered' });
      expectStatus(partial, 200);
      assert.deepEqual([partial.body.status, partial.body.phase, partial.body.process.orderStatus], ['partially_fulfilled', 'awaiting_invoice', 'partially_fulfilled']);
      const complete = await stack.as.rep.post<OrderChanged>(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: '2026-01-19' });
      expectStatus(complete, 200);
      assert.deepEqual([complete.body.status, complete.body.fulfilledOn], ['fulfilled', '2026-01-19']);
      assert.deepEqual(complete.body.fulfillments.map((f) => [f.seq, f.kind, f.fulfilledOn, f.recordedBy]), [
        [1, 'partial', '2026-01-05', stack.users.rep.id], [2, 'complete', '2026-01-19', stack.users.rep.id],
      ]);
      await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/fulfill`, { status: 'partial', fulfilledOn: today() }), 409, 'order_already_fulfilled');
      const future = await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: '2999-01-01' }), 400, 'validation_failed');
      assert.equal(future.body.field, 'fulfilledOn');
      assert.deepEqual(await orderEverywhere(stack, orderId), { db: ['fulfilled', []], workflow: ['fulfilled', []] });
    });

    it('is canceled only with a status reason (422 reason_required), and a canceled order cannot be fulfilled or invoiced; its process ends', async function () {
      const { orderId } = await wonOrder(stack);
      const noReason = await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/cancel`, { description: 'Customer changed their mind' }), 422, 'reason_required');
      assert.equal(noReason.body.field, 'reason');
      await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/cancel`, { reason: '' }), 422, 'reason_required');
      const unknown = await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/cancel`, { reason: 'bored' }), 400, 'validation_failed');
      assert.equal(unknown.body.field, 'reason');

      const canceled = await stack.as.rep.post<OrderChanged>(`/orders/${orderId}/cancel`, { reason: 'customer_request', description: 'Budget frozen' });
      expectStatus(canceled, 200);
      assert.deepEqual([canceled.body.status, canceled.body.cancelReason, canceled.body.cancelDescription, canceled.body.canceledBy], ['canceled', 'customer_request', 'Budget frozen', stack.users.rep.id]);
      const state = await stack.env.client.workflow.getHandle(orderWorkflowId(orderId)).result();
      assert.deepEqual([state.phase, state.facts.status], ['canceled', 'canceled']);

      const fulfill = await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 409, 'order_canceled');
      assert.equal(fulfill.body.orderStatus, 'canceled');
      await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/invoices`), 409, 'order_canceled');
      await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/cancel`, { reason: 'other' }), 409, 'order_canceled');
    });

    it('a fulfilled order cannot be canceled (order_fulfilled); an invoiced one only once its invoice is canceled (order_invoiced)', async function () {
      const { orderId } = await invoicedOrder(stack);
      await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/cancel`, { reason: 'other' }), 409, 'order_fulfilled');
      const partly = await wonOrder(stack);
      expectStatus(await stack.as.rep.post(`/orders/${partly.orderId}/fulfill`, { status: 'partial', fulfilledOn: today() }), 200);
      const invoice = await stack.as.rep.post<InvoiceIssued>(`/orders/${partly.orderId}/invoices`);
      expectStatus(invoice, 201);
      const refused = await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${partly.orderId}/cancel`, { reason: 'out_of_stock' }), 409, 'order_invoiced');
      assert.deepEqual([refused.body.invoiceStatus, refused.body.invoiceId], ['open', invoice.body.id]);
      expectStatus(await stack.as.rep.post(`/invoices/${invoice.body.id}/cancel`, { reason: 'order_changed' }), 200);
      expectStatus(await stack.as.rep.post(`/orders/${partly.orderId}/cancel`, { reason: 'out_of_stock' }), 200);
    });

    it('only the order’s owner, a manager or an admin works it', async function () {
      const { orderId } = await wonOrder(stack);
      await refusedWithoutWriting(() => stack.as.otherRep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 403, 'not_owner');
      await refusedWithoutWriting(() => stack.as.tech_consultant.post(`/orders/${orderId}/cancel`, { reason: 'other' }), 403, 'forbidden');
      const byManager = await stack.as.manager.post<OrderChanged>(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() });
      expectStatus(byManager, 200);
      assert.equal(byManager.body.fulfillments[0].recordedBy, stack.users.manager.id);
    });
  });

  describe('invoices', function () {
    it('refuses to invoice an order that is not fulfilled (order_not_fulfilled), writing nothing', async function () {
      const { orderId } = await wonOrder(stack);
      const refused = await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/invoices`), 409, 'order_not_fulfilled');
      assert.equal(refused.body.orderStatus, 'open');
    });

    it('is prefilled from the order, numbered from the sequence, issued today and due in 30 days; one open invoice per order, a canceled one replaced under a new number', async function () {
      const { orderId, order, invoice, invoiceId } = await invoicedOrder(stack, 987_654);
      assert.match(invoice.invoiceNumber, /^INV-\d+$/);
      assert.deepEqual(
        [invoice.orderId, invoice.contactId, invoice.accountId, invoice.ownerId, invoice.totalCents, invoice.paidCents, invoice.balanceCents, invoice.status],
        [orderId, order.contactId, order.accountId, order.ownerId, 987_654, 0, 987_654, 'open'],
      );
      assert.deepEqual(invoice.lines.map((l) => [l.sku, l.quantity, l.unitPriceCents]), order.lines.map((l) => [l.sku, l.quantity, l.unitPriceCents]));
      assert.equal(invoice.issuedOn, today());
      assert.equal(invoice.paymentTermsDays, 30);
      assert.equal(Date.parse(invoice.dueOn) - Date.parse(invoice.issuedOn), 30 * 86_400_000, 'net 30');
      assert.equal(invoice.process.phase, 'awaiting_payment');

      await refusedWithoutWriting(() => stack.as.rep.post(`/orders/${orderId}/invoices`), 409, 'order_already_invoiced');
      const canceled = await stack.as.rep.post<InvoiceChanged>(`/invoices/${invoiceId}/cancel`, { reason: 'billing_error', description: 'Wrong PO number' });
      expectStatus(canceled, 200);
      assert.deepEqual([canceled.body.status, canceled.body.cancelReason, canceled.body.balanceCents], ['canceled', 'billing_error', 0]);
      const reissued = await stack.as.rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`, { paymentTermsDays: 14, name: 'Reissued with PO 4711' });
      expectStatus(reissued, 201);
      assert.notEqual(reissued.body.invoiceNumber, invoice.invoiceNumber, 'a canceled invoice’s number is never reused');
      assert.equal(Date.parse(reissued.body.dueOn) - Date.parse(reissued.body.issuedOn), 14 * 86_400_000);
      assert.equal(reissued.body.name, 'Reissued with PO 4711');
      assert.deepEqual((await stack.as.rep.get<List<Invoice>>(`/orders/${orderId}/invoices`)).body.data.map((i) => i.status), ['canceled', 'open']);
    });

    it('concurrent invoice creation yields distinct numbers: twelve orders at once, and five racing requests on one order make one invoice', async function () {
      const orders = await Promise.all(Array.from({ length: 12 }, () => wonOrder(stack, 100_000)));
      for (const { orderId } of orders) expectStatus(await stack.as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
      const [racy] = orders;
      // As a careful client would: each request with its own Idempotency-Key, retried on a 503 (a busy worker).
      const invoice = async (orderId: string, key: string): Promise<Reply<unknown>> => {
        for (let attempt = 1; ; attempt++) {
          const reply = await stack.as.rep.post(`/orders/${orderId}/invoices`, {}, { 'Idempotency-Key': key });
          if (reply.status !== 503 || attempt === 3) return reply;
        }
      };
      const replies = await Promise.all([
        ...orders.map(({ orderId }) => invoice(orderId, `invoice-${orderId}`)),
        ...Array.from({ length: 4 }, (_, i) => invoice(racy.orderId, `invoice-${racy.orderId}-race-${i}`)),
      ]);
      const created = replies.filter((r) => r.status === 201);
      assert.equal(created.length, 12, `one invoice per order; the others: ${JSON.stringify(replies.filter((r) => r.status !== 201).map((r) => [r.status, (r.body as Problem).code, (r.body as Problem).detail]))}`);
      assert.ok(replies.filter((r) => r.status !== 201).every((r) => r.status === 409 && (r.body as Problem).code === 'order_already_invoiced'), JSON.stringify(replies.map((r) => r.status)));
      const numbers = created.map((r) => (r.body as InvoiceIssued).invoiceNumber);
      assert.equal(new Set(numbers).size, 12, `distinct numbers: ${numbers.join(', ')}`);
      const stored = await stack.db('invoices').whereIn('order_id', orders.map((o) => o.orderId)).pluck('invoice_number');
      assert.deepEqual([...stored].sort(), [...numbers].sort());
    });

    it('concurrent retries with the same Idempotency-Key wait for the first and get its invoice; no database connection is held meanwhile', async function () {
      const orders = await Promise.all(Array.from({ length: 6 }, () => wonOrder(stack, 100_000)));
      for (const { orderId } of orders) expectStatus(await stack.as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
      // Three tries per order, all at once: more keyed requests in flight than the test pool has connections (8).
      const replies = await Promise.all(orders.flatMap(({ orderId }) => [1, 2, 3].map(() => stack.as.rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`, {}, { 'Idempotency-Key': `bill-${orderId}` }))));
      assert.ok(replies.every((r) => r.status === 201), JSON.stringify(replies.map((r: Reply<unknown>) => [r.status, (r.body as Problem | undefined)?.code])));
      for (const { orderId } of orders) {
        const mine = replies.filter((r) => r.body.orderId === orderId);
        assert.equal(new Set(mine.map((r) => r.body.id)).size, 1, 'one invoice per order, the same answer to each try');
        assert.equal(mine.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 2);
        assert.equal((await stack.db('invoices').where({ order_id: orderId })).length, 1);
      }
    });

    it('takes the payment terms from configuration (PAYMENT_TERMS_DAYS)', async function () {
      assert.equal(loadConfig({}).orders.paymentTermsDays, 30);
      assert.equal(loadConfig({ PAYMENT_TERMS_DAYS: '45' }).orders.paymentTermsDays, 45);
      assert.throws(() => loadConfig({ PAYMENT_TERMS_DAYS: 'net 30' }), /whole number of days/);
      const api = await startExtraApi(stack, undefined, { paymentTermsDays: 45 });
      try {
        const { orderId } = await wonOrder(stack);
        expectStatus(await stack.as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
        const invoice = await client(api.url, stack.users.rep.token).post(`/orders/${orderId}/invoices`);
        const body = invoice.body as { paymentTermsDays: number; issuedOn: string; dueOn: string };
        assert.equal(body.paymentTermsDays, 45);
        assert.equal(Date.parse(body.dueOn) - Date.parse(body.issuedOn), 45 * 86_400_000);
      } finally {
        await api.close();
      }
    });
  });

  describe('payments', function () {
    it('partial payments keep the invoice open for the rest; the complete payment pays it and the order’s process ends', async function () {
      const { dealId, orderId, invoiceId } = await invoicedOrder(stack, 1_000_000);
      const first = await pay(invoiceId, 'partial', 300_000);
      expectStatus(first, 200);
      assert.deepEqual([first.body.status, first.body.paidCents, first.body.balanceCents, first.body.process.phase], ['partially_paid', 300_000, 700_000, 'awaiting_payment']);
      const second = await pay(invoiceId, 'partial', 200_000);
      assert.deepEqual([second.body.status, second.body.balanceCents], ['partially_paid', 500_000]);
      assert.deepEqual(await orderEverywhere(stack, orderId), { db: ['fulfilled', [[invoiceId, 'partially_paid', 500_000]]], workflow: ['fulfilled', [[invoiceId, 'partially_paid', 500_000]]] });
      const last = await pay(invoiceId, 'complete', 500_000, stack.as.manager);
      expectStatus(last, 200);
      assert.deepEqual([last.body.status, last.body.paidCents, last.body.balanceCents, last.body.paidOn, last.body.process.phase], ['paid', 1_000_000, 0, today(), 'completed']);
      assert.deepEqual(last.body.payments.map((p) => [p.seq, p.kind, p.amountCents, p.recordedBy]), [
        [1, 'partial', 300_000, stack.users.rep.id], [2, 'partial', 200_000, stack.users.rep.id], [3, 'complete', 500_000, stack.users.manager.id],
      ]);
      const final = await stack.env.client.workflow.getHandle(orderWorkflowId(orderId)).result();
      assert.deepEqual([final.phase, final.facts.status, final.facts.invoices[0].status], ['completed', 'fulfilled', 'paid']);
      assert.equal((await stack.as.rep.get<OrderDetail>(`/orders/${orderId}`)).body.phase, 'completed');
      assert.deepEqual((await stack.as.rep.get<InvoiceDetail>(`/invoices/${invoiceId}`)).body.payments, last.body.payments);
      assert.deepEqual((await stack.as.rep.get<Page<Invoice>>(`/invoices?orderId=${orderId}&status=paid`)).body.data.map((i) => [i.id, i.balanceCents]), [[invoiceId, 0]]);
      assert.deepEqual((await stack.as.rep.get<Page<Order>>(`/orders?dealId=${dealId}&status=fulfilled`)).body.data.map((o) => o.id), [orderId]);
    });

    it('refuses to pay a canceled invoice (invoice_canceled) or a paid one (invoice_paid), and an amount that does not match the kind (422 payment_amount_mismatch)', async function () {
      const { invoiceId, orderId } = await invoicedOrder(stack, 1_000_000);
      const tooMuch = await refusedWithoutWriting(() => pay(invoiceId, 'partial', 1_000_000), 422, 'payment_amount_mismatch');
      assert.deepEqual([tooMuch.body.field, tooMuch.body.balanceCents], ['amountCents', 1_000_000]);
      await refusedWithoutWriting(() => pay(invoiceId, 'complete', 999_999), 422, 'payment_amount_mismatch');
      await refusedWithoutWriting(() => pay(invoiceId, 'complete', 1_000_001), 422, 'payment_amount_mismatch');
      await refusedWithoutWriting(() => stack.as.rep.post(`/invoices/${invoiceId}/pay`, { status: 'complete', paidOn: today(), amountCents: 0 }), 400, 'validation_failed');
      expectStatus(await stack.as.rep.post(`/invoices/${invoiceId}/cancel`, { reason: 'duplicate' }), 200);
      const canceled = await refusedWithoutWriting(() => pay(invoiceId, 'complete', 1_000_000), 409, 'invoice_canceled');
      assert.equal(canceled.body.invoiceStatus, 'canceled');

      const reissued = (await stack.as.rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`)).body;
      expectStatus(await pay(reissued.id, 'complete', 1_000_000), 200);
      // The order's process has ended: the API still answers from the records.
      await stack.env.client.workflow.getHandle(orderWorkflowId(orderId)).result();
      await refusedWithoutWriting(() => pay(reissued.id, 'partial', 1), 409, 'invoice_paid');
      await refusedWithoutWriting(() => stack.as.rep.post(`/invoices/${reissued.id}/cancel`, { reason: 'other' }), 409, 'invoice_paid');
    });

    it('an invoice with payments cannot be canceled (invoice_partially_paid); canceling needs a reason (422 reason_required)', async function () {
      const { invoiceId } = await invoicedOrder(stack, 1_000_000);
      await refusedWithoutWriting(() => stack.as.rep.post(`/invoices/${invoiceId}/cancel`, {}), 422, 'reason_required');
      expectStatus(await pay(invoiceId, 'partial', 1), 200);
      await refusedWithoutWriting(() => stack.as.rep.post(`/invoices/${invoiceId}/cancel`, { reason: 'customer_dispute' }), 409, 'invoice_partially_paid');
      await refusedWithoutWriting(() => pay(invoiceId, 'partial', 1, stack.as.otherRep), 403, 'not_owner');
    });

    it('ops find orders by status, invoice status and amount due in the Temporal UI', async function () {
      const { orderId } = await invoicedOrder(stack, 2_500_050);
      const handle = stack.env.client.workflow.getHandle(orderWorkflowId(orderId));
      await eventually(async () => {
        const found: string[] = [];
        for await (const w of stack.env.client.workflow.list({ query: `OrderStatus = 'fulfilled' AND InvoiceStatus = 'open' AND AmountDue > 25000` })) found.push(w.workflowId);
        return found.includes(handle.workflowId);
      }, 'the order to be visible by its search attributes');
      const attributes = (await handle.describe()).typedSearchAttributes;
      assert.deepEqual([attributes.get(OrderStatusKey), attributes.get(InvoiceStatusKey), attributes.get(AmountDueKey)], ['fulfilled', 'open', 25000.5]);
    });
  });

  it('the OpenAPI document describes the order, invoice, account, contact, timeline and audit routes', async function () {
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    for (const path of [
      '/quotes/{id}/win', '/orders', '/orders/{id}', '/orders/{id}/fulfill', '/orders/{id}/cancel', '/orders/{id}/invoices', '/invoices', '/invoices/{id}',
      '/invoices/{id}/pay', '/invoices/{id}/cancel', '/accounts', '/accounts/{id}', '/contacts', '/contacts/{id}', '/audit',
      '/leads/{id}/timeline', '/deals/{id}/timeline', '/accounts/{id}/timeline', '/contacts/{id}/timeline', '/quotes/{id}/timeline', '/orders/{id}/timeline',
    ]) {
      assert.ok(doc.paths[path], `${path} is documented`);
    }
    assert.ok(doc.paths['/orders/{id}/cancel'].post && JSON.stringify(doc.paths['/orders/{id}/cancel']).includes('reason_required'));
  });
});
