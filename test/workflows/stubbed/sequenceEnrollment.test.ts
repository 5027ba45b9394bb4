/**
 * The sequence-enrollment workflow on the time-skipping server with stub activities (issue 9): a
 * pinned definition's waits land where a person expects them, in the recipient's zone, across DST
 * changes and holidays; the seeded sequence keeps its exact gaps; a call is due at the end of the
 * owner's working day; an unsubscribed person's email step is skipped and the sequence goes on.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { DateTime } from 'luxon';
import type { SequenceEnrollmentActivities } from '../../../activities/sequenceEnrollment';
import { DEFAULT_SEQUENCE_ID, DEFAULT_SEQUENCE_STEPS, type SequenceStep } from '../../../domain/sequences/definition';
import { DEFAULT_WORKING_HOURS, type WorkCalendar } from '../../../domain/sequences/time';
import { enrollmentWorkflowId, type SequenceEnrollmentInput, type SequenceState, type SequenceStepInput } from '../../../workflows/sequenceEnrollment.contract';
import type { sequenceEnrollmentWorkflow } from '../../../workflows/sequenceEnrollment';
import { installQuietRuntime, timeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../../helpers/temporal';

const calendar = (zone: string, holidays: string[] = []): WorkCalendar => ({ zone, hours: DEFAULT_WORKING_HOURS, holidays });

const step = (key: string, type: SequenceStep['type'], wait: SequenceStep['wait'], sendWindow = false): SequenceStep =>
  ({ key, type, title: key, wait, sendWindow, subject: key, body: key });

/** What the activities were asked, with the workflow's clock when each step fired (activities run in real time). */
class Calls {
  steps: Array<SequenceStepInput & { at: number }> = [];
  skipEmails = false;

  activities(): SequenceEnrollmentActivities {
    return {
      performSequenceStep: async (input) => {
        this.steps.push({ ...input, at: Date.parse(input.firedAt) });
        if (input.definition.type === 'email' && this.skipEmails) return { outcome: 'skipped', reason: 'do_not_email' };
        return { outcome: 'done', activityId: `activity-${this.steps.length}`, ownerId: input.ownerId };
      },
      endSequenceEnrollment: async () => undefined,
    };
  }
}

