/**
 * The deal-lifecycle contract: everything the deal workflow, its activities and the API must agree
 * on (ids, stages, the Tech Check threshold, messages, input and state types, rejection codes).
 * Imported by all three; nothing here does I/O. Message name strings never change once shipped.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { OrderFacts } from './orderToCash.contract';

export const dealWorkflowId = (dealId: string): string => `deal-${dealId}`;

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

const DAY_MS = 24 * 60 * 60 * 1000;

/** When the Tech Check reminders fire, measured from the deal's entry into Tech Check. */
export interface TechCheckReminderSchedule {
  /** A task for the technical consultants. */
  techConsultantsAfterMs: number;
  /** A task for the owner's manager. */
  managerAfterMs: number;
}

/** SPEC defaults; config (TECH_CHECK_CONSULTANT_REMINDER, TECH_CHECK_MANAGER_REMINDER) overrides them for new deals. */
export const DEFAULT_TECH_CHECK_REMINDERS: TechCheckReminderSchedule = { techConsultantsAfterMs: 2 * DAY_MS, managerAfterMs: 5 * DAY_MS };

/** A deal continues as new past this many history events (or sooner when the server suggests it). */
export const DEAL_HISTORY_EVENT_LIMIT = 2_000;

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

export interface BlockedMove {
  to: DealStage | DealOutcome;
  code: DealRejectionCode;
  message: string;
}

export interface DealState {
  dealId: string;
  stage: DealStage;
  status: DealStatus;
  facts: DealFacts;
  techCheck: TechCheckGate;
  /** Moves the rules allow right now (`won`/`lost` stand for closing). */
  allowedMoves: Array<DealStage | DealOutcome>;
  blockedMoves: BlockedMove[];
  /** The last few moves; Postgres (deal_stage_moves) keeps them all. */
  recentMoves: StageMove[];
  moveSeq: number;
  /** Counts the changes applied, across runs: the key of each change's idempotent write. */
  changeSeq: number;
  stageEnteredAt: string;
  /** Counts entries into Tech Check: reminders are due once per visit. */
  techCheckVisit: number;
  /** Reminders written per visit; one that failed permanently is kept with its failure code and no activity. */
  remindersSent: Array<{ visit: number; kind: TechCheckReminderKind; activityId: string | null; failure?: string }>;
  reminderSchedule: TechCheckReminderSchedule;
  closedAt: string | null;
  closeReason: string | null;
  actualRevenueCents: number | null;
  historyEventLimit: number;
  /** How many times this deal has continued as new. */
  runs: number;
}

export type TechCheckReminderKind = 'tech_consultants' | 'manager';

/** A fresh deal: the facts at qualification. Continue-as-new passes `carried` instead. */
export interface DealWorkflowInput {
  dealId: string;
  facts: DealFacts;
  stageEnteredAt: string;
  reminderSchedule: TechCheckReminderSchedule;
  historyEventLimit?: number;
  carried?: DealState;
}

/** Every message names the person acting and the API request, for attribution and audit. */
interface Attributed {
  by: string;
  requestId?: string | null;
}

export interface AdvanceDealInput extends Attributed {
  to: DealStage;
}

export interface CloseDealInput extends Attributed {
  outcome: DealOutcome;
  reason: string | null;
  description?: string | null;
  actualRevenueCents?: number | null;
}

export type DealProductChange =
  | { kind: 'add_line'; productId: string; quantity: number; unitPriceCents?: number | null; discountCents?: number | null }
  | { kind: 'update_line'; lineId: string; quantity?: number; unitPriceCents?: number; discountCents?: number }
  | { kind: 'remove_line'; lineId: string }
  | { kind: 'edit'; name?: string; estimatedValueCents?: number | null; ownerId?: string };

export interface ChangeDealInput extends Attributed {
  change: DealProductChange;
}

export type QuoteChange =
  | { kind: 'activate'; quoteId: string }
  | { kind: 'revise'; quoteId: string }
  | { kind: 'close'; quoteId: string; reason: 'lost' | 'canceled'; description?: string | null; closeDeal?: boolean };

