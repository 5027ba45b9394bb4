/**
 * One person running one pinned version of a sequence (issue 9). The steps come from the input,
 * never from a read that may have changed; every wait is computed here, deterministically, from the
 * workflow clock and the pinned calendars. Stop, pause and resume are the lead-nurture messages, so
 * the API serves both workflow types alike.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type LocalActivityOptions } from '@temporalio/workflow';
import type { SequenceEnrollmentActivities } from '../activities/sequenceEnrollment';
import { endOfWorkingDay, nextWindowStart, waitEnd, describeWait } from '../domain/sequences/time';
import {
  MANUAL_STOP_REASONS,
  NURTURE_REJECTIONS,
  getNurtureStateQuery,
  pauseNurtureUpdate,
  resumeNurtureUpdate,
  stopNurtureSignal,
  stopNurtureUpdate,
  type NurtureState,
  type NurtureStatus,
  type StopNurtureInput,
} from './leadNurture.contract';
import {
  pauseEnrollmentSignal,
  reassignEnrollmentSignal,
  resumeEnrollmentSignal,
  type SequenceEnrollmentInput,
  type SequenceState,
  type SequenceStepResult,
} from './sequenceEnrollment.contract';
import { CustomerTypeKey, LeadIdKey, NurtureStatusKey, NurtureStepKey, OwnerIdKey, SequenceIdKey, SequenceVersionKey } from './searchAttributes';
import { describeDuration, iso, permanentFailure } from './lib/entity';

/**
 * Writes retry until the database is back; a person who no longer exists is a business fact. Steps
 * run as local activities: one marker event per step instead of three activity events and a
 * workflow task, which keeps a 4-step enrollment's history small (issue 9). A step is a few
 * database writes and at most one SMTP hand-off, well inside a workflow task; a retry that backs
 * off longer than a minute waits on a durable timer, as a local activity does.
 */
const STEP_ACTIVITY: LocalActivityOptions = {
  startToCloseTimeout: '1 minute',
  localRetryThreshold: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: ['person_not_found'] },
};

const { performSequenceStep, endSequenceEnrollment } = proxyLocalActivities<SequenceEnrollmentActivities>(STEP_ACTIVITY);

class SequenceEnrollment {
  private readonly state: SequenceState;
  private inFlightStep: number | null = null;
  /** The wait that is running: when it ends, so pause can keep what is left of it. */
  private gap: { index: number; untilMs: number } | null = null;
  private published: { status: NurtureStatus; step: string | null; ownerId: string } | null = null;

  constructor(private readonly input: SequenceEnrollmentInput) {
    const now = Date.now();
    // The API starts a run with every attribute set: then the first upsert would repeat them.
    const started = workflowInfo().typedSearchAttributes;
    if (started.get(SequenceIdKey) === input.sequence.sequenceId && started.get(OwnerIdKey) === input.ownerId) {
      this.published = { status: 'running', step: input.sequence.steps[0]?.key ?? null, ownerId: input.ownerId };
    }
    const { sequence, person } = input;
    this.state = {
      leadId: person.type === 'lead' ? person.id : null,
      person,
      ownerId: input.ownerId,
      sequenceId: sequence.sequenceId,
      sequenceVersion: sequence.version,
      sequenceName: sequence.name,
      cadenceVersion: sequence.version,
      status: 'running',
      steps: sequence.steps.map((s) => ({ step: s.key, title: s.title, activityType: s.type, state: 'pending', dueAt: null, doneAt: null, activityId: null, skipReason: null })),
      currentStep: sequence.steps[0]?.key ?? null,
      nextStepAt: null,
      pausedAt: null,
      pausedBy: null,
      remainingGapMs: null,
      stopReason: null,
      stoppedBy: null,
      failure: null,
      startedAt: iso(now),
      endedAt: null,
    };
    this.setDue(0, this.stepTime(0, now));
  }

