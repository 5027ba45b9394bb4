/**
 * The order workflow on the time-skipping server, driven through the real API with a real worker and
 * Postgres: it waits durably for payment until the invoice's due date (net 30), then puts an overdue
 * task on the owner's timeline; partial payments keep it waiting for the rest; a canceled invoice
 * stops its wait and the replacement waits for its own due date; a long-lived order continues as
 * new, carrying its state.
 */
import assert from 'node:assert/strict';
import type { temporal } from '@temporalio/proto';
import { OrderStore } from '../../db/stores/orders';
import { QuoteStore } from '../../db/stores/quotes';
import type { orderToCashWorkflow } from '../../workflows/orderToCash';
import { getOrderStateQuery, orderWorkflowId } from '../../workflows/orderToCash.contract';
import { PaymentOverdueKey } from '../../workflows/searchAttributes';
import { dealAt } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { invoicedOrder, today } from '../helpers/orders';
import { eventually } from '../helpers/temporal';
import type { InvoiceChanged, InvoiceIssued, Timeline } from '../helpers/apiTypes';

const DAY_MS = 86_400_000;

function timerMs(events: temporal.api.history.v1.IHistoryEvent[]): number[] {
  return events
    .filter((e) => e.timerStartedEventAttributes)
    .map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds ?? 0) * 1000 + Math.round((e.timerStartedEventAttributes!.startToFireTimeout!.nanos ?? 0) / 1e6));
}

