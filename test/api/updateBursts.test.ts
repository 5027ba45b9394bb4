/**
 * "Postgres = workflow" after any interleaving. fast-check fires random concurrent bursts of every
 * Update kind through the real API (dev server, real worker, Postgres) — at deals: advance, close
 * won/lost, product lines added/changed/removed, estimate and name, quote activate/revise/close/win
 * (with or without closing the deal), Tech Checks; at orders: fulfil, cancel, invoice, pay (partial
 * and complete), cancel the invoice — all requests of a burst in flight at once. After each burst:
 * - nothing answered 5xx (a 503 `still_processing` counts by the answer its Location finally gives);
 * - deal: the workflow's stage, status, move count, recent moves and facts (lines, value, estimate,
 *   name, active quote, Tech Checks) are Postgres's; the moves are numbered 1..n without a gap, each
 *   starting where the last ended; each move the burst wrote answered one 2xx (send-backs aside);
 * - order: the workflow's facts (status, fulfilment, each invoice's status and paid amount) are
 *   Postgres's; each invoice's paid amount is the sum of its payments; the burst stored one payment
 *   per 2xx payment answer, each partial one at the amount of a request answered 2xx.
 * Each run starts UPDATE_BURST_PARALLEL deals and orders from random starting points and fires one
 * burst of up to UPDATE_BURST_SIZE requests at each. Defaults: 6 runs × 3 in parallel × up to 12
 * requests, under a minute on a 2-core machine. Longer, e.g.:
 *   UPDATE_BURST_RUNS=100 UPDATE_BURST_PARALLEL=4 UPDATE_BURST_SIZE=30 npx mocha test/api/updateBursts.test.ts
 * UPDATE_BURST_SEED (with the seed a failure prints) replays a run.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DealStore } from '../../db/stores/deals';
import { OrderStore } from '../../db/stores/orders';
import { DEAL_STAGES, dealWorkflowId, getDealStateQuery, type DealStage } from '../../workflows/dealLifecycle.contract';
import { dealAt, productId, qualifiedDeal } from '../helpers/deals';
import { startStack, type TestStack } from '../helpers/stack';
import type { Reply } from '../helpers/http';
import { orderState, today, wonOrder } from '../helpers/orders';
import { inPool, settled } from '../helpers/bursts';
import type { InvoiceIssued } from '../helpers/apiTypes';
import type { DealStageMoveRow, InvoicePaymentRow, QuoteRow } from '../helpers/rows';

const RUNS = Number(process.env.UPDATE_BURST_RUNS ?? 6);
const PARALLEL = Number(process.env.UPDATE_BURST_PARALLEL ?? 3);
const SIZE = Number(process.env.UPDATE_BURST_SIZE ?? 12);
const SEED = process.env.UPDATE_BURST_SEED ? Number(process.env.UPDATE_BURST_SEED) : undefined;
/** Answers a valid request may get when others change the record under it; anything else fails the test. */
const EXPECTED = new Set([200, 201, 404, 409, 422]);

// --- deals ------------------------------------------------------------------------------------------

type DealStart = { stage: 'qualify' | DealStage; valueCents: number; drafts: number };
type DealCommand =
  | { k: 'advance'; to: DealStage }
  | { k: 'won' }
  | { k: 'lost' }
  | { k: 'addLine'; priceCents: number }
  | { k: 'updateLine'; pick: number; priceCents: number }
  | { k: 'removeLine'; pick: number }
  | { k: 'estimate'; valueCents: number }
  | { k: 'rename'; pick: number }
  | { k: 'createQuote' }
  | { k: 'activate'; pick: number }
  | { k: 'revise'; pick: number }
  | { k: 'closeQuote'; pick: number; closeDeal: boolean }
  | { k: 'winQuote'; pick: number; closeDeal: boolean }
  | { k: 'check'; pick: number; outcome: 'passed' | 'failed' };