  setup(): void {
    // The API reads both workflow types through the lead-nurture messages.
    setHandler(getNurtureStateQuery, () => this.state as unknown as NurtureState);
    setHandler(stopNurtureUpdate, (input) => this.stop(input) as unknown as NurtureState, {
      validator: (input) => {
        if (!(MANUAL_STOP_REASONS as readonly string[]).includes(input?.reason)) {
          throw ApplicationFailure.nonRetryable(`reason must be one of ${MANUAL_STOP_REASONS.join(', ')}`, NURTURE_REJECTIONS.invalidReason);
        }
        this.assertNotFinished();
      },
    });
    setHandler(stopNurtureSignal, (input) => {
      if (!this.isFinished()) this.stop(input);
    });
    setHandler(pauseNurtureUpdate, ({ by }) => this.pause(by) as unknown as NurtureState, {
      validator: (_input) => {
        this.assertNotFinished();
        if (this.state.status === 'paused') throw ApplicationFailure.nonRetryable('the sequence is already paused', NURTURE_REJECTIONS.alreadyPaused);
      },
    });
    setHandler(resumeNurtureUpdate, (_input) => this.resume() as unknown as NurtureState, {
      validator: (_input) => {
        this.assertNotFinished();
        if (this.state.status !== 'paused') throw ApplicationFailure.nonRetryable('the sequence is not paused', NURTURE_REJECTIONS.notPaused);
      },
    });
    setHandler(pauseEnrollmentSignal, ({ by }) => {
      if (!this.isFinished() && this.state.status !== 'paused') this.pause(by);
    });
    setHandler(resumeEnrollmentSignal, () => {
      if (!this.isFinished() && this.state.status === 'paused') this.resume();
    });
    setHandler(reassignEnrollmentSignal, ({ ownerId, ownerCalendar }) => {
      if (this.isFinished()) return;
      this.state.ownerId = ownerId;
      this.input.ownerId = ownerId;
      this.input.ownerCalendar = ownerCalendar;
      this.publish();
    });
  }

  async run(): Promise<SequenceState> {
    this.publish();
    const { steps } = this.input.sequence;
    for (let index = 0; index < steps.length; index++) {
      if (!(await this.waitGap(index))) break;
      if (this.state.stopReason) break;
      await this.performStep(index);
      this.publish();
    }
    if (!this.state.stopReason) {
      this.state.status = 'completed';
      this.state.nextStepAt = null;
    }
    if (this.state.stopReason) await this.end();
    this.state.endedAt = iso(Date.now());
    this.publish();
    await condition(allHandlersFinished);
    return this.state;
  }

  /** When step `index` fires if the previous one completes at `previousMs`: its wait, then its send window. */
  private stepTime(index: number, previousMs: number): number {
    const def = this.input.sequence.steps[index];
    try {
      const at = waitEnd(previousMs, def.wait, this.input.recipientCalendar);
      return def.type === 'email' && def.sendWindow ? nextWindowStart(at, this.input.recipientCalendar) : at;
    } catch {
      // A calendar the rules cannot walk (no working day within years): never wedge the run on it;
      // wait the same number of whole days instead.
      return previousMs + def.wait.amount * (def.wait.unit === 'hours' ? 3_600_000 : 86_400_000);
    }
  }

  private windowFrom(atMs: number): number {
    try {
      return nextWindowStart(atMs, this.input.recipientCalendar);
    } catch {
      return atMs;
    }
  }

  /** The end of the owner's working day, or the moment itself when the owner's calendar cannot be walked. */
  private dueFor(nowMs: number): number {
    try {
      return endOfWorkingDay(nowMs, this.input.ownerCalendar);
    } catch {
      return nowMs;
    }
  }

