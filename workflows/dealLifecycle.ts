/**
 * One deal's sales process (SPEC "Deal stages"): Qualify → Develop → Propose → Tech Check (only above
 * $20,000.00) → Close, then won or lost. The workflow is the source of truth for the stage: every
 * move and every change the stage rules judge comes through its Updates, whose validators answer at
 * once from the workflow's copy of the facts; the handlers, one at a time, write Postgres through
 * activities (which re-judge on the rows) before answering, so the database follows in step.
 * While the deal waits in Tech Check, reminders go to the consultants, then to the owner's manager.
 * A long-lived deal continues as new, carrying its state. Deterministic: time from the workflow
 * clock, all I/O in activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
  type ActivityOptions } from '@temporalio/workflow';
import type { DealLifecycleActivities } from '../activities/dealLifecycle';
import type { orderToCashWorkflow } from './orderToCash';
import { orderWorkflowId } from './orderToCash.contract';
import {
  DEAL_HISTORY_EVENT_LIMIT,
  DEAL_RECENT_MOVES,
  DEAL_REJECTIONS,
  DEAL_STAGES,
  advanceDealUpdate,
  changeDealUpdate,
  changeQuoteUpdate,
  closeDealUpdate,
  getDealStateQuery,
  recordTechCheckUpdate,
  winQuoteUpdate,
  type AdvanceDealInput,
  type ChangeDealInput,
  type ChangeQuoteInput,
  type CloseDealInput,
  type DealChangeResult,
  type DealFacts,
  type DealOutcome,
  type DealStage,
  type DealState,
  type DealUpdateResult,
  type DealWorkflowInput,
  type RecordTechCheckInput,
  type RecordedDealPosition,
  type StageMove,
  type TechCheckReminderKind,
  type WinQuoteInput,
} from './dealLifecycle.contract';
import { EntityLock } from './lib/entityLock';
import { PublishedAttributes, describeDuration, historyNearLimit, iso, updateFailure } from './lib/entity';
import { closeRejection, moveRejection, movesNow, techCheckGate, winRejection, wonQuoteRejection, type DealRefusal } from '../domain/deal';
import { DealIdKey, DealStageKey, DealValueKey, OwnerIdKey, TechCheckRequiredKey, WaitingSinceKey } from './searchAttributes';

/**
 * Writes behind an Update: the API waits for them, so they are short and retried briskly until
 * Postgres is back; a rule refusal is final (and typed: it becomes the API's 409 code).
 */
const DEAL_WRITE: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [...Object.values(DEAL_REJECTIONS), 'deal_not_found', 'no_workflow'] },
};
/** Reminder tasks: nobody waits on them, so they back off further. */
const REMINDER_WRITE: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: ['deal_not_found', 'no_workflow'] },
};

const { recordDealMove, changeDealProducts, changeQuote, recordTechCheck, winQuote } = proxyActivities<DealLifecycleActivities>(DEAL_WRITE);
const { createTechCheckReminder } = proxyActivities<DealLifecycleActivities>(REMINDER_WRITE);
const REMINDER_FAILURE_KEPT = 'deal-reminder-failure-kept';

type ChangeRunner = (args: { dealId: string; key: string; position: { stage: DealStage; moveSeq: number; at: string }; by: string; requestId: string | null }) => Promise<DealChangeResult>;
const isStage = (to: string): to is DealStage => (DEAL_STAGES as readonly string[]).includes(to);

class DealLifecycle {
  private readonly state: DealState;
  /** One handler writes at a time, in arrival order; validators answer from the state before their turn, handlers re-check in it. */
  private readonly lock = new EntityLock();
  /** Set when a write found Postgres elsewhere and the state took its position (see `turn`). */
  private caughtUp = false;
  /** The Web UI's search attributes, upserted when what they show changes. */
  private readonly attributes = new PublishedAttributes<{ stage: DealStage; value: number; owner: string; required: boolean; since: string }>(
    {
      stage: (value) => ({ key: DealStageKey, value }),
      value: (value) => ({ key: DealValueKey, value }),
      owner: (value) => ({ key: OwnerIdKey, value }),
      required: (value) => ({ key: TechCheckRequiredKey, value }),
      since: (value) => ({ key: WaitingSinceKey, value: new Date(value) }),
    },
    () => [{ key: DealIdKey, value: this.state.dealId }],
  );

