/**
 * The deal workflow on the time-skipping server, driven through the real API with a real worker and
 * Postgres: the Tech Check reminders at 2 and 5 days, a deal that waits 30 days and then passes,
 * configured delays, and a long-lived deal that continues as new carrying its state.
 */
import assert from 'node:assert/strict';
import type { temporal } from '@temporalio/proto';
import { loadConfig } from '../../config';
import { DealStore } from '../../db/stores/deals';
import { LeadQualification } from '../../db/stores/leadQualification';
import type { dealLifecycleWorkflow } from '../../workflows/dealLifecycle';
import { DEFAULT_TECH_CHECK_REMINDERS, dealWorkflowId, getDealStateQuery } from '../../workflows/dealLifecycle.contract';
import { dealAt, productId, stageEverywhere, techCheckBody } from '../helpers/deals';
import { apiClient, expectStatus, startExtraApi, startStack, type TestStack } from '../helpers/stack';
import { createLead } from '../helpers/fixtures';
import { eventually } from '../helpers/temporal';
import type { DealDetail, DealUpdated, QuoteDetail, Timeline } from '../helpers/apiTypes';

const ABOVE_THRESHOLD = 2_000_001;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function timerMs(events: temporal.api.history.v1.IHistoryEvent[]): number[] {
  return events
    .filter((e) => e.timerStartedEventAttributes)
    .map((e) => Number(e.timerStartedEventAttributes!.startToFireTimeout!.seconds ?? 0) * 1000 + Math.round((e.timerStartedEventAttributes!.startToFireTimeout!.nanos ?? 0) / 1e6));
}