  private async performStep(index: number): Promise<void> {
    const def = this.input.sequence.steps[index];
    const view = this.state.steps[index];
    this.inFlightStep = index;
    this.state.currentStep = def.key;
    const now = Date.now();
    // A call or task is due by the end of the owner's working day, not the moment it is created.
    const dueAt = def.type === 'email' ? now : this.dueFor(now);
    let result: SequenceStepResult;
    try {
      result = await performSequenceStep.executeWithOptions(
        { ...STEP_ACTIVITY, summary: `Step ${index + 1} of ${this.input.sequence.steps.length}: ${def.title}` },
        [{
          person: this.input.person, sequenceId: this.input.sequence.sequenceId, sequenceVersion: this.input.sequence.version,
          step: def.key, stepIndex: index, definition: def, dueAt: iso(dueAt), firedAt: iso(now), ownerId: this.state.ownerId,
          enrolledBy: this.input.enrolledBy, last: index === this.input.sequence.steps.length - 1,
        }],
      );
    } catch (error) {
      const failure = permanentFailure(error);
      if (!failure) throw error;
      this.inFlightStep = null;
      view.state = 'skipped';
      this.state.failure = { step: def.key, ...failure };
      if (!this.state.stopReason) this.stop({ reason: 'step_failed', by: 'system' });
      return;
    }
    this.inFlightStep = null;
    if (result.outcome === 'person_closed') {
      view.state = 'skipped';
      if (!this.state.stopReason) this.stop({ reason: result.reason, by: 'system' });
      return;
    }
    if (result.outcome === 'bounced') {
      view.state = 'skipped';
      view.activityId = result.activityId;
      if (!this.state.stopReason) this.stop({ reason: 'bounced', by: 'system' });
      return;
    }
    if (result.outcome === 'skipped') {
      view.state = 'skipped';
      view.skipReason = result.reason;
    } else {
      view.state = 'done';
      view.doneAt = iso(Date.now());
      view.activityId = result.activityId;
      this.state.ownerId = result.ownerId;
    }
    const next = this.state.steps[index + 1];
    if (next) {
      this.state.currentStep = next.step;
      if (!this.state.stopReason) this.setDue(index + 1, this.stepTime(index + 1, Date.now()));
    }
  }

  /** Waits until step `index` is due; false when the sequence was stopped meanwhile. */
  private async waitGap(index: number): Promise<boolean> {
    const def = this.input.sequence.steps[index];
    let untilMs = this.state.steps[index].dueAt ? Date.parse(this.state.steps[index].dueAt!) : Date.now();
    let first = true;
    for (;;) {
      if (this.state.stopReason) return false;
      if (this.state.status === 'paused') {
        this.freeze(index, Math.max(0, untilMs - Date.now()));
        await condition(() => this.state.status !== 'paused' || this.state.stopReason !== null);
        if (this.state.stopReason) return false;
        // What was left of the wait runs from the resume; an email still waits for its window.
        const resumedAt = Date.now() + (this.state.remainingGapMs ?? 0);
        untilMs = def.type === 'email' && def.sendWindow ? this.windowFrom(resumedAt) : resumedAt;
        this.state.remainingGapMs = null;
        this.setDue(index, untilMs);
        first = false;
        continue;
      }
      const remaining = untilMs - Date.now();
      if (remaining <= 0) return true;
      this.gap = { index, untilMs };
      const label = first ? describeWait(def.wait) : describeDuration(remaining);
      const interrupted = await condition(
        () => this.state.status === 'paused' || this.state.stopReason !== null,
        remaining,
        { summary: `Wait ${label}, then: ${def.title}` },
      );
      this.gap = null;
      if (!interrupted) return true;
    }
  }

  private freeze(index: number, remainingMs: number): void {
    this.state.remainingGapMs = remainingMs;
    this.setDue(index, null);
  }

  private stop({ reason, by }: StopNurtureInput): SequenceState {
    this.state.status = 'stopped';
    this.state.stopReason = reason;
    this.state.stoppedBy = by;
    this.state.nextStepAt = null;
    this.state.remainingGapMs = null;
    this.state.steps.forEach((step, index) => {
      if (step.state === 'pending' && index !== this.inFlightStep) step.state = 'skipped';
    });
    this.publish();
    return this.state;
  }