const pick = fc.nat(5);
const dealPrice = fc.constantFrom(400_000, 1_000_000, 2_000_001, 2_500_000);
const dealStart: fc.Arbitrary<DealStart> = fc.record({
  stage: fc.constantFrom<DealStart['stage']>('qualify', 'develop', 'propose', 'tech_check', 'close'),
  valueCents: fc.constantFrom(1_000_000, 2_500_000),
  drafts: fc.nat(2),
});
const dealCommand: fc.Arbitrary<DealCommand> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('advance' as const), to: fc.constantFrom(...DEAL_STAGES) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'won' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'lost' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('addLine' as const), priceCents: dealPrice }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('updateLine' as const), pick, priceCents: dealPrice }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('removeLine' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('estimate' as const), valueCents: fc.constantFrom(0, 1_500_000, 3_000_000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rename' as const), pick }) },
  { weight: 1, arbitrary: fc.constant({ k: 'createQuote' as const }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('activate' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('revise' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('closeQuote' as const), pick, closeDeal: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('winQuote' as const), pick, closeDeal: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('check' as const), pick, outcome: fc.constantFrom('passed' as const, 'passed' as const, 'failed' as const) }) },
);

// --- orders -----------------------------------------------------------------------------------------

type OrderStart = { fulfilled: 'none' | 'partial' | 'complete'; invoiced: boolean; paidCents: number };
type OrderCommand =
  | { k: 'fulfill'; status: 'partial' | 'complete' }
  | { k: 'cancel' }
  | { k: 'invoice' }
  | { k: 'pay'; pick: number; amount: 'partial' | 'complete' | 'too_much' }
  | { k: 'cancelInvoice'; pick: number };

const orderStart: fc.Arbitrary<OrderStart> = fc.record({
  fulfilled: fc.constantFrom<OrderStart['fulfilled']>('none', 'partial', 'complete', 'complete'),
  invoiced: fc.boolean(),
  paidCents: fc.constantFrom(0, 0, 200_000),
});
const orderCommand: fc.Arbitrary<OrderCommand> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fulfill' as const), status: fc.constantFrom('partial' as const, 'complete' as const) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'cancel' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'invoice' as const }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('pay' as const), pick, amount: fc.constantFrom('partial' as const, 'partial' as const, 'complete' as const, 'too_much' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancelInvoice' as const), pick }) },
);

const ORDER_VALUE_CENTS = 1_500_000;

interface Stats {
  bursts: number;
  requests: number;
  byStatus: Record<string, number>;
}