describe('deal workflow (time-skipping server, real worker, Postgres)', function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'time-skipping' });
  });

  after(async function () {
    await stack?.teardown();
  });

  const reminderTasks = (dealId: string) =>
    stack.db('activities').where({ regarding_type: 'deal', regarding_id: dealId, type: 'task' }).whereNotNull('created_by_workflow').orderBy('created_at');

  it('while a deal waits in Tech Check, a task for the technical consultants appears after 2 days and one for the owner’s manager after 5 days', async function () {
    const { dealId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
    const handle = stack.env.client.workflow.getHandle<typeof dealLifecycleWorkflow>(dealWorkflowId(dealId));

    await stack.env.sleep('47 hours');
    assert.deepEqual((await handle.query(getDealStateQuery)).remindersSent, [], 'nothing before 2 days');
    assert.equal((await reminderTasks(dealId)).length, 0);

    await stack.env.sleep('1 hour');
    const [consultants] = await eventually(async () => {
      const rows = await reminderTasks(dealId);
      return rows.length === 1 && rows;
    }, 'the technical consultants’ task');
    assert.equal(consultants.owner_id, null, 'the task is for the technical consultants’ team, not one person');
    assert.match(consultants.subject, /^Tech Check needed/);
    assert.match(consultants.body, /technical consultants/);
    assert.equal(consultants.status, 'open');
    assert.equal(consultants.created_by_workflow, dealWorkflowId(dealId));

    await stack.env.sleep('2 days');
    assert.equal((await reminderTasks(dealId)).length, 1, 'nothing more before 5 days');
    await stack.env.sleep('1 day');
    const [, manager] = await eventually(async () => {
      const rows = await reminderTasks(dealId);
      return rows.length === 2 && rows;
    }, 'the manager’s task');
    assert.equal(manager.owner_id, stack.users.manager.id, 'the owner’s manager gets it');
    assert.match(manager.subject, /^Tech Check overdue/);

    const timeline = (await stack.as.rep.get<Timeline>(`/deals/${dealId}/timeline?type=task`)).body.data;
    assert.deepEqual(timeline.map((a) => a.id).sort(), [consultants.id, manager.id].sort(), 'both are on the deal’s timeline');

    const timers = timerMs((await handle.fetchHistory()).events!);
    // Timers run from the moment of entry, so they are a few milliseconds short of the full delay.
    assert.ok(Math.abs(timers[0] - 2 * DAY_MS) < 60_000, 'the first reminder is 2 days after entering Tech Check');
    assert.ok(Math.abs(timers[1] - 3 * DAY_MS) < 60_000, 'the second, 5 days after entering');
  });

  it('a deal waiting 30 days in Tech Check then passes and is won; the reminders are not repeated and the check completes them', async function () {
    const { dealId, quoteId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
    await stack.env.sleep('30 days');
    await eventually(async () => (await reminderTasks(dealId)).length === 2 && true, 'both reminders');
    const waiting = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
    assert.equal(waiting.stage, 'tech_check');

    expectStatus(await stack.as.tech_consultant.post(`/deals/${dealId}/tech-checks`, techCheckBody(quoteId)), 201);
    assert.ok((await reminderTasks(dealId)).every((t) => t.status === 'completed'), 'a recorded check completes the reminder tasks');
    const closed = await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'close' });
    expectStatus(closed, 200);
    const won = await stack.as.rep.post<DealUpdated>(`/deals/${dealId}/close`, { outcome: 'won' });
    expectStatus(won, 200);

    const moves = won.body.moves;
    const entered = moves.find((m) => m.to === 'tech_check')!;
    const left = moves.find((m) => m.from === 'tech_check')!;
    assert.ok(Date.parse(left.at) - Date.parse(entered.at) >= 30 * DAY_MS, 'the deal waited 30 days (workflow time) in Tech Check');
    const final = await stack.env.client.workflow.getHandle<typeof dealLifecycleWorkflow>(dealWorkflowId(dealId)).result();
    assert.equal(final.status, 'won');
    assert.equal(final.remindersSent.length, 2);
    assert.equal((await reminderTasks(dealId)).length, 2);
  });

  it('a deal that leaves Tech Check within 2 days gets no reminder; entering again starts a fresh wait', async function () {
    const { dealId } = await dealAt(stack, 'tech_check', ABOVE_THRESHOLD);
    await stack.env.sleep('1 day');
    expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'propose' }), 200);
    await stack.env.sleep('3 days');
    assert.equal((await reminderTasks(dealId)).length, 0);
    expectStatus(await stack.as.rep.post(`/deals/${dealId}/advance`, { to: 'tech_check' }), 200);
    await stack.env.sleep('47 hours');
    assert.equal((await reminderTasks(dealId)).length, 0, 'the 2 days count from the new entry');
    await stack.env.sleep('2 hours');
    await eventually(async () => (await reminderTasks(dealId)).length === 1 && true, 'the consultants’ task of the second visit');
  });

  it('takes the reminder delays from configuration (TECH_CHECK_CONSULTANT_REMINDER, TECH_CHECK_MANAGER_REMINDER)', async function () {
    const config = loadConfig({ TECH_CHECK_CONSULTANT_REMINDER: '6h', TECH_CHECK_MANAGER_REMINDER: '1d' });
    assert.deepEqual(config.deals, { techCheckConsultantReminderMs: 6 * HOUR_MS, techCheckManagerReminderMs: DAY_MS });
    assert.deepEqual(loadConfig({}).deals, { techCheckConsultantReminderMs: DEFAULT_TECH_CHECK_REMINDERS.techConsultantsAfterMs, techCheckManagerReminderMs: DEFAULT_TECH_CHECK_REMINDERS.managerAfterMs });
    assert.throws(() => loadConfig({ TECH_CHECK_MANAGER_REMINDER: 'soon' }), /duration/);

    const api = await startExtraApi(stack, config.deals);
    try {
      const configured = { ...stack, as: { ...stack.as, rep: apiClient(api.url, stack.users.rep.token) } };
      const { dealId } = await dealAt(configured, 'tech_check', ABOVE_THRESHOLD);
      await stack.env.sleep('6 hours');
      await eventually(async () => (await reminderTasks(dealId)).length === 1 && true, 'the consultants’ task after 6 h');
      await stack.env.sleep('18 hours');
      await eventually(async () => (await reminderTasks(dealId)).length === 2 && true, 'the manager’s task after 1 day');
    } finally {
      await api.close();
    }
  });

  it('a long-lived deal continues as new before its history grows large, carrying its stage, facts, moves and pending reminders', async function () {
    this.timeout(180_000);
    // Qualified in the database, its workflow started here with a small history limit.
    const lead = await createLead(stack.db, stack.users.rep.id);
    const { deal } = await new LeadQualification(stack.db).qualify(lead.id, {}, { actor: { type: 'user', id: stack.users.rep.id }, userId: stack.users.rep.id });
    const handle = await stack.env.client.workflow.start<typeof dealLifecycleWorkflow>('dealLifecycleWorkflow', {
      workflowId: dealWorkflowId(deal.id), taskQueue: stack.taskQueue,
      args: [{ dealId: deal.id, facts: await new DealStore(stack.db).facts(deal.id), stageEnteredAt: deal.stageEnteredAt, reminderSchedule: DEFAULT_TECH_CHECK_REMINDERS, historyEventLimit: 80 }],
    });
    const firstRun = handle.firstExecutionRunId;
    const { rep, tech_consultant: tc } = stack.as;
    const doorbell = await productId(stack.db, 'DB-100');

    expectStatus(await rep.post(`/deals/${deal.id}/advance`, { to: 'develop' }), 200);
    let lineId = '';
    for (let i = 0; i < 12; i++) {
      const added = await rep.post<DealUpdated>(`/deals/${deal.id}/lines`, { productId: doorbell, quantity: 1 + i });
      expectStatus(added, 201);
      if (lineId) expectStatus(await rep.del(`/deals/${deal.id}/lines/${lineId}`), 200);
      lineId = added.body.createdId!;
    }
    expectStatus(await rep.patch(`/deals/${deal.id}/lines/${lineId}`, { unitPriceCents: 166_667, quantity: 12 }), 200);
    expectStatus(await rep.post(`/deals/${deal.id}/advance`, { to: 'propose' }), 200);
    const quote = await rep.post<QuoteDetail>(`/deals/${deal.id}/quotes`);
    expectStatus(await rep.post(`/quotes/${quote.body.id}/activate`), 200);
    expectStatus(await rep.post(`/deals/${deal.id}/advance`, { to: 'tech_check' }), 200);

    const continued = await eventually(async () => {
      const { runId } = await handle.describe();
      return runId !== firstRun && runId;
    }, 'a new run');
    const state = await handle.query(getDealStateQuery);
    assert.ok(state.runs >= 1, 'the state knows it continued');
    assert.equal(state.stage, 'tech_check');
    assert.equal(state.facts.lineCount, 1);
    assert.equal(state.facts.activeQuote?.id, quote.body.id);
    assert.deepEqual(state.recentMoves.map((m) => m.to), ['develop', 'propose', 'tech_check']);
    assert.deepEqual(await stageEverywhere(stack, deal.id), { db: ['tech_check', 'open', 3], workflow: ['tech_check', 'open', 3] });

    // The new run keeps waiting in Tech Check from the original entry time, and keeps the gate.
    await stack.env.sleep('2 days');
    await eventually(async () => (await reminderTasks(deal.id)).length === 1 && true, 'the consultants’ task after continuing as new');
    expectStatus(await rep.post(`/deals/${deal.id}/advance`, { to: 'close' }), 409, 'tech_check_required');
    expectStatus(await tc.post(`/deals/${deal.id}/tech-checks`, techCheckBody(quote.body.id)), 201);
    expectStatus(await rep.post(`/deals/${deal.id}/advance`, { to: 'close' }), 200);
    expectStatus(await rep.post(`/deals/${deal.id}/close`, { outcome: 'won' }), 200);
    const final = await handle.result();
    assert.equal(final.status, 'won');
    assert.ok(final.changeSeq >= 26, 'every change of every run is counted');
    assert.notEqual(continued, firstRun);
  });
});
