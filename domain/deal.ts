/**
 * A deal's sales process as pure rules (SPEC "Deal stages"): the stages, the facts the rules judge,
 * the $20,000.00 Tech Check gate, and why a move, a close or a win is refused. The deal workflow's
 * validators use them to answer at once; its activities judge the same functions again on
 * Postgres's own rows inside their transactions, so the gate holds even if the workflow's copy were
 * stale; the API reads the gate from them. Deterministic: no I/O, no clock.
 */
import { dollars } from './money';
import type { RejectionKind } from './rejection';

/** SPEC "Deal stages", in order. */
export const DEAL_STAGES = ['qualify', 'develop', 'propose', 'tech_check', 'close'] as const;
export type DealStage = (typeof DEAL_STAGES)[number];
export const DEAL_STATUSES = ['open', 'won', 'lost'] as const;
export type DealStatus = (typeof DEAL_STATUSES)[number];
export type DealOutcome = 'won' | 'lost';

/** SPEC: a Tech Check is needed for deals worth strictly more than $20,000.00. */
export const TECH_CHECK_THRESHOLD_CENTS = 2_000_000;

export const TECH_CHECK_OUTCOMES = ['passed', 'failed'] as const;
export type TechCheckOutcome = (typeof TECH_CHECK_OUTCOMES)[number];

/** The quote the customer currently holds: the deal's one active quote, or the quote it won. */
export interface ActiveQuoteFacts {
  id: string;
  quoteNumber: string;
  revision: number;
  totalCents: number;
  /** `won` once the customer accepted it (absent in facts recorded before orders existed: active). */
  status?: 'active' | 'won';
}

export interface TechCheckFacts {
  id: string;
  quoteId: string;
  quoteRevision: number;
  outcome: TechCheckOutcome;
  completedAt: string;
  performedBy: string;
}

/**
 * What the stage rules are judged on. Postgres holds these records; the workflow holds this copy,
 * refreshed by every change it applies (all of them go through it), so its validators answer at once.
 */
export interface DealFacts {
  name: string;
  ownerId: string;
  lineCount: number;
  /** The sum of the lines, or the estimate while there are none. */
  valueCents: number;
  estimatedValueCents: number | null;
  activeQuote: ActiveQuoteFacts | null;
  /** Checks recorded for the deal's quotes, oldest first. */
  techChecks: TechCheckFacts[];
}

export interface TechCheckGate {
  required: boolean;
  /** `value_above_threshold` or `value_at_or_below_threshold`. */
  reason: 'value_above_threshold' | 'value_at_or_below_threshold';
  thresholdCents: number;
  /** The value the rule judges: the larger of the deal's value and its active quote's total. */
  judgedValueCents: number;
  basis: 'deal_value' | 'active_quote';
  /** Whether the deal may leave Propose/Tech Check as far as the check is concerned. */
  satisfied: boolean;
  /** The passed check covering the active quote revision, if any. */
  passedCheckId: string | null;
  /** A failed check of the active quote revision keeps the gate closed until the quote is revised. */
  failedCheckId: string | null;
}

/** A stage move, or the close (to `won` / `lost`). */
export interface StageMove {
  seq: number;
  from: DealStage;
  to: DealStage | DealOutcome;
  by: string;
  at: string;
  /** Why, when it is not a plain move: a send-back's rule code, a close reason. */
  reason: string | null;
}

/** Where the deal's process believes the deal is: a write is refused when Postgres is elsewhere. */
export interface DealPosition {
  stage: DealStage;
  moveSeq: number;
  /** Process time, for a send-back move's `at`. */
  at: string;
}

/** Who a reminder of a deal waiting in Tech Check is for. */
export type TechCheckReminderKind = 'tech_consultants' | 'manager';

export interface BlockedMove {
  to: DealStage | DealOutcome;
  code: DealRejectionCode;
  message: string;
}

/** Codes the validators and activities reject with; the API answers 409 with them. */
export const DEAL_REJECTIONS = {
  dealClosed: 'deal_closed',
  alreadyInStage: 'already_in_stage',
  stageSkipped: 'stage_skipped',
  productsRequired: 'products_required',
  activeQuoteRequired: 'active_quote_required',
  techCheckRequired: 'tech_check_required',
  techCheckNotRequired: 'tech_check_not_required',
  closeStageRequired: 'close_stage_required',
  reasonRequired: 'reason_required',
  valueFromProducts: 'value_from_products',
  activeQuoteExists: 'active_quote_exists',
  quoteNotActive: 'quote_not_active',
  quoteNotDraft: 'quote_not_draft',
  quoteNotOpen: 'quote_not_open',
  quoteLinesRequired: 'quote_lines_required',
  quoteNotOnDeal: 'quote_not_on_deal',
  quoteWon: 'quote_won',
  techCheckFailed: 'tech_check_failed',
  lineNotFound: 'deal_line_not_found',
  productInactive: 'product_inactive',
  outOfStep: 'deal_out_of_step',
} as const;
export type DealRejectionCode = (typeof DEAL_REJECTIONS)[keyof typeof DEAL_REJECTIONS];