describe('order workflow (time-skipping server, real worker, Postgres)', function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'time-skipping' });
  });

  after(async function () {
    await stack?.teardown();
  });

  const overdueTasks = (invoiceId: string) => stack.db('activities').where({ regarding_type: 'invoice', regarding_id: invoiceId, type: 'task' }).orderBy('created_at');
  const pay = (invoiceId: string, status: 'complete' | 'partial', amountCents: number) => stack.as.rep.post<InvoiceChanged>(`/invoices/${invoiceId}/pay`, { status, paidOn: today(), amountCents });
  const handleOf = (orderId: string) => stack.env.client.workflow.getHandle<typeof orderToCashWorkflow>(orderWorkflowId(orderId));

  it('waits for payment until the due date (net 30), then puts an overdue task on the owner’s timeline; paying completes it and ends the process', async function () {
    const { orderId, invoiceId, invoice } = await invoicedOrder(stack, 1_000_000);
    const handle = handleOf(orderId);

    await stack.env.sleep('30 days');
    assert.equal((await overdueTasks(invoiceId)).length, 0, 'nothing on the due date itself');
    assert.equal((await handle.query(getOrderStateQuery)).paymentOverdue, false);

    await stack.env.sleep('1 day');
    const [task] = await eventually(async () => {
      const rows = await overdueTasks(invoiceId);
      return rows.length === 1 && rows;
    }, 'the overdue task');
    assert.deepEqual([task.owner_id, task.status, task.created_by_workflow], [stack.users.rep.id, 'open', orderWorkflowId(orderId)]);
    assert.match(task.subject, new RegExp(`^Invoice ${invoice.invoiceNumber} overdue: \\$10,000\\.00 unpaid`));
    const state = await handle.query(getOrderStateQuery);
    assert.deepEqual([state.paymentOverdue, state.phase, state.facts.invoices[0].overdueActivityId], [true, 'awaiting_payment', task.id]);
    assert.equal((await handle.describe()).typedSearchAttributes.get(PaymentOverdueKey), true);

    const timeline = (await stack.as.rep.get<Timeline>(`/orders/${orderId}/timeline?status=open&type=task`)).body.data;
    assert.deepEqual(timeline.map((a) => [a.id, a.via, a.regardingType]), [[task.id, 'invoice', 'invoice']], 'on the order’s timeline, from its invoice');

    const paid = await pay(invoiceId, 'complete', 1_000_000);
    expectStatus(paid, 200);
    const [done] = await overdueTasks(invoiceId);
    assert.deepEqual([done.status, done.outcome], ['completed', `Paid in full on ${today()}`]);
    const final = await handle.result();
    assert.deepEqual([final.phase, final.paymentOverdue], ['completed', false]);

    const [waited] = timerMs((await handle.fetchHistory()).events!);
    // From the invoice's creation to the end of its due date: a little over 30 days, under 31.
    assert.ok(waited > 30 * DAY_MS && waited <= 31 * DAY_MS, `the wait was ${waited / DAY_MS} days`);
  });

  it('partial payments keep it waiting for the rest: the overdue task comes after the due date and stays open until the balance is paid', async function () {
    const { orderId, invoiceId } = await invoicedOrder(stack, 1_000_000);
    const handle = handleOf(orderId);
    await stack.env.sleep('10 days');
    expectStatus(await pay(invoiceId, 'partial', 400_000), 200);
    await stack.env.sleep('20 days');
    assert.equal((await overdueTasks(invoiceId)).length, 0, 'a partial payment does not settle it, but it is not due yet');
    await stack.env.sleep('1 day');
    const [task] = await eventually(async () => {
      const rows = await overdueTasks(invoiceId);
      return rows.length === 1 && rows;
    }, 'the overdue task');
    assert.match(task.subject, /\$6,000\.00 unpaid/, 'the task names what is still owed');

    const second = await pay(invoiceId, 'partial', 100_000);
    assert.deepEqual([second.body.status, second.body.balanceCents, second.body.process.phase], ['partially_paid', 500_000, 'awaiting_payment']);
    await stack.env.sleep('5 days');
    const waiting = await handle.query(getOrderStateQuery);
    assert.deepEqual([waiting.phase, waiting.paymentOverdue], ['awaiting_payment', true]);
    assert.equal((await overdueTasks(invoiceId)).length, 1, 'one task per invoice, however long it stays unpaid');
    assert.equal((await overdueTasks(invoiceId))[0].status, 'open');

    expectStatus(await pay(invoiceId, 'complete', 500_000), 200);
    const final = await handle.result();
    assert.equal(final.phase, 'completed');
    assert.deepEqual(final.facts.invoices.map((i) => [i.status, i.paidCents]), [['paid', 1_000_000]]);
    assert.equal((await overdueTasks(invoiceId))[0].status, 'completed');
  });

  it('an invoice paid in full before its due date leaves no task, and the process ends with the payment', async function () {
    const { orderId, invoiceId } = await invoicedOrder(stack, 750_000);
    await stack.env.sleep('5 days');
    expectStatus(await pay(invoiceId, 'complete', 750_000), 200);
    const final = await handleOf(orderId).result();
    assert.equal(final.phase, 'completed');
    await stack.env.sleep('60 days');
    assert.equal((await overdueTasks(invoiceId)).length, 0);
  });

  it('canceling an invoice stops its wait; the replacement waits for its own due date (its own payment terms)', async function () {
    const { orderId, invoiceId: first } = await invoicedOrder(stack, 500_000);
    await stack.env.sleep('20 days');
    expectStatus(await stack.as.rep.post(`/invoices/${first}/cancel`, { reason: 'billing_error' }), 200);
    const second = await stack.as.rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`, { paymentTermsDays: 14 });
    expectStatus(second, 201);
    assert.equal(second.body.paymentTermsDays, 14);
    await stack.env.sleep('14 days');
    assert.equal((await overdueTasks(first)).length, 0, 'the canceled invoice’s due date passed without a task');
    assert.equal((await overdueTasks(second.body.id)).length, 0, 'the replacement is not due yet');
    await stack.env.sleep('1 day');
    await eventually(async () => (await overdueTasks(second.body.id)).length === 1, 'the replacement’s overdue task');
    expectStatus(await stack.as.rep.post(`/invoices/${second.body.id}/cancel`, { reason: 'customer_dispute' }), 200);
    assert.equal((await overdueTasks(second.body.id))[0].status, 'canceled', 'canceling the invoice cancels its overdue task');
    assert.equal((await handleOf(orderId).query(getOrderStateQuery)).phase, 'awaiting_invoice');
  });

  it('a long-lived order continues as new, carrying its state: payments, the change count and the wait for the due date', async function () {
    // An order won behind the deal workflow's back, so this test can start its workflow with a small history limit.
    const { dealId, quoteId } = await dealAt(stack, 'close', 900_000);
    const ctx = { actor: { type: 'user' as const, id: stack.users.rep.id }, userId: stack.users.rep.id };
    const orders = new OrderStore(stack.db);
    const order = await stack.db.transaction(async (trx) => orders.createFromQuote(trx, await new QuoteStore(stack.db).win(trx, dealId, quoteId, ctx), stack.users.rep.id, ctx));
    const handle = await stack.env.client.workflow.start('orderToCashWorkflow', {
      workflowId: orderWorkflowId(order.id), taskQueue: stack.taskQueue,
      args: [{ orderId: order.id, facts: await orders.facts(order.id), historyEventLimit: 40 }],
    });
    expectStatus(await stack.as.rep.post(`/orders/${order.id}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
    const invoice = await stack.as.rep.post<InvoiceIssued>(`/orders/${order.id}/invoices`);
    expectStatus(invoice, 201);
    for (let i = 0; i < 6; i++) expectStatus(await pay(invoice.body.id, 'partial', 100_000), 200);
    const state = await handleOf(order.id).query(getOrderStateQuery);
    assert.ok(state.runs >= 1, `continued as new (run ${state.runs + 1})`);
    assert.deepEqual([state.changeSeq, state.facts.invoices[0].paidCents], [8, 600_000], 'the change count and the payments survive');

    await stack.env.sleep('31 days');
    await eventually(async () => (await overdueTasks(invoice.body.id)).length === 1, 'the overdue task after continue-as-new');
    expectStatus(await pay(invoice.body.id, 'complete', 300_000), 200);
    const final = await handleOf(order.id).result();
    assert.deepEqual([final.phase, final.changeSeq, final.facts.invoices[0].paidCents], ['completed', 9, 900_000]);
    assert.equal(handle.firstExecutionRunId !== (await handleOf(order.id).describe()).runId, true, 'the last run is not the first');
  });
});