describe('random concurrent bursts of every Update kind at deals and orders (dev server, real worker, Postgres)', function () {
  let stack: TestStack;
  let product: string;
  const stats: Stats = { bursts: 0, requests: 0, byStatus: {} };

  before(async function () {
    stack = await startStack({ server: 'dev' });
    product = await productId(stack.db, 'SS-300');
  });

  after(async function () {
    console.log(`      ${stats.bursts} bursts, ${stats.requests} requests; answers ${JSON.stringify(stats.byStatus)}`);
    await stack?.teardown();
  });

  /** Fires every request of the burst at once; each reply as the client finally learns it. */
  async function burst(requests: Array<() => Promise<Reply>>, context: string): Promise<Reply[]> {
    const replies = await inPool(requests, requests.length, async (send) => settled(stack.url, await send(), stack.users.rep.token));
    stats.bursts += 1;
    for (const reply of replies) {
      stats.requests += 1;
      stats.byStatus[reply.status] = (stats.byStatus[reply.status] ?? 0) + 1;
      assert.ok(EXPECTED.has(reply.status), `${context}: unexpected ${reply.status} ${JSON.stringify(reply.body)}`);
    }
    return replies;
  }

  const pickOf = <T>(items: T[], n: number): T | undefined => (items.length ? items[n % items.length] : undefined);

  async function dealRows(dealId: string) {
    const lines = await stack.db('deal_lines').where({ deal_id: dealId }).orderBy('position').select('id');
    const quotes = await stack.db('quotes').where({ deal_id: dealId }).orderBy([{ column: 'created_at' }, { column: 'revision' }]).select('id', 'status');
    const moveSeq = (await stack.db('deals').where({ id: dealId }).first('move_seq')).move_seq as number;
    return { lines, quotes, moveSeq };
  }

  async function dealBurst(start: DealStart, commands: DealCommand[]): Promise<void> {
    const { rep, tech_consultant: tc } = stack.as;
    // Only a deal above $20,000.00 stops in Tech Check.
    const valueCents = start.stage === 'tech_check' ? 2_500_000 : start.valueCents;
    const dealId = start.stage === 'qualify' ? await qualifiedDeal(stack) : (await dealAt(stack, start.stage, valueCents)).dealId;
    for (let i = 0; i < start.drafts; i++) await rep.post(`/deals/${dealId}/quotes`);
    const before = await dealRows(dealId);
    const active = before.quotes.filter((q: QuoteRow) => q.status === 'active');
    const open = before.quotes.filter((q: QuoteRow) => q.status === 'active' || q.status === 'draft');
    const requests = commands.map((cmd): (() => Promise<Reply>) | null => {
      switch (cmd.k) {
        case 'advance': return () => rep.post(`/deals/${dealId}/advance`, { to: cmd.to });
        case 'won': return () => rep.post(`/deals/${dealId}/close`, { outcome: 'won' });
        case 'lost': return () => rep.post(`/deals/${dealId}/close`, { outcome: 'lost', reason: 'Went with a competitor' });
        case 'addLine': return () => rep.post(`/deals/${dealId}/lines`, { productId: product, quantity: 1, unitPriceCents: cmd.priceCents });
        case 'updateLine': {
          const line = pickOf(before.lines, cmd.pick);
          return line ? () => rep.patch(`/deals/${dealId}/lines/${line.id}`, { quantity: 1, unitPriceCents: cmd.priceCents, discountCents: 0 }) : null;
        }
        case 'removeLine': {
          const line = pickOf(before.lines, cmd.pick);
          return line ? () => rep.del(`/deals/${dealId}/lines/${line.id}`) : null;
        }
        case 'estimate': return () => rep.patch(`/deals/${dealId}`, { estimatedValueCents: cmd.valueCents });
        case 'rename': return () => rep.patch(`/deals/${dealId}`, { name: `Burst ${cmd.pick}` });
        case 'createQuote': return () => rep.post(`/deals/${dealId}/quotes`);
        case 'activate': {
          const quote = pickOf(before.quotes, cmd.pick);
          return quote ? () => rep.post(`/quotes/${quote.id}/activate`) : null;
        }
        case 'revise': {
          const quote = pickOf(active, cmd.pick) ?? pickOf(before.quotes, cmd.pick);
          return quote ? () => rep.post(`/quotes/${quote.id}/revise`) : null;
        }
        case 'closeQuote': {
          const quote = pickOf(open, cmd.pick);
          return quote ? () => rep.post(`/quotes/${quote.id}/close`, { reason: 'lost', closeDeal: cmd.closeDeal }) : null;
        }
        case 'winQuote': {
          const quote = pickOf(active, cmd.pick) ?? pickOf(before.quotes, cmd.pick);
          return quote ? () => rep.post(`/quotes/${quote.id}/win`, { closeDeal: cmd.closeDeal }) : null;
        }
        case 'check': {
          const quote = pickOf(active, cmd.pick) ?? pickOf(before.quotes, cmd.pick);
          return quote ? () => tc.post(`/deals/${dealId}/tech-checks`, { quoteId: quote.id, outcome: cmd.outcome, completedAt: new Date().toISOString(), notes: 'Checked in a burst.' }) : null;
        }
      }
    });
    const sent = commands.map((cmd, i) => ({ cmd, send: requests[i] })).filter((r): r is { cmd: DealCommand; send: () => Promise<Reply> } => r.send !== null);
    const context = `deal ${dealId} from ${JSON.stringify(start)}, burst ${JSON.stringify(sent.map((r) => r.cmd))}`;
    const replies = await burst(sent.map((r) => r.send), context);

    const row = await stack.db('deals').where({ id: dealId }).first('stage', 'status', 'move_seq');
    const moves = await stack.db('deal_stage_moves').where({ deal_id: dealId }).orderBy('seq').select('seq', 'from_stage', 'to_stage', 'reason');
    const state = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).query(getDealStateQuery);
    assert.deepEqual([state.stage, state.status, state.moveSeq], [row.stage, row.status, row.move_seq], `${context}: the workflow's stage, status and move count are Postgres's`);
    assert.deepEqual(state.facts, await new DealStore(stack.db).facts(dealId), `${context}: the workflow's facts are Postgres's`);
    assert.deepEqual(moves.map((m: DealStageMoveRow) => m.seq), Array.from({ length: row.move_seq }, (_, i) => i + 1), `${context}: moves numbered 1..n`);
    for (const [i, m] of moves.entries()) if (i > 0) assert.equal(m.from_stage, moves[i - 1].to_stage, `${context}: move ${m.seq} starts where move ${m.seq - 1} ended`);
    const recent = state.recentMoves.map((m) => [m.seq, m.from, m.to]);
    assert.deepEqual(recent, moves.slice(-recent.length).map((m: DealStageMoveRow) => [m.seq, m.from_stage, m.to_stage]), `${context}: the workflow's recent moves are Postgres's`);
    const movers = sent.filter(({ cmd }, i) => replies[i].status < 300 && (cmd.k === 'advance' || cmd.k === 'won' || cmd.k === 'lost' || ((cmd.k === 'closeQuote' || cmd.k === 'winQuote') && cmd.closeDeal)));
    const written = moves.filter((m: DealStageMoveRow) => m.seq > before.moveSeq && m.reason !== 'tech_check_required');
    assert.equal(written.length, movers.length, `${context}: each move the burst wrote answered one 2xx, and each 2xx move or close wrote one`);
  }

  async function orderBurst(start: OrderStart, commands: OrderCommand[]): Promise<void> {
    const { rep } = stack.as;
    const { orderId } = await wonOrder(stack, ORDER_VALUE_CENTS);
    if (start.fulfilled !== 'none') await rep.post(`/orders/${orderId}/fulfill`, { status: start.fulfilled, fulfilledOn: today() });
    if (start.fulfilled !== 'none' && start.invoiced) {
      const invoice = await rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`);
      if (start.paidCents) await rep.post(`/invoices/${invoice.body.id}/pay`, { status: 'partial', paidOn: today(), amountCents: start.paidCents });
    }
    const invoices = await stack.db('invoices').where({ order_id: orderId }).orderBy('created_at').select('id', 'total_cents', 'paid_cents');
    const paymentsBefore = Number((await stack.db('invoice_payments').join('invoices', 'invoices.id', 'invoice_payments.invoice_id').where('invoices.order_id', orderId).count({ n: '*' }))[0].n);
    // Partial amounts are distinct, so a stored payment names the request that made it.
    const requests = commands.map((cmd, i): (() => Promise<Reply>) | null => {
      switch (cmd.k) {
        case 'fulfill': return () => rep.post(`/orders/${orderId}/fulfill`, { status: cmd.status, fulfilledOn: today() });
        case 'cancel': return () => rep.post(`/orders/${orderId}/cancel`, { reason: 'customer_request' });
        case 'invoice': return () => rep.post(`/orders/${orderId}/invoices`);
        case 'pay': {
          const invoice = pickOf(invoices, cmd.pick);
          if (!invoice) return null;
          const balance = Number(invoice.total_cents) - Number(invoice.paid_cents);
          const amountCents = cmd.amount === 'complete' ? balance : cmd.amount === 'too_much' ? balance + 1 : 300_000 + i;
          return () => rep.post(`/invoices/${invoice.id}/pay`, { status: cmd.amount === 'complete' ? 'complete' : 'partial', paidOn: today(), amountCents });
        }
        case 'cancelInvoice': {
          const invoice = pickOf(invoices, cmd.pick);
          return invoice ? () => rep.post(`/invoices/${invoice.id}/cancel`, { reason: 'billing_error' }) : null;
        }
      }
    });
    const sent = commands.map((cmd, i) => ({ cmd, i, send: requests[i] })).filter((r): r is { cmd: OrderCommand; i: number; send: () => Promise<Reply> } => r.send !== null);
    const context = `order ${orderId} from ${JSON.stringify(start)}, burst ${JSON.stringify(sent.map((r) => r.cmd))}`;
    const replies = await burst(sent.map((r) => r.send), context);

    const state = await orderState(stack, orderId);
    assert.deepEqual(state.facts, await new OrderStore(stack.db).facts(orderId), `${context}: the workflow's facts (status, fulfilment, invoices and what is paid) are Postgres's`);
    const after = await stack.db('invoices').where({ order_id: orderId }).select('id', 'paid_cents');
    const payments = await stack.db('invoice_payments').join('invoices', 'invoices.id', 'invoice_payments.invoice_id').where('invoices.order_id', orderId).orderBy('invoice_payments.id').select('invoice_payments.invoice_id', 'invoice_payments.kind', 'invoice_payments.amount_cents');
    for (const invoice of after) {
      const sum = payments.filter((p: InvoicePaymentRow) => p.invoice_id === invoice.id).reduce((total: number, p: InvoicePaymentRow) => total + Number(p.amount_cents), 0);
      assert.equal(Number(invoice.paid_cents), sum, `${context}: invoice ${invoice.id}'s paid amount is the sum of its payments`);
    }
    const paid = sent.filter(({ cmd }, n) => cmd.k === 'pay' && replies[n].status < 300);
    assert.equal(payments.length - paymentsBefore, paid.length, `${context}: one payment stored per 2xx payment answer`);
    const partialAnswered = sent.filter(({ cmd }, n) => cmd.k === 'pay' && cmd.amount === 'partial' && replies[n].status < 300).map(({ i }) => 300_000 + i).sort();
    const partialStored = payments.slice(paymentsBefore).filter((p: InvoicePaymentRow) => p.kind === 'partial').map((p: InvoicePaymentRow) => Number(p.amount_cents)).sort();
    assert.deepEqual(partialStored, partialAnswered, `${context}: the partial payments stored are those answered 2xx`);
  }

  it('after every burst, Postgres and the workflow agree on each deal and order, and nothing answered 5xx', async function () {
    this.timeout(Math.max(10 * 60_000, RUNS * PARALLEL * 60_000));
    const burstOf = <T>(command: fc.Arbitrary<T>) => fc.array(command, { minLength: 2, maxLength: SIZE });
    const scenario = fc.oneof(
      fc.record({ deal: dealStart, commands: burstOf(dealCommand) }),
      fc.record({ order: orderStart, commands: burstOf(orderCommand) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(scenario, { minLength: PARALLEL, maxLength: PARALLEL }), async (scenarios) => {
        // Every burst runs to its end before a failure is reported, so none is left running against the stack.
        const outcomes = await Promise.allSettled(scenarios.map((s) => ('deal' in s ? dealBurst(s.deal, s.commands as DealCommand[]) : orderBurst(s.order, s.commands as OrderCommand[]))));
        const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed) throw failed.reason;
      }),
      // Each run drives real processes: report the first failure (with its seed) rather than shrink for minutes.
      { numRuns: RUNS, endOnFailure: true, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    assert.ok(stats.bursts >= RUNS * PARALLEL);
  });
});