/** A deal refusal is about the deal's state, but for the missing close reason (the request's content). */
export function dealRejectionKind(code: string): RejectionKind {
  return code === DEAL_REJECTIONS.reasonRequired ? 'content' : 'state';
}

/** Why a move, close or change of a deal is refused (its kind: `dealRejectionKind(code)`). */
export interface DealRefusal {
  code: DealRejectionCode;
  message: string;
}

/**
 * SPEC: a deal worth more than $20,000.00 cannot move past Tech Check until a technical consultant
 * has recorded a passed check of the quote being offered. The value judged is the larger of the
 * deal's value and its active quote's total (what the customer would sign); a check covers only the
 * revision it reviewed, and a failed check of that revision keeps the gate closed until a revision
 * passes a new check.
 */
export function techCheckGate(facts: DealFacts): TechCheckGate {
  const quoteTotal = facts.activeQuote?.totalCents ?? 0;
  const judgedValueCents = Math.max(facts.valueCents, quoteTotal);
  const required = judgedValueCents > TECH_CHECK_THRESHOLD_CENTS;
  const quote = facts.activeQuote;
  const forQuote = quote ? facts.techChecks.filter((c) => c.quoteId === quote.id && c.quoteRevision === quote.revision) : [];
  const failed = forQuote.find((c) => c.outcome === 'failed') ?? null;
  const passed = failed ? null : (forQuote.find((c) => c.outcome === 'passed') ?? null);
  return {
    required,
    reason: required ? 'value_above_threshold' : 'value_at_or_below_threshold',
    thresholdCents: TECH_CHECK_THRESHOLD_CENTS,
    judgedValueCents,
    basis: quoteTotal > facts.valueCents ? 'active_quote' : 'deal_value',
    satisfied: !required || passed !== null,
    passedCheckId: passed?.id ?? null,
    failedCheckId: failed?.id ?? null,
  };
}

const stageIndex = (stage: DealStage): number => DEAL_STAGES.indexOf(stage);

function techCheckRequiredRejection(facts: DealFacts, gate: TechCheckGate): DealRefusal {
  const quote = facts.activeQuote;
  const what = gate.failedCheckId
    ? `quote ${quote?.quoteNumber} revision ${quote?.revision} failed its Tech Check; revise the quote and have the new revision checked`
    : quote
      ? `quote ${quote.quoteNumber} revision ${quote.revision} has no passed Tech Check`
      : 'there is no active quote with a passed Tech Check';
  return {
    code: DEAL_REJECTIONS.techCheckRequired,
    message: `the deal is worth ${dollars(gate.judgedValueCents)}, more than ${dollars(gate.thresholdCents)}: ${what}`,
  };
}

/** Why the deal may not move from `stage` to `to` now, or null when it may. */
export function moveRejection(stage: DealStage, status: DealStatus, to: DealStage, facts: DealFacts): DealRefusal | null {
  if (status !== 'open') return { code: DEAL_REJECTIONS.dealClosed, message: `the deal is already ${status}` };
  if (to === stage) return { code: DEAL_REJECTIONS.alreadyInStage, message: `the deal is already in ${to}` };
  const gate = techCheckGate(facts);
  if (stageIndex(to) < stageIndex(stage)) {
    if (to === 'tech_check' && !gate.required) {
      return { code: DEAL_REJECTIONS.techCheckNotRequired, message: `a deal worth ${dollars(gate.judgedValueCents)} needs no Tech Check` };
    }
    return null;
  }
  switch (stage) {
    case 'qualify':
      return to === 'develop' ? null : skipped(stage, 'develop');
    case 'develop':
      if (to !== 'propose') return skipped(stage, 'propose');
      return facts.lineCount > 0 ? null : { code: DEAL_REJECTIONS.productsRequired, message: 'name at least one product on the deal before leaving Develop' };
    case 'propose':
      if (!facts.activeQuote) return { code: DEAL_REJECTIONS.activeQuoteRequired, message: 'activate a quote before leaving Propose' };
      if (to === 'tech_check') {
        return gate.required ? null : { code: DEAL_REJECTIONS.techCheckNotRequired, message: `a deal worth ${dollars(gate.judgedValueCents)} needs no Tech Check: move it to close` };
      }
      if (!gate.required) return null;
      // Above the threshold the deal must pass through Tech Check, even with a check already recorded.
      return { code: DEAL_REJECTIONS.techCheckRequired, message: `the deal is worth ${dollars(gate.judgedValueCents)}, more than ${dollars(gate.thresholdCents)}: it must pass through tech_check` };
    case 'tech_check':
      if (!facts.activeQuote) return { code: DEAL_REJECTIONS.activeQuoteRequired, message: 'activate a quote before leaving Tech Check' };
      return gate.satisfied ? null : techCheckRequiredRejection(facts, gate);
    case 'close':
      return skipped(stage, 'close');
  }
}

