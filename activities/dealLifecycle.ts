/**
 * The deal workflow's side effects. Every change to what the stage rules judge (product lines, the
 * estimate, quote activation / revision / close, Tech Checks) and every stage move is written here,
 * one transaction each, so Postgres follows the workflow exactly:
 * - a change is keyed by `<workflowId>/change-<n>` in deal_changes: a retry returns the stored result,
 *   and only a retry does (the stored change must be of the same kind for the same deal);
 * - a move is keyed by (deal, move number): a retry finds its row (the same move: from, to, by), and
 *   moves apply in order;
 * - each transaction first checks Postgres is where the workflow believes (open, same stage and
 *   move count) and re-judges the rule on its own rows, so a stale workflow copy cannot open the gate;
 * - when Postgres is elsewhere (`deal_out_of_step`, `deal_closed`), the refusal carries where it is
 *   (RecordedDealPosition), so the workflow catches up instead of refusing every later change;
 * - a change that closes the gate of a deal in Close writes the send-back to Tech Check in the same
 *   transaction.
 * Business refusals are non-retryable ApplicationFailures typed with the rule's code (the API's 409).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { Logger } from '../config/logger';
import { ConflictError } from '../domain/rejection';
import type { Db } from '../db/knex';
import { DealStore } from '../db/stores/deals';
import { OrderStore } from '../db/stores/orders';
import { QuoteStore } from '../db/stores/quotes';
import { TechCheckStore } from '../db/stores/techChecks';
import { userContext, type UserWriteContext } from '../db/stores/context';
import {
  DEAL_RECENT_MOVES,
  DEAL_REJECTIONS,
  type ApplyDealChangeInput,
  type DealChangeResult,
  type DealFacts,
  type DealProductChange,
  type QuoteChange,
  type RecordDealMoveInput,
  type RecordedDealPosition,
  type StageMove,
  type TechCheckReminderInput,
  type WinQuoteChange,
} from '../workflows/dealLifecycle.contract';
import { closeRejection, moveRejection, needsSendBack, techCheckGate, winRejection, wonQuoteRejection } from '../domain/deal';
import { dollars } from '../domain/money';
import { applyOnce, lastChangeNumber, type ChangeLedger } from './lib/changeLedger';
import { currentWorkflowId, refusalsAsFailures } from './lib/execution';

export interface DealLifecycleDeps {
  db: Db;
  log: Logger;
}

/** Refusals that mean Postgres is not where the workflow believes the deal is. */
const OUT_OF_STEP: ReadonlySet<string> = new Set([DEAL_REJECTIONS.outOfStep, DEAL_REJECTIONS.dealClosed]);

const DEAL_CHANGES: ChangeLedger = { table: 'deal_changes', recordColumn: 'deal_id', outOfStepCode: DEAL_REJECTIONS.outOfStep };

