/**
 * The real deal and order workflows on the time-skipping server with stub activities: an in-memory
 * record stands where Postgres would be, so a workflow change is checked in seconds (weeks of
 * waiting skipped) without the API or a database. `npm run test:workflows` runs these alone.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { DealLifecycleActivities } from '../../../activities/dealLifecycle';
import type { OrderToCashActivities } from '../../../activities/orderToCash';
import { needsSendBack, techCheckGate, type DealFacts, type StageMove } from '../../../domain/deal';
import { balanceCents, type OrderFacts } from '../../../domain/order';
import {
  advanceDealUpdate, closeDealUpdate, changeDealUpdate, dealWorkflowId, getDealStateQuery, recordTechCheckUpdate, winQuoteUpdate,
  type ApplyDealChangeInput, type DealChangeResult, type DealProductChange, type TechCheckReminderInput,
} from '../../../workflows/dealLifecycle.contract';
import {
  createInvoiceUpdate, fulfillOrderUpdate, getOrderStateQuery, orderWorkflowId, recordPaymentUpdate, type OrderChange, type OverdueTaskInput,
} from '../../../workflows/orderToCash.contract';
import type { dealLifecycleWorkflow } from '../../../workflows/dealLifecycle';
import { installQuietRuntime, timeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../../helpers/temporal';

const DAY_MS = 86_400_000;
const QUOTE = { id: 'quote-1', quoteNumber: 'Q-1001', revision: 1 };
const REP = 'rep-1';

/** Where Postgres would be: one deal, its order, and what the activities were asked to write. */
class Records {
  deal: DealFacts;
  moves: StageMove[] = [];
  reminders: TechCheckReminderInput[] = [];
  orders = new Map<string, OrderFacts>();
  overdueTasks: OverdueTaskInput[] = [];
  /** The next deal change fails permanently with this code (a data exception, say). */
  failNextChangeWith: string | null = null;

  constructor(valueCents: number) {
    this.deal = { name: 'Doorbells', ownerId: REP, lineCount: 1, valueCents, estimatedValueCents: null, activeQuote: { ...QUOTE, totalCents: valueCents, status: 'active' }, techChecks: [] };
  }

  private changed(input: ApplyDealChangeInput<unknown>, createdId: string | null, extra: Partial<DealChangeResult> = {}): DealChangeResult {
    const sendBack = needsSendBack(input.position.stage, 'open', this.deal);
    const sentBack: StageMove | null = sendBack ? { seq: input.position.moveSeq + 1, from: input.position.stage, to: 'tech_check', by: input.by, at: input.position.at, reason: 'tech_check_required' } : null;
    if (sentBack) this.moves.push(sentBack);
    return { facts: structuredClone(this.deal), sentBack, closed: null, createdId, ...extra };
  }

  activities(): DealLifecycleActivities & OrderToCashActivities {
    return {
      recordDealMove: async ({ move }) => {
        this.moves.push(move);
        return structuredClone(this.deal);
      },
      changeDealProducts: async (input: ApplyDealChangeInput<DealProductChange>) => {
        if (this.failNextChangeWith) {
          const code = this.failNextChangeWith;
          this.failNextChangeWith = null;
          throw ApplicationFailure.create({ message: 'refused by the database', type: code, nonRetryable: true, details: [{ kind: 'field' }] });
        }
        if (input.change.kind === 'add_line') {
          this.deal.lineCount += 1;
          this.deal.valueCents += input.change.quantity * (input.change.unitPriceCents ?? 0);
        }
        return this.changed(input, `line-${this.deal.lineCount}`);
      },
      changeQuote: async (input) => this.changed(input, null),
      recordTechCheck: async (input) => {
        this.deal.techChecks.push({ id: `check-${this.deal.techChecks.length + 1}`, quoteId: input.change.quoteId, quoteRevision: QUOTE.revision, outcome: input.change.outcome, completedAt: input.change.completedAt, performedBy: input.by });
        return this.changed(input, `check-${this.deal.techChecks.length}`);
      },
      winQuote: async (input) => {
        const orderId = `order-of-${input.dealId}`;
        this.deal.activeQuote = { ...this.deal.activeQuote!, status: 'won' };
        const order: OrderFacts = { orderNumber: 'ORD-1001', name: 'Doorbells', dealId: input.dealId, ownerId: REP, totalCents: this.deal.valueCents, status: 'open', fulfillmentCount: 0, invoices: [] };
        this.orders.set(orderId, order);
        const move: StageMove = { seq: input.position.moveSeq + 1, from: input.position.stage, to: 'won', by: input.by, at: input.position.at, reason: null };
        if (input.change.closeDeal) this.moves.push(move);
        return { facts: structuredClone(this.deal), sentBack: null, closed: input.change.closeDeal ? { move, reason: null, actualRevenueCents: this.deal.valueCents } : null, createdId: orderId, order: { orderId, facts: structuredClone(order) } };
      },
      createTechCheckReminder: async (input) => {
        this.reminders.push(input);
        return { activityId: `reminder-${this.reminders.length}` };
      },
      applyOrderChange: async ({ orderId, change }) => {
        const order = this.orders.get(orderId)!;
        let createdId: string | null = null;
        applyOrder(order, change, (id) => (createdId = id));
        return { facts: structuredClone(order), createdId };
      },
      createOverdueTask: async (input) => {
        this.overdueTasks.push(input);
        const order = this.orders.get(input.orderId)!;
        const activityId = `overdue-${this.overdueTasks.length}`;
        order.invoices.find((i) => i.id === input.invoiceId)!.overdueActivityId = activityId;
        return { activityId, facts: structuredClone(order) };
      },
    };
  }
}