function skipped(stage: DealStage, next: DealStage): DealRefusal {
  return { code: DEAL_REJECTIONS.stageSkipped, message: `from ${stage} the deal moves forward one stage at a time (next: ${next})` };
}

/** Why the deal may not be closed with `outcome` now, or null when it may. */
export function closeRejection(stage: DealStage, status: DealStatus, outcome: DealOutcome, reason: string | null, facts: DealFacts): DealRefusal | null {
  if (status !== 'open') return { code: DEAL_REJECTIONS.dealClosed, message: `the deal is already ${status}` };
  if (outcome === 'lost') {
    return reason && reason.trim() ? null : { code: DEAL_REJECTIONS.reasonRequired, message: 'closing a deal as lost needs a reason' };
  }
  if (stage !== 'close') return { code: DEAL_REJECTIONS.closeStageRequired, message: `a deal is won only from close; it is in ${stage}` };
  if (!facts.activeQuote) return { code: DEAL_REJECTIONS.activeQuoteRequired, message: 'a deal is won on its active quote; activate one first' };
  const gate = techCheckGate(facts);
  return gate.satisfied ? null : techCheckRequiredRejection(facts, gate);
}

/**
 * SPEC "Quotes, orders, invoices": winning a quote creates the order. Only the deal's active quote
 * can be won, and only as the deal could be won: in Close, with the Tech Check rule satisfied for
 * that quote revision. Once a quote is won, the deal's offer is settled.
 */
export function winRejection(stage: DealStage, status: DealStatus, quoteId: string, facts: DealFacts): DealRefusal | null {
  if (status !== 'open') return { code: DEAL_REJECTIONS.dealClosed, message: `the deal is already ${status}` };
  const quote = facts.activeQuote;
  if (quote?.status === 'won') {
    return { code: DEAL_REJECTIONS.quoteWon, message: quote.id === quoteId ? `quote ${quote.quoteNumber} revision ${quote.revision} is already won` : `the deal's quote ${quote.quoteNumber} revision ${quote.revision} was won: its offer is settled` };
  }
  if (!quote || quote.id !== quoteId) return { code: DEAL_REJECTIONS.quoteNotActive, message: 'only the deal’s active quote can be won (activate it first)' };
  return closeRejection(stage, status, 'won', null, facts);
}

/** The deal's quote was won: what it offered is on order, so the offer is no longer changed. */
export function wonQuoteRejection(facts: DealFacts): DealRefusal | null {
  const quote = facts.activeQuote;
  return quote?.status === 'won'
    ? { code: DEAL_REJECTIONS.quoteWon, message: `the deal's quote ${quote.quoteNumber} revision ${quote.revision} was won: its offer is settled` }
    : null;
}

/**
 * SPEC: a value that rises above the threshold after Propose sends the deal back to Tech Check. A
 * deal in Close whose gate has closed again (higher value, new revision, failed check) goes back.
 */
export function needsSendBack(stage: DealStage, status: DealStatus, facts: DealFacts): boolean {
  return status === 'open' && stage === 'close' && !techCheckGate(facts).satisfied;
}

export function movesNow(stage: DealStage, status: DealStatus, facts: DealFacts): { allowed: Array<DealStage | DealOutcome>; blocked: BlockedMove[] } {
  const allowed: Array<DealStage | DealOutcome> = [];
  const blocked: BlockedMove[] = [];
  if (status !== 'open') return { allowed, blocked };
  for (const to of DEAL_STAGES) {
    if (to === stage) continue;
    const rejection = moveRejection(stage, status, to, facts);
    if (!rejection) allowed.push(to);
    else if (rejection.code !== DEAL_REJECTIONS.stageSkipped) blocked.push({ to, ...rejection });
  }
  const won = closeRejection(stage, status, 'won', null, facts);
  if (won) blocked.push({ to: 'won', ...won });
  else allowed.push('won');
  allowed.push('lost');
  return { allowed, blocked };
}
