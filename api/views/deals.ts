/**
 * What the API shows of a deal, a quote and a Tech Check: the response schemas (which also make the
 * OpenAPI document) and the reads that fill them. Everything is read from Postgres, which the deal
 * workflow has brought in step before any update answered; the stage rules add the gate and moves.
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { fromRow } from '../../db/rows';
import { readTogether } from '../../db/snapshot';
import { DealStore, dealFacts, toMove, type Deal, type DealLine } from '../../db/stores/deals';
import { QUOTE_STATUSES, QuoteStore, toQuote } from '../../db/stores/quotes';
import { TechCheckStore, type TechCheck } from '../../db/stores/techChecks';
import { NotFoundError } from '../../domain/rejection';
import { DEAL_STAGES, DEAL_STATUSES, TECH_CHECK_OUTCOMES, dealWorkflowId, type DealState } from '../../workflows/dealLifecycle.contract';
import { movesNow, techCheckGate } from '../../domain/deal';
import { isoDate, isoDateTime } from '../schemas';

const stageOrOutcome = z.enum([...DEAL_STAGES, 'won', 'lost']);

/** A product line as every document (deal, quote, order, invoice) shows it. */
export const lineSchema = z.object({
  id: z.uuid(),
  productId: z.uuid(),
  sku: z.string(),
  productName: z.string(),
  quantity: z.number().int(),
  unitPriceCents: z.number().int(),
  discountCents: z.number().int(),
  amountCents: z.number().int().describe('quantity × unit price − discount'),
  position: z.number().int(),
});

/** A deal's lines are edited in place, so they say who added them and when they last changed. */
export const dealLineSchema = lineSchema.extend({
  dealId: z.uuid(),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});

export const quoteLineSchema = lineSchema.extend({ quoteId: z.uuid() });

export const techCheckSchema = z.object({
  id: z.uuid(),
  dealId: z.uuid(),
  quoteId: z.uuid(),
  quoteRevision: z.number().int(),
  quoteTotalCents: z.number().int().describe('The total of the revision that was reviewed'),
  outcome: z.enum(TECH_CHECK_OUTCOMES),
  completedAt: isoDateTime(),
  notes: z.string(),
  performedBy: z.uuid(),
  activityId: z.uuid().nullable().describe('The note on the deal’s timeline'),
  createdAt: isoDateTime(),
});

export const quoteSchema = z.object({
  id: z.uuid(),
  dealId: z.uuid(),
  quoteNumber: z.string(),
  revision: z.number().int(),
  revisedFromId: z.uuid().nullable(),
  name: z.string(),
  description: z.string().nullable(),
  validUntil: isoDate().nullable(),
  contactId: z.uuid(),
  accountId: z.uuid().nullable(),
  status: z.enum(QUOTE_STATUSES),
  statusReason: z.enum(['revised', 'lost', 'canceled']).nullable(),
  totalCents: z.number().int(),
  activatedAt: isoDateTime().nullable(),
  activatedBy: z.uuid().nullable(),
  closedAt: isoDateTime().nullable(),
  closedBy: z.uuid().nullable(),
  closeDate: isoDate().nullable().describe('The date the quote was closed or won (the date given when closing, else that day in UTC); `closedAt` is when it was recorded'),
  closeDescription: z.string().nullable(),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});

export const quoteDetailSchema = quoteSchema.extend({
  lines: z.array(quoteLineSchema),
  techChecks: z.array(techCheckSchema),
});

export const gateSchema = z.object({
  required: z.boolean(),
  reason: z.enum(['value_above_threshold', 'value_at_or_below_threshold']).describe('Why a Tech Check is (not) required'),
  thresholdCents: z.number().int(),
  judgedValueCents: z.number().int().describe('The larger of the deal value and the active quote total'),
  basis: z.enum(['deal_value', 'active_quote']),
  satisfied: z.boolean().describe('Whether the deal may leave Propose/Tech Check as far as the check is concerned'),
  passedCheckId: z.uuid().nullable(),
  failedCheckId: z.uuid().nullable(),
});

export const moveSchema = z.object({
  seq: z.number().int(),
  from: z.enum(DEAL_STAGES),
  to: stageOrOutcome,
  by: z.uuid(),
  at: z.string(),
  reason: z.string().nullable(),
});

