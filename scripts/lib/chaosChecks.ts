/**
 * What a chaos run must leave behind, checked on Postgres's rows and on each workflow's own state
 * (queried through Temporal), once the killing has stopped and the stack is whole again:
 * - every process finished, or waits where it should: a nurture sequence did its intro call and
 *   waits for the information email (due a day later); a deal is won and its run has completed; an
 *   order is fulfilled and paid and its run has completed;
 * - exactly one row per step: one timeline activity per nurture step key, one nurture_steps row per
 *   step done, one deal_stage_moves row per move number (and only the moves the client made), one
 *   line, quote and Tech Check per deal as the client made them, one order per won quote, one
 *   fulfillment, ledger change and payment row per request the client made: every payment once;
 * - Postgres = workflow: stage, status, moveSeq and facts of every deal; status, fulfillments,
 *   invoices and payments of every order.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Db } from '../../db/knex';
import { dealWorkflowId, getDealStateQuery, type DealState } from '../../workflows/dealLifecycle.contract';
import { NURTURE_CADENCE_V1, getNurtureStateQuery, nurtureWorkflowId, type NurtureState } from '../../workflows/leadNurture.contract';
import { getOrderStateQuery, orderWorkflowId, type OrderState } from '../../workflows/orderToCash.contract';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Violation {
  process: string;
  check: string;
  detail: string;
}

/** What the client did in a nurture journey, as far as it got. */
export interface NurtureRecord {
  name: string;
  leadId: string | null;
  error: string | null;
}

/** What the client did in a sale journey (deal to won, order to paid), as far as it got. */
export interface SaleRecord {
  name: string;
  valueCents: number;
  techCheck: boolean;
  leadId: string | null;
  dealId: string | null;
  quoteId: string | null;
  orderId: string | null;
  invoiceId: string | null;
  /** The deal's moves the client asked for, in order (the close as `won`). */
  moves: string[];
  fulfillments: Array<'partial' | 'complete'>;
  payments: Array<{ kind: 'partial' | 'complete'; amountCents: number }>;
  error: string | null;
}

const SETTLE_POLL_MS = 1_000;
/** The workflow projects the next step from the completion's own timestamp: they agree to the millisecond. */
const GAP_TOLERANCE_MS = 1_000;

/** Retries a read through Temporal (a worker may still be starting) until it answers or time is up. */
async function patiently<T>(what: string, read: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await sleep(SETTLE_POLL_MS);
    }
  }
}

async function executions(temporal: Client, workflowId: string): Promise<WorkflowExecutionInfo[]> {
  const found: WorkflowExecutionInfo[] = [];
  for await (const execution of temporal.workflow.list({ query: `WorkflowId = '${workflowId}'` })) found.push(execution);
  return found;
}

/**
 * Waits until every process has got where it is going (intro calls done, orders' runs completed),
 * at most `timeoutMs`; what has not by then is reported by the checks.
 */
export async function settle(temporal: Client, nurtures: NurtureRecord[], sales: SaleRecord[], timeoutMs: number): Promise<number> {
  const started = Date.now();
  const pending = async (): Promise<number> => {
    let left = 0;
    for (const n of nurtures) {
      if (!n.leadId) continue;
      const state = await temporal.workflow.getHandle(nurtureWorkflowId(n.leadId)).query(getNurtureStateQuery).catch(() => null);
      if (state?.steps[0]?.state !== 'done') left += 1;
    }
    for (const s of sales) {
      if (!s.orderId || s.error) continue;
      const description = await temporal.workflow.getHandle(orderWorkflowId(s.orderId)).describe().catch(() => null);
      if (description?.status.name !== 'COMPLETED') left += 1;
    }
    return left;
  };
  while ((await pending()) > 0 && Date.now() - started < timeoutMs) await sleep(SETTLE_POLL_MS);
  return (Date.now() - started) / 1000;
}