export function createDealLifecycleActivities({ db, log }: DealLifecycleDeps) {
  const deals = new DealStore(db);
  const quotes = new QuoteStore(db);
  const checks = new TechCheckStore(db);
  const orders = new OrderStore(db);

  /** Where Postgres holds the deal now, read after the refused transaction rolled back. */
  async function recordedPosition(dealId: string, workflowId: string): Promise<RecordedDealPosition> {
    const deal = await deals.require(dealId);
    const recentMoves = (await deals.moves(dealId)).slice(-DEAL_RECENT_MOVES);
    return {
      stage: deal.stage, status: deal.status, moveSeq: deal.moveSeq, stageEnteredAt: deal.stageEnteredAt,
      closedAt: deal.closedAt, closeReason: deal.closeReason, actualRevenueCents: deal.actualRevenueCents,
      recentMoves, facts: await deals.facts(dealId), changeSeq: await lastChangeNumber(db, DEAL_CHANGES, dealId, workflowId),
    };
  }

  /**
   * Store refusals become typed, non-retryable failures; an out-of-step one carries Postgres's
   * position, which the workflow takes.
   */
  function refusalsCarryingPosition<T>(dealId: string, workflowId: string, work: () => Promise<T>): Promise<T> {
    return refusalsAsFailures(work, async (rejection) => (OUT_OF_STEP.has(rejection.code) ? [await recordedPosition(dealId, workflowId)] : undefined));
  }

  /**
   * One change in one transaction: the ledger row makes it happen once; the guard checks the deal
   * is open and where the workflow believes; `apply` writes; the send-back or close follows.
   */
  async function applyChange<C>(
    kind: string,
    input: ApplyDealChangeInput<C>,
    apply: (trx: Knex.Transaction, ctx: UserWriteContext) => Promise<{ createdId: string | null; closeDeal?: string | null; win?: { actualRevenueCents: number } | null; order?: DealChangeResult['order'] }>,
  ): Promise<DealChangeResult> {
    const workflowId = currentWorkflowId();
    const alreadyApplied = () => log.debug({ dealId: input.dealId, key: input.key }, 'deal change already applied');
    return refusalsCarryingPosition(input.dealId, workflowId, () =>
      db.transaction((trx) => applyOnce(trx, DEAL_CHANGES, { key: input.key, recordId: input.dealId, kind }, async () => {
        const { position } = input;
        await deals.lockForChange(trx, input.dealId, position);
        const ctx = userContext(input.by, input.requestId);
        const { createdId, closeDeal, win, order } = await apply(trx, ctx);
        const facts = await deals.facts(input.dealId, trx);
        let sentBack: StageMove | null = null;
        let closed: DealChangeResult['closed'] = null;
        if (closeDeal) {
          const move: StageMove = { seq: position.moveSeq + 1, from: position.stage, to: 'lost', by: input.by, at: position.at, reason: closeDeal };
          await deals.recordMove(trx, input.dealId, move, { outcome: 'lost', reason: closeDeal, description: null, actualRevenueCents: null }, workflowId, ctx);
          closed = { move, reason: closeDeal };
        } else if (win) {
          const move: StageMove = { seq: position.moveSeq + 1, from: position.stage, to: 'won', by: input.by, at: position.at, reason: null };
          await deals.recordMove(trx, input.dealId, move, { outcome: 'won', reason: null, description: null, actualRevenueCents: win.actualRevenueCents }, workflowId, ctx);
          closed = { move, reason: null, actualRevenueCents: win.actualRevenueCents };
        } else if (needsSendBack(position.stage, 'open', facts)) {
          sentBack = { seq: position.moveSeq + 1, from: position.stage, to: 'tech_check', by: input.by, at: position.at, reason: DEAL_REJECTIONS.techCheckRequired };
          await deals.recordMove(trx, input.dealId, sentBack, null, workflowId, ctx);
        }
        const result: DealChangeResult = { facts, sentBack, closed, createdId, ...(order ? { order } : {}) };
        return result;
      }, alreadyApplied)),
    );
  }

  async function changeDealProducts(input: ApplyDealChangeInput<DealProductChange>): Promise<DealChangeResult> {
    const { change, dealId } = input;
    return applyChange(change.kind, input, async (trx, ctx) => {
      if (change.kind !== 'edit' || change.estimatedValueCents !== undefined) {
        const won = wonQuoteRejection(await deals.facts(dealId, trx));
        if (won) throw ApplicationFailure.nonRetryable(won.message, won.code);
      }
      switch (change.kind) {
        case 'add_line':
          return { createdId: (await deals.addLine(trx, dealId, change, ctx)).id };
        case 'update_line':
          await deals.updateLine(trx, dealId, change.lineId, change, ctx);
          return { createdId: null };
        case 'remove_line':
          await deals.removeLine(trx, dealId, change.lineId, ctx);
          return { createdId: null };
        case 'edit':
          await deals.edit(trx, dealId, { name: change.name, estimatedValueCents: change.estimatedValueCents, ownerId: change.ownerId }, ctx);
          return { createdId: null };
      }
    });
  }

  async function changeQuote(input: ApplyDealChangeInput<QuoteChange>): Promise<DealChangeResult> {
    const { change, dealId } = input;
    return applyChange(`quote_${change.kind}`, input, async (trx, ctx) => {
      switch (change.kind) {
        case 'activate':
          await quotes.activate(trx, dealId, change.quoteId, ctx);
          return { createdId: null };
        case 'revise':
          return { createdId: (await quotes.revise(trx, dealId, change.quoteId, ctx)).id };
        case 'close': {
          const quote = await quotes.close(trx, dealId, change.quoteId, { reason: change.reason, description: change.description ?? null, closeDate: change.closeDate ?? null }, ctx);
          return { createdId: null, closeDeal: change.closeDeal ? `quote_${quote.statusReason}` : null };
        }
      }
    });
  }

  async function recordTechCheck(input: ApplyDealChangeInput<{ quoteId: string; outcome: 'passed' | 'failed'; completedAt: string; notes: string }>): Promise<DealChangeResult> {
    const { change, dealId } = input;
    return applyChange('tech_check', input, async (trx, ctx) => {
      const quote = await trx('quotes').where({ id: change.quoteId }).forUpdate().first();
      if (!quote || quote.deal_id !== dealId) throw ApplicationFailure.nonRetryable(`quote ${change.quoteId} does not belong to deal ${dealId}`, DEAL_REJECTIONS.quoteNotOnDeal);
      const q = (await quotes.get(change.quoteId, trx))!;
      if (q.status !== 'active') throw ApplicationFailure.nonRetryable(`quote ${q.quoteNumber} revision ${q.revision} is ${q.status}; a Tech Check reviews the active quote`, DEAL_REJECTIONS.quoteNotActive);
      if (change.outcome === 'passed') {
        const failed = await trx('tech_checks').where({ quote_id: q.id, quote_revision: q.revision, outcome: 'failed' }).first('id');
        if (failed) throw ApplicationFailure.nonRetryable(`quote ${q.quoteNumber} revision ${q.revision} failed its Tech Check; revise the quote and check the new revision`, DEAL_REJECTIONS.techCheckFailed);
      }
      return { createdId: (await checks.record(trx, q, change, ctx)).id };
    });
  }

  /**
   * SPEC: winning the active quote closes it as won and creates the order, products and prices
   * copied; with `closeDeal` the deal is won too (revenue: the given amount, else the quote's total).
   * Re-judged on the rows: the deal in Close, the quote active, the Tech Check rule satisfied.
   */
  async function winQuote(input: ApplyDealChangeInput<WinQuoteChange>): Promise<DealChangeResult> {
    const { change, dealId, position } = input;
    return applyChange('quote_win', input, async (trx, ctx) => {
      const rejection = winRejection(position.stage, 'open', change.quoteId, await deals.facts(dealId, trx));
      if (rejection) throw ApplicationFailure.nonRetryable(rejection.message, rejection.code);
      const deal = await deals.require(dealId, trx);
      const quote = await quotes.win(trx, dealId, change.quoteId, ctx);
      const order = await orders.createFromQuote(trx, quote, deal.ownerId, ctx);
      return {
        createdId: order.id,
        win: change.closeDeal ? { actualRevenueCents: change.actualRevenueCents ?? quote.totalCents } : null,
        order: { orderId: order.id, facts: await orders.facts(order.id, trx) },
      };
    });
  }

  /**
   * Writes a move or close the workflow decided, after re-judging it on Postgres's rows. A rule's
   * refusal carries the fresh facts, so the workflow corrects its copy; finding Postgres at another
   * move, the refusal carries Postgres's position, and the workflow takes it.
   */
  async function recordDealMove(input: RecordDealMoveInput): Promise<DealFacts> {
    const workflowId = currentWorkflowId();
    const { dealId, move, close } = input;
    return refusalsCarryingPosition(dealId, workflowId, () =>
      db.transaction(async (trx) => {
        const done = await trx('deal_stage_moves').where({ deal_id: dealId, seq: move.seq }).first('from_stage', 'to_stage', 'moved_by');
        if (done) {
          // A retry of this very move finds it written; any other move under its number is not ours to claim.
          if (done.from_stage === move.from && done.to_stage === move.to && done.moved_by === move.by) return deals.facts(dealId, trx);
          throw new ConflictError(DEAL_REJECTIONS.outOfStep, `deal ${dealId}'s move ${move.seq} is ${done.from_stage} → ${done.to_stage} in the database, not ${move.from} → ${move.to}`);
        }
        await deals.lockForChange(trx, dealId, { stage: move.from, moveSeq: move.seq - 1 });
        const facts = await deals.facts(dealId, trx);
        const rejection = close
          ? closeRejection(move.from, 'open', close.outcome, close.reason, facts)
          : moveRejection(move.from, 'open', move.to as StageMove['from'], facts);
        if (rejection) throw ApplicationFailure.nonRetryable(rejection.message, rejection.code, facts);
        await deals.recordMove(trx, dealId, move, close ?? null, workflowId, userContext(move.by, input.requestId));
        return facts;
      }),
    );
  }

  /** SPEC: while a deal waits in Tech Check, a task for the consultants (2 days), then for the owner's manager (5 days). */
  async function createTechCheckReminder(input: TechCheckReminderInput): Promise<{ activityId: string }> {
    const workflowId = currentWorkflowId();
    const deal = await deals.get(input.dealId);
    if (!deal) throw ApplicationFailure.nonRetryable(`deal ${input.dealId} no longer exists`, 'deal_not_found');
    const facts = await deals.facts(deal.id);
    const gate = techCheckGate(facts);
    const quote = facts.activeQuote ? `quote ${facts.activeQuote.quoteNumber} revision ${facts.activeQuote.revision}` : 'the active quote (none yet: the rep must activate one)';
    const waited = `since ${input.waitingSince.slice(0, 10)}`;
    let ownerId: string | null = null;
    let subject: string;
    let body: string;
    if (input.kind === 'tech_consultants') {
      subject = `Tech Check needed: ${deal.name}`;
      body = `For the technical consultants: deal "${deal.name}" (${dollars(gate.judgedValueCents)}) has waited in Tech Check ${waited}. Review ${quote} and record the check, with notes even if everything is in order.`;
    } else {
      const owner = await db('users').where({ id: deal.ownerId }).first('manager_id', 'name');
      ownerId = owner?.manager_id ?? null;
      subject = `Tech Check overdue: ${deal.name}`;
      body = `Deal "${deal.name}" of ${owner?.name ?? 'its owner'} (${dollars(gate.judgedValueCents)}) has waited in Tech Check ${waited} without a passed check of ${quote}.${ownerId ? '' : ' The owner has no manager on record: this task is for any manager.'}`;
    }
    const { activityId, created } = await checks.createReminder({ dealId: deal.id, visit: input.visit, kind: input.kind, ownerId, subject, body, dueAt: new Date().toISOString(), workflowId });
    log.info({ dealId: deal.id, kind: input.kind, visit: input.visit, activityId, firstWrite: created }, 'tech check reminder');
    return { activityId };
  }

  return { changeDealProducts, changeQuote, recordTechCheck, recordDealMove, createTechCheckReminder, winQuote };
}

export type DealLifecycleActivities = ReturnType<typeof createDealLifecycleActivities>;
