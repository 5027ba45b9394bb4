/**
 * One lead-nurture sequence (SPEC "Lead nurturing sequence"): four steps, each gap measured from the
 * completion of the previous step, stoppable at any time, pausable by the owner or a manager.
 * Deterministic: time comes from the workflow clock, all I/O from activities.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions } from '@temporalio/workflow';
import type { LeadNurtureActivities } from '../activities/leadNurture';
import {
  MANUAL_STOP_REASONS,
  NURTURE_CADENCE_V1,
  NURTURE_REJECTIONS,
  getNurtureStateQuery,
  pauseNurtureUpdate,
  resumeNurtureUpdate,
  stopNurtureSignal,
  stopNurtureUpdate,
  type LeadNurtureInput,
  type NurtureCadence,
  type NurtureState,
  type NurtureStatus,
  type NurtureStepResult,
  type StopNurtureInput,
} from './leadNurture.contract';
import { CustomerTypeKey, LeadIdKey, NurtureStatusKey, NurtureStepKey, OwnerIdKey } from './searchAttributes';
import { describeDuration, iso, permanentFailure } from './lib/entity';

/**
 * Step writes retry until the database is back (nothing accepted is lost); a lead that no longer
 * exists is a business fact, not a transient fault.
 */
const STEP_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: ['lead_not_found'] },
};

const { performNurtureStep, recordSkippedNurtureSteps } = proxyActivities<LeadNurtureActivities>(STEP_ACTIVITY);

/**
 * A step whose activity fails permanently (the worker classifies every failure: only a permanent
 * one reaches the workflow) stops the sequence as `step_failed` instead of failing the run.
 */
const STEP_FAILURE_STOPS = 'nurture-step-failure-stops';

class LeadNurture {
  private readonly state: NurtureState;
  private inFlightStep: number | null = null;
  /** The gap timer that is running, so pause can say at once what is left of it. */
  private gap: { index: number; startedAt: number; remainingMs: number } | null = null;
  private published: { status: NurtureStatus; step: string | null; ownerId: string } | null = null;

  constructor(
    private readonly input: LeadNurtureInput,
    private readonly cadence: NurtureCadence,
  ) {
    const now = Date.now();
    this.state = {
      leadId: input.leadId,
      ownerId: input.ownerId,
      cadenceVersion: cadence.version,
      status: 'running',
      steps: cadence.steps.map((s) => ({
        step: s.step,
        title: s.title,
        activityType: s.activityType,
        state: 'pending',
        dueAt: null,
        doneAt: null,
        activityId: null,
      })),
      currentStep: cadence.steps[0].step,
      nextStepAt: iso(now),
      pausedAt: null,
      pausedBy: null,
      remainingGapMs: null,
      stopReason: null,
      stoppedBy: null,
      failure: null,
      startedAt: iso(now),
      endedAt: null,
    };
    this.setDue(0, now);
  }