describe('sequence enrollment workflow with stub activities (time-skipping server, no database)', function () {
  let env: TestWorkflowEnvironment;

  beforeEach(async function () {
    installQuietRuntime();
    env = await timeSkippingEnv();
  });

  afterEach(async function () {
    await env?.teardown();
  });

  /** Moves the server's clock to `local` (a future wall-clock time in `zone`). */
  async function skipTo(local: string, zone: string): Promise<number> {
    const target = DateTime.fromISO(local, { zone }).toMillis();
    const now = await env.currentTimeMs();
    assert.ok(target > now, `${local} ${zone} is still ahead of the server's clock`);
    await env.sleep(target - now);
    return target;
  }

  async function run(calls: Calls, steps: SequenceStep[], recipient: WorkCalendar, owner: WorkCalendar = recipient): Promise<SequenceState> {
    return (await runWithTimers(calls, steps, recipient, owner)).state;
  }

  /** Runs the workflow; also the durations of the timers it started, in seconds, from its history. */
  async function runWithTimers(calls: Calls, steps: SequenceStep[], recipient: WorkCalendar, owner: WorkCalendar): Promise<{ state: SequenceState; timers: number[] }> {
    const taskQueue = uniqueTaskQueue('sequence');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: calls.activities() });
    const input: SequenceEnrollmentInput = {
      person: { type: 'contact', id: 'contact-1' }, ownerId: 'rep-1', customerType: 'corporate', enrolledBy: 'rep-1',
      sequence: { sequenceId: 'sequence-1', version: 3, name: 'Test', eligibility: { customerTypes: ['corporate'] }, steps },
      recipientCalendar: recipient, ownerCalendar: owner,
    };
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.start<typeof sequenceEnrollmentWorkflow>('sequenceEnrollmentWorkflow', {
        taskQueue, workflowId: enrollmentWorkflowId('contact', `c-${taskQueue}`), args: [input],
      });
      const state = await handle.result();
      const history = await handle.fetchHistory();
      const timers = (history.events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)] : []));
      return { state, timers };
    });
  }

  const local = (ms: number, zone: string): string => DateTime.fromMillis(ms, { zone }).toFormat("ccc yyyy-MM-dd HH:mm");

  it('a Friday 16:59 enrollment in Los Angeles with a 1-business-day wait fires on Monday inside working hours', async function () {
    const zone = 'America/Los_Angeles';
    await skipTo('2027-01-08T16:59', zone);
    const calls = new Calls();
    const state = await run(calls, [step('intro', 'email', { amount: 0, unit: 'calendar_days' }), step('follow_up', 'email', { amount: 1, unit: 'business_days' }, true)], calendar(zone));
    assert.equal(state.status, 'completed');
    assert.equal(local(calls.steps[1].at, zone), 'Mon 2027-01-11 16:59');
  });

  const dstCases: Array<[string, string, string, string]> = [
    ['America/New_York', 'spring', '2027-03-12T10:00', 'Mon 2027-03-15 10:00'],
    ['Europe/Berlin', 'spring', '2027-03-26T10:00', 'Mon 2027-03-29 10:00'],
    ['Europe/Berlin', 'autumn', '2027-10-29T10:00', 'Mon 2027-11-01 10:00'],
    ['America/New_York', 'autumn', '2027-11-05T10:00', 'Mon 2027-11-08 10:00'],
  ];
  for (const [zone, season, start, expected] of dstCases) {
    it(`a business-day wait across the ${season} DST change in ${zone} keeps the local time`, async function () {
      await skipTo(start, zone);
      const calls = new Calls();
      await run(calls, [step('a', 'task', { amount: 0, unit: 'hours' }), step('b', 'task', { amount: 1, unit: 'business_days' })], calendar(zone));
      assert.equal(local(calls.steps[1].at, zone), expected);
      const offsets = calls.steps.map((s) => DateTime.fromMillis(s.at, { zone }).offset);
      assert.notEqual(offsets[0], offsets[1], 'the two steps are on either side of the change');
    });
  }

  it('skips a holiday, and an email with a send window waits for the next working morning', async function () {
    const zone = 'America/New_York';
    await skipTo('2027-12-23T11:00', zone);
    const calls = new Calls();
    await run(calls, [
      step('a', 'task', { amount: 0, unit: 'hours' }),
      step('b', 'task', { amount: 1, unit: 'business_days' }),
      step('c', 'email', { amount: 10, unit: 'hours' }, true),
    ], calendar(zone, ['2027-12-24']));
    assert.equal(local(calls.steps[1].at, zone), 'Mon 2027-12-27 11:00', 'Friday the 24th is a holiday');
    assert.equal(local(calls.steps[2].at, zone), 'Tue 2027-12-28 09:00', '21:00 is outside hours: the next window opens at 09:00');
  });

  it('keeps the seeded sequence’s exact gaps (1, 3 and 2 days) and makes a call due at the end of the owner’s working day', async function () {
    const zone = 'America/New_York';
    await skipTo('2027-03-05T10:00', zone);
    const calls = new Calls();
    const { state, timers } = await runWithTimers(calls, DEFAULT_SEQUENCE_STEPS, calendar(zone), calendar('Europe/Berlin'));
    // Each gap is one timer from the previous step's completion (SPEC), of exactly 1, 3 and 2 days.
    assert.deepEqual(timers, [86_400, 259_200, 172_800]);
    assert.equal(DateTime.fromISO(calls.steps[0].dueAt, { zone: 'Europe/Berlin' }).toFormat('HH:mm'), '17:00', 'due by the end of the owner’s day in the owner’s zone');
    assert.equal(state.sequenceId, 'sequence-1');
    assert.equal(DEFAULT_SEQUENCE_ID.length, 36);
  });

  it('a calendar the rules cannot walk (no working day at all) never wedges the run: the wait falls back to whole days', async function () {
    const calls = new Calls();
    const broken: WorkCalendar = { zone: 'UTC', hours: { days: [], start: '09:00', end: '17:00' }, holidays: [] };
    const { state, timers } = await runWithTimers(calls, [step('a', 'task', { amount: 0, unit: 'hours' }), step('b', 'email', { amount: 2, unit: 'business_days' }, true)], broken, broken);
    assert.equal(state.status, 'completed');
    assert.deepEqual(timers, [2 * 86_400]);
  });

  it('skips the email steps of a person who unsubscribed and goes on with the rest', async function () {
    const calls = new Calls();
    calls.skipEmails = true;
    const state = await run(calls, [step('call', 'phone_call', { amount: 0, unit: 'hours' }), step('mail', 'email', { amount: 1, unit: 'hours' }), step('task', 'task', { amount: 1, unit: 'hours' })], calendar('UTC'));
    assert.equal(state.status, 'completed');
    assert.deepEqual(state.steps.map((s) => [s.step, s.state, s.skipReason ?? null]), [['call', 'done', null], ['mail', 'skipped', 'do_not_email'], ['task', 'done', null]]);
  });
});