function applyOrder(order: OrderFacts, change: OrderChange, created: (id: string) => void): void {
  switch (change.kind) {
    case 'fulfill':
      order.status = change.fulfillment === 'complete' ? 'fulfilled' : 'partially_fulfilled';
      order.fulfillmentCount += 1;
      return;
    case 'create_invoice': {
      const id = `invoice-${order.invoices.length + 1}`;
      order.invoices.push({ id, invoiceNumber: 'INV-1001', status: 'open', totalCents: order.totalCents, paidCents: 0, issuedOn: change.issuedOn, dueOn: change.dueOn, overdueActivityId: null });
      created(id);
      return;
    }
    case 'record_payment': {
      const invoice = order.invoices.find((i) => i.id === change.invoiceId)!;
      invoice.paidCents += change.amountCents;
      invoice.status = balanceCents(invoice) === 0 ? 'paid' : 'partially_paid';
      return;
    }
    default:
      throw new Error(`the stub does not apply ${change.kind}`);
  }
}

describe('deal and order workflows with stub activities (time-skipping server, no database)', function () {
  let env: TestWorkflowEnvironment;

  // A server per test: an order left waiting by one test (the deal's child, no worker polling its
  // queue any more) would let the server skip time past it and change what the next one sees.
  beforeEach(async function () {
    installQuietRuntime();
    env = await timeSkippingEnv();
  });

  afterEach(async function () {
    await env?.teardown();
  });

  /** Runs `body` with a worker whose activities are `records`' stubs. */
  async function withWorker<T>(records: Records, body: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = uniqueTaskQueue('stubbed');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: records.activities() });
    return worker.runUntil(body(taskQueue));
  }

  async function startDeal(taskQueue: string, records: Records, dealId: string) {
    return env.client.workflow.start<typeof dealLifecycleWorkflow>('dealLifecycleWorkflow', {
      taskQueue, workflowId: dealWorkflowId(dealId),
      args: [{ dealId, facts: structuredClone(records.deal), stageEnteredAt: new Date().toISOString(), reminderSchedule: { techConsultantsAfterMs: 2 * DAY_MS, managerAfterMs: 5 * DAY_MS } }],
    });
  }

  const refusalCode = (error: unknown): string | undefined => (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure ? (error.cause.type ?? undefined) : undefined);

  it('above $20,000.00 the gate holds until a passed check; the consultants are reminded after 2 days and the manager after 5; the win starts the order', async function () {
    const records = new Records(2_000_001);
    await withWorker(records, async (taskQueue) => {
      const deal = await startDeal(taskQueue, records, 'deal-gate');
      for (const to of ['develop', 'propose', 'tech_check'] as const) await deal.executeUpdate(advanceDealUpdate, { args: [{ to, by: REP }] });
      await assert.rejects(deal.executeUpdate(advanceDealUpdate, { args: [{ to: 'close', by: REP }] }), (error) => refusalCode(error) === 'tech_check_required');

      await env.sleep(2 * DAY_MS - 60_000);
      assert.deepEqual(records.reminders.map((r) => r.kind), [], 'no reminder before 2 days');
      await env.sleep(2 * 60_000);
      assert.deepEqual(records.reminders.map((r) => r.kind), ['tech_consultants']);
      await env.sleep(3 * DAY_MS);
      assert.deepEqual(records.reminders.map((r) => r.kind), ['tech_consultants', 'manager']);

      await deal.executeUpdate(recordTechCheckUpdate, { args: [{ quoteId: QUOTE.id, outcome: 'passed', completedAt: new Date().toISOString(), notes: 'Fine.', by: 'tc-1' }] });
      assert.equal(techCheckGate(records.deal).satisfied, true);
      await deal.executeUpdate(advanceDealUpdate, { args: [{ to: 'close', by: REP }] });
      const won = await deal.executeUpdate(winQuoteUpdate, { args: [{ quoteId: QUOTE.id, closeDeal: true, by: REP }] });
      assert.equal(won.createdId, 'order-of-deal-gate');
      const final = await deal.result();
      assert.equal(final.status, 'won');
      assert.deepEqual(records.moves.map((m) => m.to), ['develop', 'propose', 'tech_check', 'close', 'won']);
      const order = env.client.workflow.getHandle(orderWorkflowId('order-of-deal-gate'));
      assert.equal((await order.query(getOrderStateQuery)).phase, 'awaiting_fulfillment');
    });
  });

  it('at exactly $20,000.00 the deal goes from Propose straight to Close and is won without a check', async function () {
    const records = new Records(2_000_000);
    await withWorker(records, async (taskQueue) => {
      const deal = await startDeal(taskQueue, records, 'deal-edge');
      for (const to of ['develop', 'propose'] as const) await deal.executeUpdate(advanceDealUpdate, { args: [{ to, by: REP }] });
      await assert.rejects(deal.executeUpdate(advanceDealUpdate, { args: [{ to: 'tech_check', by: REP }] }), (error) => refusalCode(error) === 'tech_check_not_required');
      await deal.executeUpdate(advanceDealUpdate, { args: [{ to: 'close', by: REP }] });
      await deal.executeUpdate(winQuoteUpdate, { args: [{ quoteId: QUOTE.id, closeDeal: true, by: REP }] });
      assert.equal((await deal.result()).status, 'won');
      assert.deepEqual(records.reminders, []);
    });
  });

  it('a permanent failure of a write refuses that Update at once with its code; the next change succeeds', async function () {
    const records = new Records(1_000_000);
    await withWorker(records, async (taskQueue) => {
      const deal = await startDeal(taskQueue, records, 'deal-permanent');
      records.failNextChangeWith = 'invalid_text';
      const change = { kind: 'add_line' as const, productId: 'p1', quantity: 1, unitPriceCents: 500 };
      await assert.rejects(deal.executeUpdate(changeDealUpdate, { args: [{ change, by: REP }] }), (error) => refusalCode(error) === 'invalid_text');
      const next = await deal.executeUpdate(changeDealUpdate, { args: [{ change, by: REP }] });
      assert.equal(next.state.facts.lineCount, 2);
      await deal.executeUpdate(closeDealUpdate, { args: [{ outcome: 'lost', reason: 'no budget', by: REP }] });
      assert.equal((await deal.result()).status, 'lost');
      assert.equal((await deal.query(getDealStateQuery)).closeReason, 'no budget');
    });
  });

  it('an invoice unpaid past its due date gets one overdue task, not a day earlier; paying it completes the order', async function () {
    const records = new Records(1_000_000);
    const order: OrderFacts = { orderNumber: 'ORD-2001', name: 'Doorbells', dealId: 'deal-x', ownerId: REP, totalCents: 1_000_000, status: 'open', fulfillmentCount: 0, invoices: [] };
    records.orders.set('order-due', order);
    await withWorker(records, async (taskQueue) => {
      const handle = await env.client.workflow.start('orderToCashWorkflow', { taskQueue, workflowId: orderWorkflowId('order-due'), args: [{ orderId: 'order-due', facts: structuredClone(order) }] });
      await handle.executeUpdate(fulfillOrderUpdate, { args: [{ kind: 'complete', fulfilledOn: new Date().toISOString().slice(0, 10), by: REP }] });
      const invoiced = await handle.executeUpdate(createInvoiceUpdate, { args: [{ paymentTermsDays: 30, by: REP }] });
      const invoiceId = invoiced.createdId!;
      await env.sleep(30 * DAY_MS - 60_000);
      assert.deepEqual(records.overdueTasks, [], 'not overdue on its due date');
      await env.sleep(2 * DAY_MS);
      assert.deepEqual(records.overdueTasks, [{ orderId: 'order-due', invoiceId }]);
      await handle.executeUpdate(recordPaymentUpdate, { args: [{ invoiceId, kind: 'complete', paidOn: new Date().toISOString().slice(0, 10), amountCents: 1_000_000, by: REP }] });
      const final = (await handle.result()) as { phase: string };
      assert.equal(final.phase, 'completed');
      assert.equal(records.overdueTasks.length, 1);
    });
  });
});