const num = (v: unknown): number => Number(v);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export async function checkInvariants(db: Db, temporal: Client, nurtures: NurtureRecord[], sales: SaleRecord[]): Promise<{ violations: Violation[]; checks: number }> {
  const violations: Violation[] = [];
  let checks = 0;
  const expect = (process: string, check: string, ok: boolean, detail: () => string) => {
    checks += 1;
    if (!ok) violations.push({ process, check, detail: detail() });
  };

  // A process whose state cannot be read (a query that never answers) is a violation, not an abort.
  const guarded = async (name: string, check: () => Promise<void>) => {
    try {
      await check();
    } catch (error) {
      expect(name, 'its records and workflow can be read', false, () => (error as Error).message);
    }
  };

  for (const n of nurtures) await guarded(n.name, async () => {
    const name = `${n.name}${n.leadId ? ` (lead ${n.leadId})` : ''}`;
    expect(name, 'the client finished its requests', n.error === null, () => n.error ?? '');
    if (!n.leadId) return;
    const workflowId = nurtureWorkflowId(n.leadId);
    const runs = await patiently(`${workflowId} executions`, () => executions(temporal, workflowId));
    expect(name, 'one nurture run per enrollment', runs.length === 1, () => `${runs.length} runs: ${runs.map((r) => `${r.runId} ${r.status.name}`).join(', ')}`);
    const state = await patiently<NurtureState>(`${workflowId} state`, () => temporal.workflow.getHandle(workflowId).query(getNurtureStateQuery));
    const waiting = state.status === 'running' && state.currentStep === 'information_email' && state.steps[0].state === 'done'
      && state.steps.slice(1).every((s) => s.state === 'pending');
    expect(name, 'intro call done, waiting for the information email', waiting, () => `status ${state.status}, current ${state.currentStep}, steps ${state.steps.map((s) => `${s.step}:${s.state}`).join(' ')}`);
    // The gap runs from the intro call's completion, whatever crashed in between.
    const gap = Date.parse(state.nextStepAt ?? '') - Date.parse(state.steps[0].doneAt ?? '');
    expect(name, 'the information email is due one gap after the intro call', Math.abs(gap - NURTURE_CADENCE_V1.steps[1].gapMs) < GAP_TOLERANCE_MS,
      () => `intro call done ${state.steps[0].doneAt}, next step at ${state.nextStepAt}`);
    const runId = runs[0]?.runId;
    const stepRows = await db('nurture_steps').where({ lead_id: n.leadId }).orderBy('step_index').select('run_id', 'step', 'state', 'activity_id');
    expect(name, 'one nurture_steps row per step done', same(stepRows.map((r) => [r.run_id, r.step, r.state, r.activity_id]), [[runId, 'intro_call', 'done', state.steps[0].activityId]]),
      () => `rows ${JSON.stringify(stepRows)}; workflow run ${runId}, intro call activity ${state.steps[0].activityId}`);
    const activities = await db('activities').where({ regarding_type: 'lead', regarding_id: n.leadId }).whereNotNull('created_by_workflow').select('id', 'type', 'idempotency_key');
    const perStep = new Map<string, number>();
    for (const a of activities) {
      const step = String(a.idempotency_key).split('/').pop()!;
      perStep.set(step, (perStep.get(step) ?? 0) + 1);
    }
    expect(name, 'one timeline activity per nurture step key', same([...perStep.entries()], [['intro_call', 1]]) && activities[0]?.idempotency_key === `${workflowId}/${runId}/intro_call`,
      () => `activities ${JSON.stringify(activities)}`);
  });

  for (const s of sales) await guarded(s.name, async () => {
    const name = `${s.name}${s.dealId ? ` (deal ${s.dealId})` : ''}`;
    expect(name, 'the client finished its requests', s.error === null, () => s.error ?? '');
    if (s.leadId) {
      const deals = await db('deals').where({ lead_id: s.leadId }).count({ n: '*' });
      // Without an answer to its qualification the client cannot know whether the deal exists; at most one may.
      expect(name, 'one deal per qualified lead', s.dealId ? num(deals[0].n) === 1 : num(deals[0].n) <= 1, () => `${deals[0].n} deals for lead ${s.leadId}`);
    }
    if (!s.dealId) return;
    const deal = await db('deals').where({ id: s.dealId }).first();
    const lines = await db('deal_lines').where({ deal_id: s.dealId }).select('id');
    const quotes = await db('quotes').where({ deal_id: s.dealId }).orderBy('created_at').select('id', 'status', 'revision', 'total_cents', 'quote_number');
    const checksRows = await db('tech_checks').where({ deal_id: s.dealId }).orderBy('created_at').select('id', 'quote_id', 'outcome');
    const moves = await db('deal_stage_moves').where({ deal_id: s.dealId }).orderBy('seq').select('seq', 'from_stage', 'to_stage');
    const orders = await db('orders').where({ deal_id: s.dealId }).select('id', 'quote_id', 'total_cents', 'status');

    if (!s.error) {
      expect(name, 'the deal is won', deal.status === 'won' && deal.stage === 'close', () => `${deal.stage}/${deal.status}`);
      expect(name, 'one deal_stage_moves row per move, the moves the client made', same(moves.map((m) => [m.seq, m.to_stage]), s.moves.map((to, i) => [i + 1, to])),
        () => `rows ${JSON.stringify(moves.map((m) => [m.seq, m.from_stage, m.to_stage]))}, client moved ${JSON.stringify(s.moves)}`);
      expect(name, 'one line, one quote, the Tech Checks the client recorded', lines.length === 1 && quotes.length === 1 && checksRows.length === (s.techCheck ? 1 : 0),
        () => `${lines.length} lines, ${quotes.length} quotes, ${checksRows.length} Tech Checks (client: 1, 1, ${s.techCheck ? 1 : 0})`);
    }
    expect(name, 'move numbers 1..moveSeq, no gap, no double', same(moves.map((m) => m.seq), moves.map((_, i) => i + 1)) && moves.length === deal.move_seq,
      () => `seqs ${JSON.stringify(moves.map((m) => m.seq))}, deals.move_seq ${deal.move_seq}`);
    const won = quotes.filter((q) => q.status === 'won');
    expect(name, 'one order per won quote', same(orders.map((o) => [o.quote_id, num(o.total_cents)]).sort(), won.map((q) => [q.id, num(q.total_cents)]).sort()),
      () => `orders ${JSON.stringify(orders)}, won quotes ${JSON.stringify(won)}`);

    const workflowId = dealWorkflowId(s.dealId);
    const runs = await patiently(`${workflowId} executions`, () => executions(temporal, workflowId));
    expect(name, 'one deal run', runs.length === 1, () => `${runs.length} runs`);
    if (deal.status !== 'open') {
      expect(name, 'the closed deal’s run has completed', runs[0]?.status.name === 'COMPLETED', () => `run ${runs[0]?.runId} is ${runs[0]?.status.name}`);
    }
    const state = await patiently<DealState>(`${workflowId} state`, () => temporal.workflow.getHandle(workflowId).query(getDealStateQuery));
    expect(name, 'Postgres = workflow: stage, status, moveSeq', same([state.stage, state.status, state.moveSeq], [deal.stage, deal.status, deal.move_seq]),
      () => `workflow ${state.stage}/${state.status}/${state.moveSeq}, Postgres ${deal.stage}/${deal.status}/${deal.move_seq}`);
    const active = quotes.find((q) => q.status === 'active' || q.status === 'won') ?? null;
    const rowFacts = {
      name: deal.name, ownerId: deal.owner_id, lineCount: lines.length, valueCents: num(deal.value_cents),
      estimatedValueCents: deal.estimated_value_cents === null ? null : num(deal.estimated_value_cents),
      activeQuote: active && { id: active.id, quoteNumber: active.quote_number, revision: active.revision, totalCents: num(active.total_cents), status: active.status },
      techChecks: checksRows.map((c) => [c.id, c.quote_id, c.outcome]),
    };
    const flowFacts = {
      name: state.facts.name, ownerId: state.facts.ownerId, lineCount: state.facts.lineCount, valueCents: state.facts.valueCents,
      estimatedValueCents: state.facts.estimatedValueCents,
      activeQuote: state.facts.activeQuote && { ...state.facts.activeQuote, status: state.facts.activeQuote.status ?? 'active' },
      techChecks: state.facts.techChecks.map((c) => [c.id, c.quoteId, c.outcome]),
    };
    expect(name, 'Postgres = workflow: facts', same(flowFacts, rowFacts), () => `workflow ${JSON.stringify(flowFacts)}, Postgres ${JSON.stringify(rowFacts)}`);
    const rowMoves = new Map(moves.map((m) => [m.seq, `${m.from_stage}>${m.to_stage}`]));
    expect(name, 'Postgres = workflow: recent moves', state.recentMoves.every((m) => rowMoves.get(m.seq) === `${m.from}>${m.to}`),
      () => `workflow ${JSON.stringify(state.recentMoves.map((m) => [m.seq, m.from, m.to]))}, Postgres ${JSON.stringify([...rowMoves])}`);

    for (const order of orders) await checkOrder(db, temporal, name, order.id, s, expect);
  });

  const clientLeads = [...nurtures.map((n) => n.leadId), ...sales.map((s) => s.leadId)].filter(Boolean);
  const [{ n: leadRows }] = await db('leads').count({ n: '*' });
  expect('all', 'one lead per lead the client created', num(leadRows) === clientLeads.length, () => `${leadRows} leads, the client created ${clientLeads.length}`);
  return { violations, checks };
}

