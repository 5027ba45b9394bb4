/**
 * Bursts of concurrent requests at one deal or one invoice (dev server, real worker, Postgres): the
 * workflow takes them one at a time, in arrival order, each judged on the state the one before it
 * left, so Postgres and the workflow never part, nothing answers 5xx, and what a client was told
 * happened is exactly what was stored.
 * CONCURRENT_ROUNDS (default 2) bursts per test.
 */
import assert from 'node:assert/strict';
import { DEAL_STAGES, dealWorkflowId, getDealStateQuery, type DealStage } from '../../workflows/dealLifecycle.contract';
import { orderWorkflowId } from '../../workflows/orderToCash.contract';
import { dealAt } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { invoicedOrder, orderEverywhere, orderState, today } from '../helpers/orders';
import { inPool, settled } from '../helpers/bursts';
import type { DealUpdated } from '../helpers/apiTypes';
import type { DealStageMoveRow, InvoicePaymentRow } from '../helpers/rows';

const ROUNDS = Number(process.env.CONCURRENT_ROUNDS ?? 2);
const REQUESTS = 30;
const IN_FLIGHT = 16;

describe('concurrent requests at one deal or invoice (dev server, real worker, Postgres)', function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'dev' });
  });

  after(async function () {
    await stack?.teardown();
  });

  it(`${REQUESTS} concurrent advances with mixed targets (${IN_FLIGHT} in flight): every 200 is one move, and Postgres, its moves and the workflow agree`, async function () {
    this.timeout(ROUNDS * 120_000);
    for (let round = 0; round < ROUNDS; round++) {
      // Worth $10,000.00 with an active quote: every stage but Tech Check is reachable, backwards at will.
      const { dealId } = await dealAt(stack, 'propose', 1_000_000);
      const before = (await stack.db('deals').where({ id: dealId }).first('move_seq')).move_seq as number;
      const targets = Array.from({ length: REQUESTS }, (_, i) => DEAL_STAGES[(i * 7 + round * 3) % DEAL_STAGES.length]);
      const replies = await inPool(targets, IN_FLIGHT, async (to) => settled(stack.url, await stack.as.rep.post(`/deals/${dealId}/advance`, { to }), stack.users.rep.token));

      const context = `round ${round}, deal ${dealId}`;
      const statuses = replies.map((r) => r.status);
      assert.ok(statuses.every((s) => s === 200 || s === 409), `${context}: only 200 and 409, got ${JSON.stringify(replies.filter((r) => r.status !== 200 && r.status !== 409).map((r) => [r.status, r.body]))}`);
      const row = await stack.db('deals').where({ id: dealId }).first('stage', 'status', 'move_seq');
      const moves = await stack.db('deal_stage_moves').where({ deal_id: dealId }).orderBy('seq').select('seq', 'from_stage', 'to_stage');
      const state = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).query(getDealStateQuery);
      assert.deepEqual([state.stage, state.status, state.moveSeq], [row.stage, row.status, row.move_seq], `${context}: the workflow is where Postgres is`);
      assert.deepEqual(moves.map((m: Pick<DealStageMoveRow, 'seq' | 'from_stage' | 'to_stage'>) => m.seq), Array.from({ length: row.move_seq }, (_, i) => i + 1), `${context}: one move per number, none missing`);
      for (const [i, m] of moves.entries()) if (i > 0) assert.equal(m.from_stage, moves[i - 1].to_stage, `${context}: move ${m.seq} starts where move ${m.seq - 1} ended`);
      assert.equal(moves.at(-1).to_stage, row.stage, `${context}: the last move ends in the deal's stage`);
      const recent = state.recentMoves.map((m) => [m.seq, m.from, m.to]);
      assert.equal(new Set(recent.map(([seq]) => seq)).size, recent.length, `${context}: the workflow's recent moves have distinct numbers`);
      assert.deepEqual(recent, moves.slice(-recent.length).map((m: Pick<DealStageMoveRow, 'seq' | 'from_stage' | 'to_stage'>) => [m.seq, m.from_stage, m.to_stage]), `${context}: the workflow's recent moves are Postgres's`);
      assert.equal(statuses.filter((s) => s === 200).length, row.move_seq - before, `${context}: each 200 wrote one move, and each move answered one 200`);

      // The deal is alive: the next valid move succeeds.
      const next = state.allowedMoves.find((m): m is DealStage => (DEAL_STAGES as readonly string[]).includes(m))!;
      expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: next }), 200);
    }
  });

  it(`${REQUESTS} concurrent partial payments of one invoice (${IN_FLIGHT} in flight, no Idempotency-Key): each 200 stored exactly one payment, each refusal none`, async function () {
    this.timeout(ROUNDS * 120_000);
    for (let round = 0; round < ROUNDS; round++) {
      const { orderId, invoiceId } = await invoicedOrder(stack, 1_500_000);
      // Distinct amounts, so each stored payment names the request that made it; together more than the balance.
      const amounts = Array.from({ length: REQUESTS }, (_, i) => 70_000 + i + 1);
      const replies = await inPool(amounts, IN_FLIGHT, async (amountCents) =>
        settled(stack.url, await stack.as.rep.post(`/invoices/${invoiceId}/pay`, { status: 'partial', paidOn: today(), amountCents }), stack.users.rep.token),
      );

      const context = `round ${round}, invoice ${invoiceId}`;
      const unexpected = replies.filter((r) => r.status !== 200 && r.status !== 409 && r.status !== 422);
      assert.deepEqual(unexpected.map((r) => [r.status, r.body]), [], `${context}: only 200, 409 and 422`);
      const stored = (await stack.db('invoice_payments').where({ invoice_id: invoiceId }).select('amount_cents')).map((p: Pick<InvoicePaymentRow, 'amount_cents'>) => Number(p.amount_cents)).sort((a, b) => a - b);
      const answered200 = amounts.filter((_, i) => replies[i].status === 200).sort((a, b) => a - b);
      assert.deepEqual(stored, answered200, `${context}: the payments stored are exactly those answered 200`);
      const invoice = await stack.db('invoices').where({ id: invoiceId }).first('paid_cents', 'total_cents');
      assert.equal(Number(invoice.paid_cents), stored.reduce((a, b) => a + b, 0), `${context}: the invoice's paid amount is the sum of its payments`);
      assert.ok(Number(invoice.total_cents) - Number(invoice.paid_cents) <= amounts.at(-1)!, `${context}: payments were refused only once the balance was too small`);
      const everywhere = await orderEverywhere(stack, orderId);
      assert.deepEqual(everywhere.workflow, everywhere.db, `${context}: the workflow is where Postgres is`);

      // The order is alive: the balance can be paid.
      const balance = Number(invoice.total_cents) - Number(invoice.paid_cents);
      expectStatus(await stack.as.rep.post(`/invoices/${invoiceId}/pay`, { status: 'complete', paidOn: today(), amountCents: balance }), 200);
    }
  });

  /** What the workflow and Postgres say about the deal: stage, status, move count and the last moves. */
  async function dealEverywhere(dealId: string) {
    const row = await stack.db('deals').where({ id: dealId }).first('stage', 'status', 'move_seq');
    const moves = await stack.db('deal_stage_moves').where({ deal_id: dealId }).orderBy('seq').select('seq', 'from_stage', 'to_stage');
    const state = await stack.env.client.workflow.getHandle(dealWorkflowId(dealId)).query(getDealStateQuery);
    return {
      db: [row.stage, row.status, row.move_seq, moves.slice(-state.recentMoves.length).map((m: Pick<DealStageMoveRow, 'seq' | 'from_stage' | 'to_stage'>) => [m.seq, m.from_stage, m.to_stage])],
      workflow: [state.stage, state.status, state.moveSeq, state.recentMoves.map((m) => [m.seq, m.from, m.to])],
      state,
    };
  }

  it('a deal whose rows moved on behind its workflow (as a split by an older build left them) catches up on its next request and goes on', async function () {
    const { dealId } = await dealAt(stack, 'propose', 1_000_000);
    const { workflow: before, state } = await dealEverywhere(dealId);
    assert.deepEqual(before.slice(0, 3), ['propose', 'open', 2]);
    // Postgres moves on to Close (move 3) without the workflow knowing.
    await stack.db('deal_stage_moves').insert({ deal_id: dealId, seq: 3, from_stage: 'propose', to_stage: 'close', moved_by: stack.users.rep.id, workflow_id: dealWorkflowId(dealId), at: new Date().toISOString() });
    await stack.db('deals').where({ id: dealId }).update({ stage: 'close', move_seq: 3, stage_entered_at: new Date().toISOString() });

    // The workflow would write its own move 3 (propose → develop): Postgres holds another one, so it
    // takes Postgres's position and judges the request from Close, where it is still valid.
    const back = await stack.as.rep.post<DealUpdated>(`/deals/${dealId}/advance`, { to: 'develop' });
    expectStatus(back, 200);
    assert.deepEqual([back.body.process.stage, back.body.process.moveSeq], ['develop', 4]);
    let now = await dealEverywhere(dealId);
    assert.deepEqual(now.workflow, now.db, 'the workflow is where Postgres is');
    assert.deepEqual(now.db[3].slice(-2), [[3, 'propose', 'close'], [4, 'close', 'develop']]);

    // Again behind its back, then a change (not a move): the guard finds Postgres elsewhere, the workflow catches up, the change is made.
    await stack.db('deal_stage_moves').insert({ deal_id: dealId, seq: 5, from_stage: 'develop', to_stage: 'qualify', moved_by: stack.users.rep.id, workflow_id: dealWorkflowId(dealId), at: new Date().toISOString() });
    await stack.db('deals').where({ id: dealId }).update({ stage: 'qualify', move_seq: 5, stage_entered_at: new Date().toISOString() });
    // And the change ledger already holds another change under the workflow's next number.
    await stack.db('deal_changes').insert({ idempotency_key: `${dealWorkflowId(dealId)}/change-${state.changeSeq + 1}`, deal_id: dealId, kind: 'quote_activate', result: JSON.stringify({}) });
    const edited = await stack.as.rep.patch(`/deals/${dealId}`, { name: 'Caught up' });
    expectStatus(edited, 200);
    now = await dealEverywhere(dealId);
    assert.deepEqual(now.workflow, now.db, 'the workflow is where Postgres is');
    assert.equal(now.state.facts.name, 'Caught up');
    assert.ok(now.state.changeSeq > state.changeSeq + 1, 'the next change went past the number the ledger held');
    expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'develop' }), 200);
  });

  it('an order whose ledger holds another change under its next number refuses that one request, then goes on', async function () {
    const { orderId, invoiceId } = await invoicedOrder(stack, 1_500_000);
    const before = await orderState(stack, orderId);
    await stack.db('order_changes').insert({ idempotency_key: `${orderWorkflowId(orderId)}/change-${before.changeSeq + 1}`, order_id: orderId, kind: 'cancel_order', result: JSON.stringify({}) });
    expectStatus(await stack.as.rep.post(`/invoices/${invoiceId}/pay`, { status: 'partial', paidOn: today(), amountCents: 100_000 }), 409, 'order_out_of_step');
    assert.equal(Number((await stack.db('invoices').where({ id: invoiceId }).first('paid_cents')).paid_cents), 0, 'nothing was paid');
    expectStatus(await stack.as.rep.post(`/invoices/${invoiceId}/pay`, { status: 'partial', paidOn: today(), amountCents: 100_000 }), 200);
    const everywhere = await orderEverywhere(stack, orderId);
    assert.deepEqual(everywhere.workflow, everywhere.db);
  });
});