  setup(): void {
    setHandler(getNurtureStateQuery, () => this.state);
    setHandler(stopNurtureUpdate, (input) => this.stop(input), {
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
    setHandler(pauseNurtureUpdate, ({ by }) => this.pause(by), {
      validator: (_input) => {
        this.assertNotFinished();
        if (this.state.status === 'paused') {
          throw ApplicationFailure.nonRetryable('the sequence is already paused', NURTURE_REJECTIONS.alreadyPaused);
        }
      },
    });
    setHandler(resumeNurtureUpdate, (_input) => this.resume(), {
      validator: (_input) => {
        this.assertNotFinished();
        if (this.state.status !== 'paused') {
          throw ApplicationFailure.nonRetryable('the sequence is not paused', NURTURE_REJECTIONS.notPaused);
        }
      },
    });
  }

  async run(): Promise<NurtureState> {
    this.publish();
    const { steps } = this.cadence;
    for (let index = 0; index < steps.length; index++) {
      if (index > 0 && !(await this.waitGap(index))) break;
      if (this.state.stopReason) break;
      await this.performStep(index);
      this.publish();
    }
    if (this.state.stopReason) {
      await this.recordSkipped();
    } else {
      this.state.status = 'completed';
      this.state.nextStepAt = null;
    }
    this.state.endedAt = iso(Date.now());
    this.publish();
    await condition(allHandlersFinished);
    return this.state;
  }

  private async performStep(index: number): Promise<void> {
    const def = this.cadence.steps[index];
    const view = this.state.steps[index];
    this.inFlightStep = index;
    this.state.currentStep = def.step;
    let result: NurtureStepResult;
    try {
      result = await performNurtureStep.executeWithOptions(
        { ...STEP_ACTIVITY, summary: `Step ${index + 1} of ${this.cadence.steps.length}: ${def.title}` },
        [{ leadId: this.input.leadId, step: def.step, stepIndex: index, title: def.title, activityType: def.activityType, dueAt: view.dueAt ?? iso(Date.now()) }],
      );
    } catch (error) {
      const failure = permanentFailure(error);
      if (!failure || !patched(STEP_FAILURE_STOPS)) throw error;
      this.inFlightStep = null;
      view.state = 'skipped';
      this.state.failure = { step: def.step, ...failure };
      if (!this.state.stopReason) this.stop({ reason: 'step_failed', by: 'system' });
      return;
    }
    this.inFlightStep = null;
    if (result.outcome === 'lead_closed') {
      // The lead was closed without its stop signal reaching us (yet): stop for the same reason.
      if (!this.state.stopReason) this.stop({ reason: result.reason, by: 'system' });
      view.state = 'skipped';
      return;
    }
    if (result.outcome === 'bounced') {
      view.state = 'skipped';
      view.activityId = result.activityId;
      if (!this.state.stopReason) this.stop({ reason: 'bounced', by: 'system' });
      return;
    }
    view.state = 'done';
    view.doneAt = iso(Date.now());
    view.activityId = result.activityId;
    this.state.ownerId = result.ownerId;
    const next = this.state.steps[index + 1];
    if (next) {
      this.state.currentStep = next.step;
      if (!this.state.stopReason) this.setDue(index + 1, Date.now() + this.cadence.steps[index + 1].gapMs);
    }
  }

  /** Waits out the gap before step `index`; false when the sequence was stopped meanwhile. */
  private async waitGap(index: number): Promise<boolean> {
    const def = this.cadence.steps[index];
    let remaining = def.gapMs;
    for (;;) {
      if (this.state.stopReason) return false;
      if (this.state.status === 'paused') {
        this.freeze(index, remaining);
        await condition(() => this.state.status !== 'paused' || this.state.stopReason !== null);
        continue;
      }
      if (remaining <= 0) return true;
      this.gap = { index, startedAt: Date.now(), remainingMs: remaining };
      this.state.remainingGapMs = null;
      this.setDue(index, Date.now() + remaining);
      const label = remaining === def.gapMs ? def.gapLabel : describeDuration(remaining);
      const interrupted = await condition(
        () => this.state.status === 'paused' || this.state.stopReason !== null,
        remaining,
        { summary: `Wait ${label}, then: ${def.title}` },
      );
      const elapsed = Date.now() - this.gap.startedAt;
      this.gap = null;
      if (!interrupted) return true;
      remaining = Math.max(0, remaining - elapsed);
    }
  }

  /** While paused nothing is due; what is left of the gap is kept for the resume. */
  private freeze(index: number, remainingMs: number): void {
    this.state.remainingGapMs = remainingMs;
    this.setDue(index, null);
  }

  private stop({ reason, by }: StopNurtureInput): NurtureState {
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

  private pause(by: string): NurtureState {
    this.state.status = 'paused';
    this.state.pausedAt = iso(Date.now());
    this.state.pausedBy = by;
    if (this.gap) this.freeze(this.gap.index, Math.max(0, this.gap.remainingMs - (Date.now() - this.gap.startedAt)));
    this.publish();
    return this.state;
  }

  private resume(): NurtureState {
    this.state.status = 'running';
    this.state.pausedAt = null;
    this.state.pausedBy = null;
    const index = this.state.steps.findIndex((s) => s.state === 'pending');
    if (this.state.remainingGapMs !== null && index > 0) this.setDue(index, Date.now() + this.state.remainingGapMs);
    this.publish();
    return this.state;
  }

  private async recordSkipped(): Promise<void> {
    const skipped = this.state.steps
      .map((step, stepIndex) => ({ step: step.step, stepIndex, dueAt: step.dueAt, state: step.state }))
      .filter((s) => s.state === 'skipped')
      .map(({ step, stepIndex, dueAt }) => ({ step, stepIndex, dueAt }));
    if (skipped.length === 0 || !this.state.stopReason) return;
    try {
      await recordSkippedNurtureSteps.executeWithOptions(
        { ...STEP_ACTIVITY, summary: `Record ${skipped.length} skipped step(s): ${this.state.stopReason}` },
        [{ leadId: this.input.leadId, steps: skipped, reason: this.state.stopReason }],
      );
    } catch (error) {
      // The state keeps the skipped steps; only their rows could not be written.
      const failure = permanentFailure(error);
      if (!failure || !patched(STEP_FAILURE_STOPS)) throw error;
      this.state.failure ??= { step: skipped[0].step, ...failure };
    }
  }

  /** Sets step `index`'s due time and projects the later pending steps from it. */
  private setDue(index: number, dueMs: number | null): void {
    let at = dueMs;
    this.state.nextStepAt = at === null ? null : iso(at);
    for (let i = index; i < this.state.steps.length; i++) {
      const step = this.state.steps[i];
      if (step.state !== 'pending') continue;
      if (i > index && at !== null) at += this.cadence.steps[i].gapMs;
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

  /**
   * Keeps the Web UI's search attributes in step with the state, without redundant upserts. The
   * first call sets them all, so a run is findable however it was started.
   */
  private publish(): void {
    const { status, currentStep, ownerId } = this.state;
    const last = this.published;
    if (last?.status === status && last.step === currentStep && last.ownerId === ownerId) return;
    this.published = { status, step: currentStep, ownerId };
    upsertSearchAttributes([
      ...(last ? [] : [{ key: LeadIdKey, value: this.input.leadId }, { key: CustomerTypeKey, value: this.input.customerType }]),
      ...(last?.ownerId === ownerId ? [] : [{ key: OwnerIdKey, value: ownerId }]),
      { key: NurtureStatusKey, value: status },
      { key: NurtureStepKey, value: currentStep ?? '' },
    ]);
  }
}

export async function leadNurtureWorkflow(input: LeadNurtureInput): Promise<NurtureState> {
  if (input.customerType !== 'corporate') {
    throw ApplicationFailure.nonRetryable('only corporate leads can be nurtured', 'not_corporate');
  }
  const nurture = new LeadNurture(input, NURTURE_CADENCE_V1);
  nurture.setup();
  return nurture.run();
}