  constructor(private readonly input: DealWorkflowInput) {
    this.state = input.carried
      ? { ...input.carried, runs: input.carried.runs + 1 }
      : {
          dealId: input.dealId,
          stage: 'qualify',
          status: 'open',
          facts: input.facts,
          techCheck: techCheckGate(input.facts),
          allowedMoves: [],
          blockedMoves: [],
          recentMoves: [],
          moveSeq: 0,
          changeSeq: 0,
          stageEnteredAt: input.stageEnteredAt,
          techCheckVisit: 0,
          remindersSent: [],
          reminderSchedule: input.reminderSchedule,
          closedAt: null,
          closeReason: null,
          actualRevenueCents: null,
          historyEventLimit: input.historyEventLimit ?? DEAL_HISTORY_EVENT_LIMIT,
          runs: 0,
        };
    this.refresh();
  }

  setup(): void {
    setHandler(getDealStateQuery, () => this.state);
    setHandler(advanceDealUpdate, (input) => this.turn(() => this.advance(input)), {
      validator: (input) => this.refuse(moveRejection(this.state.stage, this.state.status, input.to, this.state.facts)),
    });
    setHandler(closeDealUpdate, (input) => this.turn(() => this.close(input)), {
      validator: (input) => this.refuse(closeRejection(this.state.stage, this.state.status, input.outcome, input.reason, this.state.facts)),
    });
    setHandler(changeDealUpdate, (input) => this.turn(() => this.changeDeal(input)), {
      validator: (input) => this.refuse(this.dealChangeRejection(input)),
    });
    setHandler(changeQuoteUpdate, (input) => this.turn(() => this.changeQuote(input)), {
      validator: (input) => this.refuse(this.quoteChangeRejection(input)),
    });
    setHandler(recordTechCheckUpdate, (input) => this.turn(() => this.recordTechCheck(input)), {
      validator: (input) => this.refuse(this.techCheckRejection(input)),
    });
    setHandler(winQuoteUpdate, (input) => this.turn(() => this.winQuote(input)), {
      validator: (input) => this.refuse(winRejection(this.state.stage, this.state.status, input.quoteId, this.state.facts)),
    });
  }

  async run(): Promise<DealState> {
    this.publish();
    while (this.state.status === 'open' && !historyNearLimit(this.state.historyEventLimit)) {
      if (this.state.stage === 'tech_check') {
        await this.waitInTechCheck();
      } else {
        await condition(() => this.state.stage === 'tech_check' || this.state.status !== 'open' || historyNearLimit(this.state.historyEventLimit));
      }
    }
    // Let every accepted Update finish (and answer its caller) before the run ends.
    await condition(allHandlersFinished);
    if (this.state.status === 'open') {
      await continueAsNew<typeof dealLifecycleWorkflow>({ ...this.input, facts: this.state.facts, carried: this.state });
    }
    return this.state;
  }

  // --- messages ---------------------------------------------------------------------------------

  private async advance({ to, by, requestId }: AdvanceDealInput): Promise<DealUpdateResult> {
    this.refuse(moveRejection(this.state.stage, this.state.status, to, this.state.facts));
    const move = this.nextMove(to, by, null);
    await this.write(() => recordDealMove({ dealId: this.state.dealId, move, close: null, requestId }));
    this.applyMove(move);
    return this.result(null);
  }

  private async close({ outcome, reason, description, actualRevenueCents, by, requestId }: CloseDealInput): Promise<DealUpdateResult> {
    this.refuse(closeRejection(this.state.stage, this.state.status, outcome, reason, this.state.facts));
    const revenue = outcome === 'won' ? (actualRevenueCents ?? this.state.facts.activeQuote?.totalCents ?? this.state.facts.valueCents) : null;
    const move = this.nextMove(outcome, by, reason);
    await this.write(() =>
      recordDealMove({ dealId: this.state.dealId, move, close: { outcome, reason, description: description ?? null, actualRevenueCents: revenue }, requestId }),
    );
    this.state.actualRevenueCents = revenue;
    this.applyMove(move);
    return this.result(null);
  }