export const dealSchema = z.object({
  id: z.uuid(),
  workflowId: z.string(),
  name: z.string(),
  leadId: z.uuid().nullable(),
  contactId: z.uuid(),
  accountId: z.uuid().nullable(),
  ownerId: z.uuid(),
  stage: z.enum(DEAL_STAGES),
  status: z.enum(DEAL_STATUSES),
  moveSeq: z.number().int().describe('How many stage moves (and the close) the deal has made; the deal’s process counts the same'),
  stageEnteredAt: isoDateTime(),
  valueCents: z.number().int().describe('The sum of the lines, or the estimate while there are none'),
  estimatedValueCents: z.number().int().nullable(),
  closeReason: z.string().nullable(),
  closeDescription: z.string().nullable(),
  actualRevenueCents: z.number().int().nullable(),
  closedAt: isoDateTime().nullable(),
  closedBy: z.uuid().nullable(),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});

export const dealDetailSchema = dealSchema.extend({
  lines: z.array(dealLineSchema),
  techCheck: gateSchema,
  techChecks: z.array(techCheckSchema),
  quotes: z.array(quoteSchema),
  activeQuoteId: z.uuid().nullable(),
  wonQuoteId: z.uuid().nullable().describe('The quote the customer accepted, once won'),
  orders: z.array(z.object({ id: z.uuid(), orderNumber: z.string(), status: z.string(), totalCents: z.number().int() })).describe('Orders created by winning its quote'),
  moves: z.array(moveSchema).describe('Every stage move and the close: who, when, from, to'),
  allowedMoves: z.array(stageOrOutcome).describe('Where the deal may go now (`won`/`lost`: closing)'),
  blockedMoves: z.array(z.object({ to: stageOrOutcome, code: z.string(), message: z.string() })).describe('Moves the rules refuse now, and why'),
});

/** The deal workflow's own answer to an update: the API's record agrees with it. */
export const processSchema = z.object({
  workflowId: z.string(),
  stage: z.enum(DEAL_STAGES),
  status: z.enum(DEAL_STATUSES),
  moveSeq: z.number().int(),
});

export const dealUpdatedSchema = dealDetailSchema.extend({
  process: processSchema,
  createdId: z.uuid().nullable().describe('What the change created (a line), if anything'),
});

export type DealDetail = z.infer<typeof dealDetailSchema>;

export const processOf = (state: DealState) => ({ workflowId: dealWorkflowId(state.dealId), stage: state.stage, status: state.status, moveSeq: state.moveSeq });

export function dealViews(db: Db) {
  const deals = new DealStore(db);
  const quotes = new QuoteStore(db);
  const checks = new TechCheckStore(db);

  async function dealDetail(id: string): Promise<DealDetail> {
    // One snapshot, so the stage, the facts and the moves shown belong together; one round trip.
    const rows = await readTogether(db, {
      deal: deals.query(id), lines: deals.linesQuery(id), checks: checks.forDealQuery(id), quotes: quotes.forDealQuery(id), moves: deals.movesQuery(id),
      orders: db('orders').where({ deal_id: id }).orderBy('created_at').select('id', 'order_number', 'status', 'total_cents'),
    });
    if (!rows.deal.length) throw new NotFoundError('deal', id);
    const deal = fromRow<Deal>(rows.deal[0]);
    const lines = rows.lines.map((r) => fromRow<DealLine>(r));
    const checkList = rows.checks.map((r) => fromRow<TechCheck>(r));
    const quoteList = rows.quotes.map(toQuote);
    const moves = rows.moves.map(toMove);
    const orders = rows.orders;
    const facts = dealFacts(deal, lines.length, quoteList, checkList);
    const { allowed, blocked } = movesNow(deal.stage, deal.status, facts);
    return {
      ...deal,
      workflowId: dealWorkflowId(deal.id),
      lines,
      techCheck: techCheckGate(facts),
      techChecks: checkList,
      quotes: quoteList,
      activeQuoteId: facts.activeQuote?.status === 'won' ? null : (facts.activeQuote?.id ?? null),
      wonQuoteId: facts.activeQuote?.status === 'won' ? facts.activeQuote.id : null,
      orders: orders.map((o: Record<string, unknown>) => ({ id: o.id as string, orderNumber: o.order_number as string, status: o.status as string, totalCents: o.total_cents as number })),
      moves,
      allowedMoves: allowed,
      blockedMoves: blocked,
    };
  }

  async function quoteDetail(id: string) {
    const quote = await quotes.require(id);
    const [lines, checkList] = await Promise.all([quotes.lines(id), checks.forDeal(quote.dealId)]);
    return { ...quote, lines, techChecks: checkList.filter((c) => c.quoteId === id) };
  }

  return { dealDetail, quoteDetail };
}
