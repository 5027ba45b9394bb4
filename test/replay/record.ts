/**
 * `npm run histories:record`: runs completed nurture, deal and order scenarios on the time-skipping
 * server (real worker, API, embedded Postgres, MailDev: the test stack) and writes each run's history
 * to test/replay/histories/<workflowType>-<scenario>.json, the proto JSON replay.test.ts feeds to
 * `Worker.runReplayHistories`. Re-record when a workflow changes on purpose (behind `patched()`
 * for running executions) and keep the old files: they prove old runs still replay.
 * `npm run histories:record -- orders` records only the order scenarios (`deals` or `nurture`: the
 * nurture and deal scenarios, which are recorded together; `concurrent`: bursts of concurrent
 * Updates at a deal and an order; `sequences`: the sequence enrollments of issue 9). HISTORY_SUFFIX is appended to each file name, to keep a recording
 * made with older code beside the current one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DealStore } from '../../db/stores/deals';
import { LeadQualification } from '../../db/stores/leadQualification';
import { OrderStore } from '../../db/stores/orders';
import { QuoteStore } from '../../db/stores/quotes';
import { DEFAULT_TECH_CHECK_REMINDERS, dealWorkflowId } from '../../workflows/dealLifecycle.contract';
import { orderWorkflowId } from '../../workflows/orderToCash.contract';
import { nurtureWorkflowId } from '../../workflows/leadNurture.contract';
import { enrollmentWorkflowId } from '../../workflows/sequenceEnrollment.contract';
import { mochaGlobalSetup, mochaGlobalTeardown } from '../setup';
import { dealAt, productId, techCheckBody } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { createLead } from '../helpers/fixtures';
import { invoicedOrder, today } from '../helpers/orders';
import { eventually } from '../helpers/temporal';
import { SAMPLE_DIR, importDir } from '../customers/helpers';
import { requestUnification, waitForUnification } from '../../api/unificationClient';
import type { InvoiceChanged, InvoiceIssued, Qualified, OrderWon, QuoteChanged, QuoteDetail } from '../helpers/apiTypes';

const OUT = path.join(__dirname, 'histories');
const ABOVE = 2_000_001;
const AT = 2_000_000;

async function save(handle: WorkflowHandle, file: string): Promise<void> {
  const history = await handle.fetchHistory();
  const json = temporal.api.history.v1.History.fromObject(history).toJSON();
  fs.writeFileSync(path.join(OUT, `${file}.json`), `${JSON.stringify(json, null, 1)}\n`);
  console.log(`recorded ${file}.json (${history.events?.length} events)`);
}

/** Every run of a workflow id that continued as new, first to last (the time-skipping server has no visibility list). */
async function saveRuns(stack: TestStack, workflowId: string, firstRunId: string, file: string): Promise<void> {
  const runs: string[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    runs.push(runId);
    const history = await stack.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  if (runs.length < 2) throw new Error(`expected ${workflowId} to continue as new, got ${runs.length} run(s)`);
  for (const [index, id] of runs.entries()) await save(stack.env.client.workflow.getHandle(workflowId, id), `${file}-run${index + 1}`);
}

async function orderScenarios(stack: TestStack): Promise<void> {
  const { env, as, db, users } = stack;
  const client = env.client;
  const pay = (invoiceId: string, status: 'complete' | 'partial', amountCents: number) => as.rep.post<InvoiceChanged>(`/invoices/${invoiceId}/pay`, { status, paidOn: today(), amountCents });

  // A quote won with the deal closed; partly fulfilled, then completely; invoiced; a partial payment,
  // the due date passes (overdue task), the rest paid. Both the deal's and the order's histories.
  const paidLate = await dealAt(stack, 'close', 1_800_000);
  const won = await as.rep.post<OrderWon>(`/quotes/${paidLate.quoteId}/win`, { closeDeal: true });
  expectStatus(won, 201);
  const dealRun = client.workflow.getHandle(dealWorkflowId(paidLate.dealId));
  // Not `result()`: awaiting a result lets the time-skipping server skip ahead, up to the 10-year
  // execution timeout it gives every workflow — which would time out the idle order.
  await eventually(async () => (await dealRun.describe()).status.name === 'COMPLETED', 'the deal to be won');
  await save(dealRun, 'dealLifecycleWorkflow-won-by-winning-its-quote');
  const orderId: string = won.body.id;
  expectStatus(await as.rep.post(`/orders/${orderId}/fulfill`, { status: 'partial', fulfilledOn: today() }), 200);
  expectStatus(await as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
  const invoice = await as.rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`);
  expectStatus(invoice, 201);
  await env.sleep('10 days');
  expectStatus(await pay(invoice.body.id, 'partial', 800_000), 200);
  await env.sleep('25 days');
  await eventually(async () => (await db('invoices').where({ id: invoice.body.id }).first()).overdue_activity_id, 'the overdue task');
  expectStatus(await pay(invoice.body.id, 'complete', 1_000_000), 200);
  const paid = client.workflow.getHandle(orderWorkflowId(orderId));
  await paid.result();
  await save(paid, 'orderToCashWorkflow-paid-after-overdue');

  // Canceled before fulfilment.
  const canceled = await dealAt(stack, 'close', 500_000);
  const canceledOrder = await as.rep.post<OrderWon>(`/quotes/${canceled.quoteId}/win`);
  expectStatus(await as.rep.post(`/orders/${canceledOrder.body.id}/cancel`, { reason: 'customer_request', description: 'Moved offices' }), 200);
  const canceledRun = client.workflow.getHandle(orderWorkflowId(canceledOrder.body.id));
  await canceledRun.result();
  await save(canceledRun, 'orderToCashWorkflow-canceled');

  // Invoice canceled and reissued under a new number, then paid before the due date.
  const reissued = await invoicedOrder(stack, 640_000);
  await env.sleep('3 days');
  expectStatus(await as.rep.post(`/invoices/${reissued.invoiceId}/cancel`, { reason: 'billing_error' }), 200);
  const second = await as.rep.post<InvoiceIssued>(`/orders/${reissued.orderId}/invoices`, { paymentTermsDays: 14 });
  expectStatus(await pay(second.body.id, 'complete', 640_000), 200);
  const reissuedRun = client.workflow.getHandle(orderWorkflowId(reissued.orderId));
  await reissuedRun.result();
  await save(reissuedRun, 'orderToCashWorkflow-invoice-reissued-paid-on-time');

  // An order started with a small history limit continues as new while payments come in.
  const long = await dealAt(stack, 'close', 900_000);
  const ctx = { actor: { type: 'user' as const, id: users.rep.id }, userId: users.rep.id };
  const orders = new OrderStore(db);
  const order = await db.transaction(async (trx) => orders.createFromQuote(trx, await new QuoteStore(db).win(trx, long.dealId, long.quoteId, ctx), users.rep.id, ctx));
  const started = await client.workflow.start('orderToCashWorkflow', {
    workflowId: orderWorkflowId(order.id), taskQueue: stack.taskQueue, args: [{ orderId: order.id, facts: await orders.facts(order.id), historyEventLimit: 40 }],
  });
  expectStatus(await as.rep.post(`/orders/${order.id}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
  const longInvoice = await as.rep.post<InvoiceIssued>(`/orders/${order.id}/invoices`);
  for (let i = 0; i < 6; i++) expectStatus(await pay(longInvoice.body.id, 'partial', 100_000), 200);
  expectStatus(await pay(longInvoice.body.id, 'complete', 300_000), 200);
  await client.workflow.getHandle(orderWorkflowId(order.id)).result();
  await saveRuns(stack, started.workflowId, started.firstExecutionRunId, 'orderToCashWorkflow-continued-as-new');
}

/**
 * Bursts of concurrent Updates, so handlers queue for the entity's lock: a deal's concurrent changes
 * and identical moves, an order's concurrent payments; then each is taken to its end where it can be.
 * Tolerant of refusals: recorded with older code too, whose queue let handlers in together.
 */
async function concurrentScenarios(stack: TestStack, suffix: string): Promise<void> {
  const { env, as, db } = stack;
  const client = env.client;
  const settle = async (handle: WorkflowHandle, file: string) => {
    await eventually(async () => (await handle.describe()).status.name !== 'RUNNING', `${file} to end`, 10_000).catch(() => undefined);
    await save(handle, file);
  };

  const { dealId, quoteId } = await dealAt(stack, 'develop', 1_000_000);
  const doorbell = await productId(db, 'DB-100');
  await Promise.all([
    ...Array.from({ length: 5 }, (_, i) => as.rep.post(`/deals/${dealId}/lines`, { productId: doorbell, quantity: i + 1 })),
    as.rep.patch(`/deals/${dealId}`, { name: 'Burst of changes' }),
  ]);
  await Promise.all(Array.from({ length: 4 }, () => as.rep.post(`/deals/${dealId}/advance`, { to: 'propose' })));
  // The lines changed the value: a fresh revision of the quote for the close.
  const revision = await as.rep.post<QuoteChanged>(`/quotes/${quoteId}/revise`);
  await as.rep.post(`/quotes/${revision.body.id}/activate`);
  await Promise.all([as.rep.post(`/deals/${dealId}/advance`, { to: 'close' }), as.rep.post(`/deals/${dealId}/advance`, { to: 'close' })]);
  const won = await as.rep.post<OrderWon>(`/quotes/${revision.body.id}/win`, { closeDeal: true });
  await settle(client.workflow.getHandle(dealWorkflowId(dealId)), `dealLifecycleWorkflow-concurrent-updates${suffix}`);

  if (won.status !== 201) return;
  const orderId: string = won.body.id;
  expectStatus(await as.rep.post(`/orders/${orderId}/fulfill`, { status: 'complete', fulfilledOn: today() }), 200);
  const invoice = await as.rep.post<InvoiceIssued>(`/orders/${orderId}/invoices`);
  expectStatus(invoice, 201);
  await Promise.all(Array.from({ length: 6 }, (_, i) => as.rep.post(`/invoices/${invoice.body.id}/pay`, { status: 'partial', paidOn: today(), amountCents: 100_000 + i })));
  const left = await db('invoices').where({ id: invoice.body.id }).first('total_cents', 'paid_cents');
  await as.rep.post(`/invoices/${invoice.body.id}/pay`, { status: 'complete', paidOn: today(), amountCents: Number(left.total_cents) - Number(left.paid_cents) });
  await settle(client.workflow.getHandle(orderWorkflowId(orderId)), `orderToCashWorkflow-concurrent-payments${suffix}`);
}

/** Sequences as data (issue 9): the seeded default run to completion, and a contact's own sequence paused, resumed and stopped. */
async function sequenceScenarios(stack: TestStack): Promise<void> {
  const { env, as, db, users } = stack;
  const lead = await createLead(db, users.rep.id);
  expectStatus(await as.rep.post(`/leads/${lead.id}/nurture`), 202);
  const completed = env.client.workflow.getHandle(nurtureWorkflowId(lead.id));
  await completed.result();
  await save(completed, 'sequenceEnrollmentWorkflow-default-completed');

  const created = await as.manager.post<{ id: string }>('/sequences', {
    name: 'Replay outreach', eligibility: { customerTypes: ['corporate', 'consumer'] },
    steps: [
      { key: 'hello', type: 'email', title: 'Hello', wait: { amount: 0, unit: 'hours' }, sendWindow: true, subject: 'Hello {{firstName}}', body: 'Dear {{firstName}},\n\n{{ownerSignature}}' },
      { key: 'call', type: 'phone_call', title: 'Call', wait: { amount: 2, unit: 'business_days' }, subject: 'Call {{fullName}}', body: 'Follow up' },
      { key: 'visit', type: 'appointment', title: 'Visit', wait: { amount: 3, unit: 'calendar_days' }, subject: 'Visit {{company}}', body: 'Propose a site visit' },
    ],
  });
  expectStatus(await as.manager.post(`/sequences/${created.body.id}/publish`), 201);
  const contact = await as.rep.post<{ id: string }>('/contacts', { firstName: 'Nora', lastName: 'Lind', email: `nora.${Date.now()}@fabrikam.example`, timeZone: 'Europe/Berlin' });
  expectStatus(await as.rep.post(`/contacts/${contact.body.id}/nurture`, { sequenceId: created.body.id }), 202);
  const handle = env.client.workflow.getHandle(enrollmentWorkflowId('contact', contact.body.id));
  await env.sleep('4 days');
  expectStatus(await as.rep.post(`/contacts/${contact.body.id}/nurture/pause`), 200);
  await env.sleep('1 day');
  expectStatus(await as.rep.post(`/contacts/${contact.body.id}/nurture/resume`), 200);
  expectStatus(await as.rep.post(`/contacts/${contact.body.id}/nurture/stop`, { reason: 'replied' }), 200);
  await handle.result();
  await save(handle, 'sequenceEnrollmentWorkflow-contact-paused-resumed-stopped');
}

/**
 * Customer unification: customers-sample imported, then one run per request: the first pass
 * matches everything, the second has nothing new (with the reuse of issue 10, it reuses the first).
 */
async function unificationScenarios(stack: TestStack, suffix: string): Promise<void> {
  await importDir(stack.db, SAMPLE_DIR);
  for (const name of ['first-pass', 'unchanged-pass']) {
    const ticket = await requestUnification(stack.env.client, stack.taskQueue, { trigger: 'cli', by: 'recorder' });
    await waitForUnification(stack.env.client, ticket, { pollMs: 200 });
    const handle = stack.env.client.workflow.getHandle(ticket.workflowId, ticket.runId);
    await handle.result();
    await save(handle, `customerUnificationWorkflow-${name}${suffix}`);
  }
}

async function scenarios(stack: TestStack, groups: Set<string>): Promise<void> {
  const { env, as, db, users } = stack;
  const client = env.client;
  if (groups.has('unification')) await unificationScenarios(stack, process.env.HISTORY_SUFFIX ?? '');
  if (groups.has('sequences')) await sequenceScenarios(stack);
  if (groups.has('concurrent')) await concurrentScenarios(stack, process.env.HISTORY_SUFFIX ?? '');
  if (groups.has('orders')) await orderScenarios(stack);
  if (!groups.has('nurture') && !groups.has('deals')) return;

  // Nurture: the full sequence, completed.
  const nurtured = await createLead(db, users.rep.id);
  expectStatus(await as.rep.post(`/leads/${nurtured.id}/nurture`), 202);
  const nurture = client.workflow.getHandle(nurtureWorkflowId(nurtured.id));
  await nurture.result();
  await save(nurture, `${(await nurture.describe()).type}-completed`);

  // Nurture: stopped by qualifying the lead, then the deal lost from Develop.
  const qualifiedLead = await createLead(db, users.rep.id);
  expectStatus(await as.rep.post(`/leads/${qualifiedLead.id}/nurture`), 202);
  const stoppedNurture = client.workflow.getHandle(nurtureWorkflowId(qualifiedLead.id));
  await env.sleep('1 day');
  const { dealId: lostId } = (await as.rep.post<Qualified>(`/leads/${qualifiedLead.id}/qualify`)).body;
  await stoppedNurture.result();
  await save(stoppedNurture, `${(await stoppedNurture.describe()).type}-stopped-by-qualification`);
  expectStatus(await as.rep.post(`/deals/${lostId}/advance`, { to: 'develop' }), 200);
  expectStatus(await as.rep.post(`/deals/${lostId}/close`, { outcome: 'lost', reason: 'No budget this year' }), 200);
  const lost = client.workflow.getHandle(dealWorkflowId(lostId));
  await lost.result();
  await save(lost, 'dealLifecycleWorkflow-lost');

  // Deal at exactly $20,000.00: no Tech Check, won.
  const atThreshold = await dealAt(stack, 'close', AT);
  expectStatus(await as.rep.post(`/deals/${atThreshold.dealId}/close`, { outcome: 'won' }), 200);
  const won = client.workflow.getHandle(dealWorkflowId(atThreshold.dealId));
  await won.result();
  await save(won, 'dealLifecycleWorkflow-won-at-threshold');

  // Deal above the threshold: waits 6 days in Tech Check (both reminders), a failed check, a
  // revision, a passed check, Close; a value rise sends it back; checked again; won.
  const above = await dealAt(stack, 'tech_check', ABOVE);
  await env.sleep('6 days');
  await eventually(async () => Number((await db('activities').where({ regarding_id: above.dealId, type: 'task' }).count({ n: '*' }))[0].n) === 2, 'both reminders');
  expectStatus(await as.tech_consultant.post(`/deals/${above.dealId}/tech-checks`, techCheckBody(above.quoteId, 'failed', 'Cabling plan missing.')), 201);
  const revision = await as.rep.post<QuoteChanged>(`/quotes/${above.quoteId}/revise`);
  expectStatus(await as.rep.post(`/quotes/${revision.body.id}/activate`), 200);
  expectStatus(await as.tech_consultant.post(`/deals/${above.dealId}/tech-checks`, techCheckBody(revision.body.id)), 201);
  expectStatus(await as.rep.post(`/deals/${above.dealId}/advance`, { to: 'close' }), 200);
  expectStatus(await as.rep.post(`/deals/${above.dealId}/lines`, { productId: await productId(db, 'CM-300'), quantity: 2 }), 201);
  const second = await as.rep.post<QuoteChanged>(`/quotes/${revision.body.id}/revise`);
  expectStatus(await as.rep.post(`/quotes/${second.body.id}/lines`, { productId: await productId(db, 'CM-300'), quantity: 2 }), 201);
  expectStatus(await as.rep.post(`/quotes/${second.body.id}/activate`), 200);
  expectStatus(await as.tech_consultant.post(`/deals/${above.dealId}/tech-checks`, techCheckBody(second.body.id)), 201);
  expectStatus(await as.rep.post(`/deals/${above.dealId}/advance`, { to: 'close' }), 200);
  expectStatus(await as.rep.post(`/deals/${above.dealId}/close`, { outcome: 'won' }), 200);
  const checked = client.workflow.getHandle(dealWorkflowId(above.dealId));
  await checked.result();
  await save(checked, 'dealLifecycleWorkflow-won-above-threshold-with-tech-check');

  // A deal started with a small history limit continues as new, then is won: both runs.
  const lead = await createLead(db, users.rep.id);
  const { deal } = await new LeadQualification(db).qualify(lead.id, {}, { actor: { type: 'user', id: users.rep.id }, userId: users.rep.id });
  const long = await client.workflow.start('dealLifecycleWorkflow', {
    workflowId: dealWorkflowId(deal.id), taskQueue: stack.taskQueue,
    args: [{ dealId: deal.id, facts: await new DealStore(db).facts(deal.id), stageEnteredAt: deal.stageEnteredAt, reminderSchedule: DEFAULT_TECH_CHECK_REMINDERS, historyEventLimit: 60 }],
  });
  const doorbell = await productId(db, 'DB-100');
  expectStatus(await as.rep.post(`/deals/${deal.id}/advance`, { to: 'develop' }), 200);
  for (let i = 1; i <= 8; i++) expectStatus(await as.rep.post(`/deals/${deal.id}/lines`, { productId: doorbell, quantity: i }), 201);
  expectStatus(await as.rep.post(`/deals/${deal.id}/advance`, { to: 'propose' }), 200);
  const quote = await as.rep.post<QuoteDetail>(`/deals/${deal.id}/quotes`);
  expectStatus(await as.rep.post(`/quotes/${quote.body.id}/activate`), 200);
  expectStatus(await as.rep.post(`/deals/${deal.id}/advance`, { to: 'close' }), 200);
  expectStatus(await as.rep.post(`/deals/${deal.id}/close`, { outcome: 'won' }), 200);
  await long.result();
  // The time-skipping server has no visibility list: walk the chain of runs from the first.
  const runs: string[] = [];
  let runId: string | undefined = long.firstExecutionRunId;
  while (runId) {
    runs.push(runId);
    const history = await client.workflow.getHandle(long.workflowId, runId).fetchHistory();
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  if (runs.length < 2) throw new Error(`expected the deal to continue as new, got ${runs.length} run(s)`);
  for (const [index, runId] of runs.entries()) {
    const history = await client.workflow.getHandle(long.workflowId, runId).fetchHistory();
    const json = temporal.api.history.v1.History.fromObject(history).toJSON();
    const file = `dealLifecycleWorkflow-continued-as-new-run${index + 1}`;
    fs.writeFileSync(path.join(OUT, `${file}.json`), `${JSON.stringify(json, null, 1)}\n`);
    console.log(`recorded ${file}.json (${history.events?.length} events)`);
  }
}

const GROUPS = ['nurture', 'deals', 'orders', 'concurrent', 'sequences', 'unification'];

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((g) => !GROUPS.includes(g));
  if (unknown.length) throw new Error(`unknown scenario group(s) ${unknown.join(', ')}; choose from ${GROUPS.join(', ')}`);
  fs.mkdirSync(OUT, { recursive: true });
  await mochaGlobalSetup();
  let stack: TestStack | null = null;
  try {
    stack = await startStack({ server: 'time-skipping' });
    await scenarios(stack, new Set(asked.length ? asked : GROUPS));
  } finally {
    await stack?.teardown();
    await mochaGlobalTeardown();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