  private async changeDeal(input: ChangeDealInput): Promise<DealUpdateResult> {
    this.refuse(this.dealChangeRejection(input));
    return this.applyChange((args) => changeDealProducts({ ...args, change: input.change }), input);
  }

  private async changeQuote(input: ChangeQuoteInput): Promise<DealUpdateResult> {
    this.refuse(this.quoteChangeRejection(input));
    return this.applyChange((args) => changeQuote({ ...args, change: input.change }), input);
  }

  private async recordTechCheck(input: RecordTechCheckInput): Promise<DealUpdateResult> {
    this.refuse(this.techCheckRejection(input));
    const { quoteId, outcome, completedAt, notes } = input;
    return this.applyChange((args) => recordTechCheck({ ...args, change: { quoteId, outcome, completedAt, notes } }), input);
  }

  /**
   * Closes the quote as won and creates its order (optionally closing the deal as won) in one write,
   * then starts the order's own workflow, which outlives this one (ABANDON: a won deal's run ends).
   */
  private async winQuote(input: WinQuoteInput): Promise<DealUpdateResult> {
    this.refuse(winRejection(this.state.stage, this.state.status, input.quoteId, this.state.facts));
    const change = { quoteId: input.quoteId, closeDeal: input.closeDeal, actualRevenueCents: input.actualRevenueCents ?? null };
    const result = await this.applyChangeWith((args) => winQuote({ ...args, change }), input);
    const order = result.order;
    if (!order) throw ApplicationFailure.nonRetryable('winning the quote created no order', 'deal_write_failed');
    await startChild<typeof orderToCashWorkflow>('orderToCashWorkflow', {
      workflowId: orderWorkflowId(order.orderId),
      args: [{ orderId: order.orderId, facts: order.facts }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Order ${order.facts.orderNumber}: ${order.facts.name}`,
    });
    return this.result(result.createdId);
  }

  // --- rules the validators apply before the activities re-judge them on Postgres's rows ----------

  private openRejection(): DealRefusal | null {
    return this.state.status === 'open' ? null : { code: DEAL_REJECTIONS.dealClosed, message: `the deal is already ${this.state.status}` };
  }

  private dealChangeRejection({ change }: ChangeDealInput): DealRefusal | null {
    const closed = this.openRejection();
    if (closed) return closed;
    if (change.kind !== 'edit' || change.estimatedValueCents !== undefined) {
      const won = wonQuoteRejection(this.state.facts);
      if (won) return won;
    }
    if (change.kind === 'edit' && change.estimatedValueCents !== undefined && this.state.facts.lineCount > 0) {
      return { code: DEAL_REJECTIONS.valueFromProducts, message: 'the deal has product lines: its value is their sum, not an estimate' };
    }
    return null;
  }

  private quoteChangeRejection({ change }: ChangeQuoteInput): DealRefusal | null {
    const closed = this.openRejection();
    if (closed) return closed;
    const active = this.state.facts.activeQuote;
    if (active?.status === 'won' && (change.kind === 'activate' || active.id === change.quoteId)) return wonQuoteRejection(this.state.facts);
    if (change.kind === 'activate' && active && active.id !== change.quoteId) {
      return { code: DEAL_REJECTIONS.activeQuoteExists, message: `the deal already has an active quote (${active.quoteNumber} revision ${active.revision}); revise or close it first` };
    }
    if (change.kind === 'revise' && active?.id !== change.quoteId) {
      return { code: DEAL_REJECTIONS.quoteNotActive, message: 'only the active quote can be revised' };
    }
    return null;
  }

  private techCheckRejection({ quoteId, outcome }: RecordTechCheckInput): DealRefusal | null {
    const closed = this.openRejection();
    if (closed) return closed;
    const active = this.state.facts.activeQuote;
    if (active?.id !== quoteId || active.status === 'won') return { code: DEAL_REJECTIONS.quoteNotActive, message: 'a Tech Check reviews the deal’s active quote' };
    const failed = this.state.facts.techChecks.some((c) => c.quoteId === quoteId && c.quoteRevision === active.revision && c.outcome === 'failed');
    if (outcome === 'passed' && failed) {
      return { code: DEAL_REJECTIONS.techCheckFailed, message: `quote ${active.quoteNumber} revision ${active.revision} failed its Tech Check; revise the quote and check the new revision` };
    }
    return null;
  }

  private refuse(rejection: DealRefusal | null): void {
    if (rejection) throw ApplicationFailure.nonRetryable(rejection.message, rejection.code);
  }

  // --- applying what the activities wrote ---------------------------------------------------------

  private async applyChange(run: ChangeRunner, attributed: { by: string; requestId?: string | null }): Promise<DealUpdateResult> {
    const result = await this.applyChangeWith(run, attributed);
    return this.result(result.createdId);
  }

  private async applyChangeWith(run: ChangeRunner, { by, requestId }: { by: string; requestId?: string | null }): Promise<DealChangeResult> {
    this.state.changeSeq += 1;
    const key = `${workflowInfo().workflowId}/change-${this.state.changeSeq}`;
    const position = { stage: this.state.stage, moveSeq: this.state.moveSeq, at: iso(Date.now()) };
    const result = await this.write(() => run({ dealId: this.state.dealId, key, position, by, requestId: requestId ?? null }));
    this.adopt(result.facts);
    if (result.closed) {
      if (result.closed.actualRevenueCents !== undefined) this.state.actualRevenueCents = result.closed.actualRevenueCents;
      this.applyMove(result.closed.move);
    } else if (result.sentBack) this.applyMove(result.sentBack);
    return result;
  }

  /**
   * A handler's turn: it holds the deal's lock, re-checks its rule on the state the handlers before
   * it left, and writes. If the write found Postgres elsewhere than this state (written behind our
   * back, or split by an older build), the state has taken Postgres's position: the handler runs
   * once more from there, and its re-check decides what the request now means.
   */
  private turn<T>(handler: () => Promise<T>): Promise<T> {
    // Histories from before the lock took turns carry no position to catch up to: they replay as
    // they ran, without the extra awaits (which would reorder their commands).
    if (!this.lock.takesTurns()) return this.lock.exclusive(handler);
    return this.lock.exclusive(async () => {
      this.caughtUp = false;
      try {
        return await handler();
      } catch (error) {
        if (!this.caughtUp) throw error;
        this.caughtUp = false;
        return handler();
      }
    });
  }

  /**
   * Runs a write; a refusal comes back to the caller as the same typed failure, with our facts
   * corrected, or (out of step) our position replaced by Postgres's.
   */
  private async write<T>(activity: () => Promise<T>): Promise<T> {
    try {
      return await activity();
    } catch (error) {
      throw updateFailure(error, 'deal', (cause) => {
        const detail = cause.details?.[0] as DealFacts | RecordedDealPosition | undefined;
        if (detail && typeof detail === 'object' && 'moveSeq' in detail) this.catchUp(detail);
        else if (detail && typeof detail === 'object' && 'lineCount' in detail) this.adopt(detail);
        return ApplicationFailure.nonRetryable(cause.message, cause.type ?? 'deal_write_refused');
      });
    }
  }

  /** Takes Postgres's word for where the deal is (see RecordedDealPosition). */
  private catchUp(recorded: RecordedDealPosition): void {
    const state = this.state;
    if (recorded.stage === 'tech_check' && (state.stage !== 'tech_check' || state.stageEnteredAt !== recorded.stageEnteredAt)) state.techCheckVisit += 1;
    state.stage = recorded.stage;
    state.status = recorded.status;
    state.moveSeq = recorded.moveSeq;
    state.stageEnteredAt = recorded.stageEnteredAt;
    state.closedAt = recorded.closedAt;
    state.closeReason = recorded.closeReason;
    state.actualRevenueCents = recorded.actualRevenueCents;
    state.recentMoves = recorded.recentMoves.slice(-DEAL_RECENT_MOVES);
    state.changeSeq = Math.max(state.changeSeq, recorded.changeSeq);
    this.caughtUp = true;
    this.adopt(recorded.facts);
  }

  private nextMove(to: DealStage | DealOutcome, by: string, reason: string | null): StageMove {
    return { seq: this.state.moveSeq + 1, from: this.state.stage, to, by, at: iso(Date.now()), reason };
  }

  private applyMove(move: StageMove): void {
    this.state.moveSeq = move.seq;
    this.state.recentMoves = [...this.state.recentMoves, move].slice(-DEAL_RECENT_MOVES);
    if (isStage(move.to)) {
      this.state.stage = move.to;
      this.state.stageEnteredAt = move.at;
      if (move.to === 'tech_check') this.state.techCheckVisit += 1;
    } else {
      this.state.status = move.to;
      this.state.closedAt = move.at;
      this.state.closeReason = move.reason;
    }
    this.refresh();
  }

  private adopt(facts: DealFacts): void {
    this.state.facts = facts;
    this.refresh();
  }

  private refresh(): void {
    this.state.techCheck = techCheckGate(this.state.facts);
    const { allowed, blocked } = movesNow(this.state.stage, this.state.status, this.state.facts);
    this.state.allowedMoves = allowed;
    this.state.blockedMoves = blocked;
    if (this.attributes.started) this.publish();
  }

  private result(createdId: string | null): DealUpdateResult {
    return { state: this.state, createdId };
  }

  // --- waiting in Tech Check ---------------------------------------------------------------------

  /** Waits durably (weeks if need be) while the deal is in Tech Check; reminders at the configured delays. */
  private async waitInTechCheck(): Promise<void> {
    const visit = this.state.techCheckVisit;
    const left = () => this.state.stage !== 'tech_check' || this.state.techCheckVisit !== visit || this.state.status !== 'open' || historyNearLimit(this.state.historyEventLimit);
    const since = Date.parse(this.state.stageEnteredAt);
    const schedule = this.state.reminderSchedule;
    const reminders: Array<[TechCheckReminderKind, number, string]> = [
      ['tech_consultants', schedule.techConsultantsAfterMs, 'remind the technical consultants'],
      ['manager', schedule.managerAfterMs, "remind the owner's manager"],
    ];
    for (const [kind, afterMs, what] of reminders) {
      if (this.state.remindersSent.some((r) => r.visit === visit && r.kind === kind)) continue;
      const waitMs = since + afterMs - Date.now();
      if (waitMs > 0 && (await condition(left, waitMs, { summary: `Tech Check: wait ${describeDuration(afterMs)} from entry, then ${what}` }))) return;
      if (left()) return;
      let sent: { activityId: string | null; failure?: string };
      try {
        sent = await createTechCheckReminder.executeWithOptions(
          { ...REMINDER_WRITE, summary: `Tech Check waiting ${describeDuration(afterMs)}: ${what}` },
          [{ dealId: this.state.dealId, kind, visit, waitingSince: this.state.stageEnteredAt }],
        );
      } catch (error) {
        // A reminder that can never be written (a permanent failure; transient ones are retried)
        // must not end the deal's process: keep its failure and go on waiting.
        if (!(error instanceof ActivityFailure) || !patched(REMINDER_FAILURE_KEPT)) throw error;
        sent = { activityId: null, failure: error.cause instanceof ApplicationFailure ? (error.cause.type ?? 'reminder_failed') : 'reminder_failed' };
      }
      this.state.remindersSent = [...this.state.remindersSent.filter((r) => r.visit === visit), { visit, kind, ...sent }];
    }
    await condition(left);
  }

  /** Keeps the Web UI's search attributes in step with the state, upserting only what changed. */
  private publish(): void {
    this.attributes.publish({
      stage: this.state.stage,
      value: this.state.facts.valueCents / 100,
      owner: this.state.facts.ownerId,
      required: this.state.techCheck.required,
      since: this.state.stageEnteredAt,
    });
  }

}

export async function dealLifecycleWorkflow(input: DealWorkflowInput): Promise<DealState> {
  const deal = new DealLifecycle(input);
  deal.setup();
  return deal.run();
}
