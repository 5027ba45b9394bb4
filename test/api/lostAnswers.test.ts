/**
 * A client whose answer was lost (the API died after the workflow made the change, before the
 * answer was stored under its Idempotency-Key) retries with the same key. It must get the first
 * attempt's outcome, never a refusal that reads as "you may not" (409 deal_closed,
 * invoice_paid, order_already_fulfilled...) nor a second change: the Update id is the
 * operation key, and the process, not the API, judges the request — also after it has ended.
 *
 * The lost answer is made by deleting the key's row, exactly what the API leaves behind when it
 * dies between the Update and storing the answer (once its claim is stale).
 */
import assert from 'node:assert/strict';
import { countRows } from '../helpers/db';
import { dealAt, productId, qualifiedDeal, techCheckBody } from '../helpers/deals';
import { type ApiClient, expectStatus, startStack, type TestStack } from '../helpers/stack';
import type { Reply } from '../helpers/http';
import { today, wonOrder } from '../helpers/orders';
import type { DealUpdated, InvoiceChanged, InvoiceIssued, OrderWon, TechCheckRecorded } from '../helpers/apiTypes';

const WRITTEN = [
  'deals', 'deal_lines', 'deal_stage_moves', 'quotes', 'tech_checks', 'orders', 'order_fulfillments', 'invoices', 'invoice_payments',
  'order_changes', 'deal_changes',
];

describe('a retry whose first answer was lost gets the first outcome (dev server, real worker, Postgres)', function () {
  let stack: TestStack;
  let rep: ApiClient;

  before(async function () {
    stack = await startStack({ server: 'dev' });
    rep = stack.as.rep;
  });

  after(async function () {
    await stack?.teardown();
  });

  /**
   * Sends `send(key)`, expects `status`; forgets the stored answer; sends it again with the same
   * key: the same status and the same record, and no row written by the retry.
   */
  async function retriedAfterLostAnswer<T>(name: string, send: (headers: Record<string, string>) => Promise<Reply<T>>, status: number): Promise<[Reply<T>, Reply<T>]> {
    const key = `lost-${name}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const first = await send({ 'Idempotency-Key': key });
    expectStatus(first, status);
    assert.equal(await stack.db('idempotency_keys').where({ key }).delete(), 1, 'the first answer was stored under its key');
    const before = await countRows(stack.db, WRITTEN);
    const retry = await send({ 'Idempotency-Key': key });
    expectStatus(retry, status);
    assert.equal(retry.headers.get('idempotent-replayed'), null, 'the answer was not replayed from the store: the process gave it again');
    assert.deepEqual(await countRows(stack.db, WRITTEN), before, `${name}: the retry wrote nothing`);
    return [first, retry];
  }

  it('winning a quote and closing the deal (its process ends): the same order, not deal_closed', async function () {
    const { quoteId } = await dealAt(stack, 'close', 1_500_000);
    const [first, retry] = await retriedAfterLostAnswer('win', (h) => rep.post<OrderWon>(`/quotes/${quoteId}/win`, { closeDeal: true }, h), 201);
    assert.equal(retry.body.id, first.body.id);
    assert.equal(retry.headers.get('location'), `/orders/${first.body.id}`);
  });

  it('closing a deal as lost (its process ends): the closed deal, not deal_closed', async function () {
    const dealId = await qualifiedDeal(stack);
    const [, retry] = await retriedAfterLostAnswer('lose', (h) => rep.post<DealUpdated>(`/deals/${dealId}/close`, { outcome: 'lost', reason: 'no_budget' }, h), 200);
    assert.equal(retry.body.status, 'lost');
  });

  it('a stage move, a line removal and a Tech Check: one move, one removal, one check', async function () {
    const dealId = await qualifiedDeal(stack);
    await retriedAfterLostAnswer('advance', (h) => rep.post(`/deals/${dealId}/advance`, { to: 'develop' }, h), 200);
    const line = await rep.post<DealUpdated>(`/deals/${dealId}/lines`, { productId: await productId(stack.db, 'SS-300'), quantity: 1, unitPriceCents: 100_000 });
    expectStatus(line, 201);
    await retriedAfterLostAnswer('remove-line', (h) => rep.del(`/deals/${dealId}/lines/${line.body.createdId}`, h), 200);

    const { dealId: bigDeal, quoteId } = await dealAt(stack, 'tech_check', 2_500_000);
    const [first, retry] = await retriedAfterLostAnswer('tech-check', (h) => stack.as.tech_consultant.post<TechCheckRecorded>(`/deals/${bigDeal}/tech-checks`, techCheckBody(quoteId), h), 201);
    assert.equal(retry.body.id, first.body.id);
  });

  it('fulfilling completely, invoicing and paying completely: one fulfillment, the same invoice, one payment', async function () {
    const { orderId } = await wonOrder(stack);
    await retriedAfterLostAnswer('fulfil', (h) => rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }, h), 200);
    const [invoice, invoiceRetry] = await retriedAfterLostAnswer('invoice', (h) => rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`, {}, h), 201);
    assert.equal(invoiceRetry.body.id, invoice.body.id);
    const [, paid] = await retriedAfterLostAnswer(
      'pay', (h) => rep.post<InvoiceChanged>(`/invoices/${invoice.body.id}/pay`, { status: 'complete', paidOn: today(), amountCents: invoice.body.totalCents }, h), 200,
    );
    assert.equal(paid.body.status, 'paid');
    assert.equal((await stack.db('invoice_payments').where({ invoice_id: invoice.body.id })).length, 1);
  });
});
