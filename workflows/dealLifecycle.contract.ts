/**
 * The deal-lifecycle contract: everything the deal workflow, its activities and the API must agree
 * on (ids, stages, the Tech Check threshold, messages, input and state types, rejection codes).
 * Imported by all three; nothing here does I/O. Message name strings never change once shipped.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { OrderFacts } from './orderToCash.contract';
/** The deal's rules and the facts they judge live in domain/deal.ts; re-exported for the contract's users. */
export { DEAL_STAGES, DEAL_STATUSES, TECH_CHECK_THRESHOLD_CENTS, TECH_CHECK_OUTCOMES, DEAL_REJECTIONS } from '../domain/deal';
export type { DealStage, DealStatus, DealOutcome, TechCheckOutcome, ActiveQuoteFacts, TechCheckFacts, DealFacts, TechCheckGate, StageMove, BlockedMove, DealRejectionCode, DealPosition, TechCheckReminderKind } from '../domain/deal';
import type { BlockedMove, DealFacts, DealOutcome, DealPosition, DealStage, DealStatus, StageMove, TechCheckGate, TechCheckOutcome, TechCheckReminderKind } from '../domain/deal';

export const dealWorkflowId = (dealId: string): string => `deal-${dealId}`;


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
  /**
   * `closeDate` (`YYYY-MM-DD`, judged by the API; absent: today in UTC) is passed through to the
   * activity untouched, so adding it changed no command: histories recorded without it replay.
   */
  | { kind: 'close'; quoteId: string; reason: 'lost' | 'canceled'; description?: string | null; closeDate?: string | null; closeDeal?: boolean };

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