async function checkOrder(db: Db, temporal: Client, name: string, orderId: string, s: SaleRecord, expect: (p: string, c: string, ok: boolean, d: () => string) => void): Promise<void> {
  const who = `${name} order ${orderId}`;
  const order = await db('orders').where({ id: orderId }).first();
  const fulfillments = await db('order_fulfillments').where({ order_id: orderId }).orderBy('seq').select('seq', 'kind');
  const invoices = await db('invoices').where({ order_id: orderId }).orderBy('created_at').select('id', 'status', 'total_cents', 'paid_cents');
  const payments = await db('invoice_payments').whereIn('invoice_id', invoices.map((i) => i.id)).orderBy(['invoice_id', 'seq']).select('invoice_id', 'seq', 'kind', 'amount_cents');
  const ledger = await db('order_changes').where({ order_id: orderId }).select('idempotency_key', 'kind');

  if (!s.error && s.orderId === orderId) {
    expect(who, 'the order is fulfilled and paid', order.status === 'fulfilled' && invoices.length === 1 && invoices[0].status === 'paid' && num(invoices[0].paid_cents) === num(invoices[0].total_cents),
      () => `order ${order.status}, invoices ${JSON.stringify(invoices)}`);
    expect(who, 'one fulfillment row per fulfillment the client recorded', same(fulfillments.map((f) => f.kind), s.fulfillments), () => `rows ${JSON.stringify(fulfillments)}, client ${JSON.stringify(s.fulfillments)}`);
    expect(who, 'every payment recorded once', same(payments.map((p) => [p.kind, num(p.amount_cents)]), s.payments.map((p) => [p.kind, p.amountCents])),
      () => `rows ${JSON.stringify(payments.map((p) => [p.seq, p.kind, num(p.amount_cents)]))}, client paid ${JSON.stringify(s.payments)}`);
    const changes = s.fulfillments.length + 1 + s.payments.length;
    expect(who, 'one ledger change per change the client made', ledger.length === changes, () => `${ledger.length} order_changes rows (${ledger.map((l) => l.kind).join(', ')}), client made ${changes} changes`);
  }

  const workflowId = orderWorkflowId(orderId);
  const runs = await patiently(`${workflowId} executions`, () => executions(temporal, workflowId));
  expect(who, 'one order run', runs.length === 1, () => `${runs.length} runs`);
  if (order.status === 'fulfilled' && invoices.some((i) => i.status === 'paid')) {
    expect(who, 'the paid order’s run has completed', runs[0]?.status.name === 'COMPLETED', () => `run ${runs[0]?.runId} is ${runs[0]?.status.name}`);
  }
  const state = await patiently<OrderState>(`${workflowId} state`, () => temporal.workflow.getHandle(workflowId).query(getOrderStateQuery));
  const rows = {
    status: order.status, totalCents: num(order.total_cents), fulfillmentCount: fulfillments.length,
    invoices: invoices.map((i) => [i.id, i.status, num(i.total_cents), num(i.paid_cents)]),
  };
  const flow = {
    status: state.facts.status, totalCents: state.facts.totalCents, fulfillmentCount: state.facts.fulfillmentCount,
    invoices: state.facts.invoices.map((i) => [i.id, i.status, i.totalCents, i.paidCents]),
  };
  expect(who, 'Postgres = workflow: status, fulfillments, invoices, payments', same(flow, rows), () => `workflow ${JSON.stringify(flow)}, Postgres ${JSON.stringify(rows)}`);
}