export interface ChangeQuoteInput extends Attributed {
  change: QuoteChange;
}

/** SPEC: winning the active quote creates an order from it, and optionally closes the deal as won. */
export interface WinQuoteInput extends Attributed {
  quoteId: string;
  closeDeal: boolean;
  /** With closeDeal; defaults to the quote's total. */
  actualRevenueCents?: number | null;
}

export interface RecordTechCheckInput extends Attributed {
  quoteId: string;
  outcome: TechCheckOutcome;
  completedAt: string;
  notes: string;
}

/** What an update returns: the new state, and the id of what it created (a line, a quote revision, a check). */
export interface DealUpdateResult {
  state: DealState;
  createdId: string | null;
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

export const getDealStateQuery = defineQuery<DealState>('getDealState');
export const advanceDealUpdate = defineUpdate<DealUpdateResult, [AdvanceDealInput]>('advanceDeal');
export const closeDealUpdate = defineUpdate<DealUpdateResult, [CloseDealInput]>('closeDeal');
export const changeDealUpdate = defineUpdate<DealUpdateResult, [ChangeDealInput]>('changeDeal');
export const changeQuoteUpdate = defineUpdate<DealUpdateResult, [ChangeQuoteInput]>('changeQuote');
export const recordTechCheckUpdate = defineUpdate<DealUpdateResult, [RecordTechCheckInput]>('recordTechCheck');
/** Answers with the new order's id in `createdId`; its workflow `order-<orderId>` has started. */
export const winQuoteUpdate = defineUpdate<DealUpdateResult, [WinQuoteInput]>('winQuote');

// ---------------------------------------------------------------------------------------------
// Activity inputs and results.

/** A stage move or close the workflow has decided; the activity writes it if Postgres agrees. */
export interface RecordDealMoveInput {
  dealId: string;
  move: StageMove;
  close?: { outcome: DealOutcome; reason: string | null; description: string | null; actualRevenueCents: number | null } | null;
  requestId?: string | null;
}

/** What a change activity hands back: fresh facts, the move it wrote if the change sent the deal back, what it created. */
export interface DealChangeResult {
  facts: DealFacts;
  sentBack: StageMove | null;
  closed: { move: StageMove; reason: string | null; actualRevenueCents?: number | null } | null;
  createdId: string | null;
  /** A won quote's new order, for its workflow. */
  order?: { orderId: string; facts: OrderFacts } | null;
}

export interface WinQuoteChange {
  quoteId: string;
  closeDeal: boolean;
  actualRevenueCents: number | null;
}

/** The deal's position as the workflow sees it, for the activity's guard and send-back decision. */
export interface DealPosition {
  stage: DealStage;
  moveSeq: number;
  /** Workflow time, for the send-back move's `at`. */
  at: string;
}

/** How many moves the workflow's state keeps (and the query shows); deal_stage_moves keeps them all. */
export const DEAL_RECENT_MOVES = 20;

/**
 * Where Postgres holds the deal. A `deal_out_of_step` (or `deal_closed`) refusal carries it as its
 * first detail: the workflow found Postgres elsewhere than it believed and takes Postgres's word,
 * so the deal goes on from where its records are instead of refusing every change from then on.
 */
export interface RecordedDealPosition {
  stage: DealStage;
  status: DealStatus;
  moveSeq: number;
  stageEnteredAt: string;
  closedAt: string | null;
  closeReason: string | null;
  actualRevenueCents: number | null;
  /** The last DEAL_RECENT_MOVES moves, oldest first. */
  recentMoves: StageMove[];
  facts: DealFacts;
  /** The highest change number in the ledger under this workflow id: the next change goes past it. */
  changeSeq: number;
}

export interface ApplyDealChangeInput<C> {
  dealId: string;
  /** `<workflowId>/change-<n>`: the key of the idempotent write. */
  key: string;
  position: DealPosition;
  change: C;
  by: string;
  requestId?: string | null;
}

export interface TechCheckReminderInput {
  dealId: string;
  kind: TechCheckReminderKind;
  visit: number;
  waitingSince: string;
}