  private pause(by: string): SequenceState {
    this.state.status = 'paused';
    this.state.pausedAt = iso(Date.now());
    this.state.pausedBy = by;
    if (this.gap) this.freeze(this.gap.index, Math.max(0, this.gap.untilMs - Date.now()));
    this.publish();
    return this.state;
  }

  private resume(): SequenceState {
    this.state.status = 'running';
    this.state.pausedAt = null;
    this.state.pausedBy = null;
    const index = this.state.steps.findIndex((s) => s.state === 'pending');
    if (this.state.remainingGapMs !== null && index >= 0) this.setDue(index, Date.now() + this.state.remainingGapMs);
    this.publish();
    return this.state;
  }

  /** Records the steps a stop skipped and how the enrollment ended. */
  private async end(): Promise<void> {
    const reason = this.state.stopReason;
    if (!reason) return;
    const skipped = this.state.steps
      .map((step, stepIndex) => ({ step: step.step, stepIndex, dueAt: step.dueAt, state: step.state, skipReason: step.skipReason }))
      .filter((s) => s.state === 'skipped' && !s.skipReason)
      .map(({ step, stepIndex, dueAt }) => ({ step, stepIndex, dueAt }));
    try {
      await endSequenceEnrollment.executeWithOptions(
        { ...STEP_ACTIVITY, summary: `Stopped (${reason}): record ${skipped.length} skipped step(s)` },
        [{ person: this.input.person, sequenceId: this.input.sequence.sequenceId, sequenceVersion: this.input.sequence.version, steps: skipped, reason }],
      );
    } catch (error) {
      // The state keeps the skipped steps; only their rows could not be written.
      const failure = permanentFailure(error);
      if (!failure) throw error;
      this.state.failure ??= { step: skipped[0]?.step ?? this.state.currentStep ?? '', ...failure };
    }
  }

  /** Sets step `index`'s due time and projects the later pending steps from it. */
  private setDue(index: number, dueMs: number | null): void {
    let at = dueMs;
    this.state.nextStepAt = at === null ? null : iso(at);
    for (let i = index; i < this.state.steps.length; i++) {
      const step = this.state.steps[i];
      if (step.state !== 'pending') continue;
      if (i > index && at !== null) at = this.stepTime(i, at);
      step.dueAt = at === null ? null : iso(at);
    }
  }

  private isFinished(): boolean {
    return this.state.status === 'stopped' || this.state.status === 'completed';
  }

  private assertNotFinished(): void {
    if (this.isFinished()) {
      throw ApplicationFailure.nonRetryable(`the sequence has already ${this.state.status === 'stopped' ? 'been stopped' : 'completed'}`, NURTURE_REJECTIONS.finished);
    }
  }

  /** Keeps the Web UI's search attributes in step with the state, without redundant upserts. */
  private publish(): void {
    const { status, currentStep, ownerId } = this.state;
    const last = this.published;
    if (last?.status === status && last.step === currentStep && last.ownerId === ownerId) return;
    this.published = { status, step: currentStep, ownerId };
    const { person, sequence, customerType } = this.input;
    upsertSearchAttributes([
      ...(last ? [] : [
        ...(person.type === 'lead' ? [{ key: LeadIdKey, value: person.id }] : []),
        { key: CustomerTypeKey, value: customerType },
        { key: SequenceIdKey, value: sequence.sequenceId },
        { key: SequenceVersionKey, value: sequence.version },
      ]),
      ...(last?.ownerId === ownerId ? [] : [{ key: OwnerIdKey, value: ownerId }]),
      { key: NurtureStatusKey, value: status },
      { key: NurtureStepKey, value: currentStep ?? '' },
    ]);
  }
}

export async function sequenceEnrollmentWorkflow(input: SequenceEnrollmentInput): Promise<SequenceState> {
  if (!input.sequence.eligibility.customerTypes.includes(input.customerType)) {
    throw ApplicationFailure.nonRetryable(`this sequence takes ${input.sequence.eligibility.customerTypes.join(' or ')} people only`, 'not_eligible');
  }
  const enrollment = new SequenceEnrollment(input);
  enrollment.setup();
  return enrollment.run();
}
