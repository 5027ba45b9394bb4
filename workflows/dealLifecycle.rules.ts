/**
 * The stage rules of SPEC "Deal stages" as pure functions of a deal's stage, status and facts. The
 * workflow's validators use them to answer at once; the activities use the same functions inside
 * their transactions as a second guard on Postgres's own rows, so the Tech Check gate holds even if
 * the workflow's copy of the facts were stale. Deterministic: no I/O, no clock.
 */
import {
  DEAL_REJECTIONS,
  DEAL_STAGES,
  TECH_CHECK_THRESHOLD_CENTS,
  type BlockedMove,
  type DealFacts,
  type DealOutcome,
  type DealRejectionCode,
  type DealStage,
  type DealStatus,
  type TechCheckGate,
} from './dealLifecycle.contract';

export interface Rejection {
  code: DealRejectionCode;
  message: string;
}

/** `$20,000.00` (no Intl: the workflow sandbox should not depend on the ICU data of the Node build). */
import { dollars } from '../domain/money';

export { dollars };

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

function techCheckRequiredRejection(facts: DealFacts, gate: TechCheckGate): Rejection {
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
export function moveRejection(stage: DealStage, status: DealStatus, to: DealStage, facts: DealFacts): Rejection | null {
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

function skipped(stage: DealStage, next: DealStage): Rejection {
  return { code: DEAL_REJECTIONS.stageSkipped, message: `from ${stage} the deal moves forward one stage at a time (next: ${next})` };
}

/** Why the deal may not be closed with `outcome` now, or null when it may. */
export function closeRejection(stage: DealStage, status: DealStatus, outcome: DealOutcome, reason: string | null, facts: DealFacts): Rejection | null {
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
export function winRejection(stage: DealStage, status: DealStatus, quoteId: string, facts: DealFacts): Rejection | null {
  if (status !== 'open') return { code: DEAL_REJECTIONS.dealClosed, message: `the deal is already ${status}` };
  const quote = facts.activeQuote;
  if (quote?.status === 'won') {
    return { code: DEAL_REJECTIONS.quoteWon, message: quote.id === quoteId ? `quote ${quote.quoteNumber} revision ${quote.revision} is already won` : `the deal's quote ${quote.quoteNumber} revision ${quote.revision} was won: its offer is settled` };
  }
  if (!quote || quote.id !== quoteId) return { code: DEAL_REJECTIONS.quoteNotActive, message: 'only the deal’s active quote can be won (activate it first)' };
  return closeRejection(stage, status, 'won', null, facts);
}

/** The deal's quote was won: what it offered is on order, so the offer is no longer changed. */
export function wonQuoteRejection(facts: DealFacts): Rejection | null {
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
