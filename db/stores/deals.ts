/**
 * Deals (SPEC "Deal stages"): the record, its product lines and its stage moves (its timeline:
 * timelines.ts).
 * The stage, status and moves are the deal workflow's to decide: only its activities call the
 * writing methods here, inside one transaction per change, after `lockForChange` has checked that
 * Postgres is where the workflow believes it is (open, same move count). Every write is audited.
 */
import type { Knex } from 'knex';
import type { ActiveQuoteFacts, DealFacts, DealOutcome, DealPosition, DealStage, DealStatus, StageMove, TechCheckFacts } from '../../domain/deal';
import { ConflictError, InvalidFieldError, NotFoundError } from '../../domain/rejection';
import { fromRow, toRow } from '../rows';
import { recordAudit } from './audit';
import { assertLineMoney, insertProductLine } from './productLines';
import type { UserWriteContext, WriteContext } from './context';
import type { Page } from './paging';
import { listPage, NEWEST_FIRST } from './paging';

export interface Deal {
  id: string;
  name: string;
  leadId: string | null;
  contactId: string;
  accountId: string | null;
  ownerId: string;
  stage: DealStage;
  status: DealStatus;
  moveSeq: number;
  stageEnteredAt: string;
  valueCents: number;
  estimatedValueCents: number | null;
  closeReason: string | null;
  closeDescription: string | null;
  actualRevenueCents: number | null;
  closedAt: string | null;
  closedBy: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface DealLine {
  id: string;
  dealId: string;
  productId: string;
  sku: string;
  productName: string;
  quantity: number;
  unitPriceCents: number;
  discountCents: number;
  amountCents: number;
  position: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface NewDealLine {
  productId: string;
  quantity: number;
  unitPriceCents?: number | null;
  discountCents?: number | null;
}

export interface DealLinePatch {
  quantity?: number;
  unitPriceCents?: number;
  discountCents?: number;
}

export interface DealEdit {
  name?: string;
  estimatedValueCents?: number | null;
  ownerId?: string;
}

export interface DealFilter {
  stage?: DealStage[];
  status?: DealStatus[];
  ownerId?: string;
  accountId?: string;
  contactId?: string;
  minValueCents?: number;
  maxValueCents?: number;
}

export interface NewDeal {
  name: string;
  leadId: string | null;
  contactId: string;
  accountId: string | null;
  ownerId: string;
  estimatedValueCents: number | null;
}

export interface DealCloseFields {
  outcome: DealOutcome;
  reason: string | null;
  description: string | null;
  actualRevenueCents: number | null;
}


const LINE_COLUMNS = ['deal_lines.*', 'products.sku', 'products.name as product_name'];

export const toMove = (r: Record<string, unknown>): StageMove => ({
  seq: r.seq as number, from: r.from_stage as DealStage, to: r.to_stage as StageMove['to'],
  by: r.moved_by as string, at: (r.at as Date).toISOString(), reason: (r.reason as string | null) ?? null,
});

/**
 * What the stage rules judge, from the deal, its line count, its quotes and its checks (oldest
 * first). The offer the customer holds: the quote they accepted, else the active one (at most one of either).
 */
export function dealFacts(
  deal: Deal, lineCount: number,
  quotes: ReadonlyArray<Required<ActiveQuoteFacts> | { status: string }>,
  checks: ReadonlyArray<TechCheckFacts>,
): DealFacts {
  const quote = (quotes.find((q) => q.status === 'won') ?? quotes.find((q) => q.status === 'active')) as Required<ActiveQuoteFacts> | undefined;
  return {
    name: deal.name,
    ownerId: deal.ownerId,
    lineCount,
    valueCents: deal.valueCents,
    estimatedValueCents: deal.estimatedValueCents,
    activeQuote: quote ? { id: quote.id, quoteNumber: quote.quoteNumber, revision: quote.revision, totalCents: quote.totalCents, status: quote.status } : null,
    techChecks: checks.map((c): TechCheckFacts => ({
      id: c.id, quoteId: c.quoteId, quoteRevision: c.quoteRevision, outcome: c.outcome, completedAt: c.completedAt, performedBy: c.performedBy,
    })),
  };
}

export class DealStore {
  constructor(private readonly db: Knex) {}

  /** The deal's row (for a snapshot read; `get` runs it). */
  query(id: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('deals').where({ id });
  }

  /** The deal's product lines in their order. */
  linesQuery(dealId: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('deal_lines').join('products', 'products.id', 'deal_lines.product_id').select(LINE_COLUMNS).where('deal_lines.deal_id', dealId).orderBy([{ column: 'deal_lines.position' }, { column: 'deal_lines.created_at' }]);
  }

  /** Every stage move and the close, in order. */
  movesQuery(dealId: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('deal_stage_moves').where({ deal_id: dealId }).orderBy('seq');
  }

  async get(id: string, db: Knex = this.db): Promise<Deal | null> {
    const row = await this.query(id, db).first();
    return row ? fromRow<Deal>(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Deal> {
    const deal = await this.get(id, db);
    if (!deal) throw new NotFoundError('deal', id);
    return deal;
  }

  async byLead(leadId: string, db: Knex = this.db): Promise<Deal | null> {
    const row = await db('deals').where({ lead_id: leadId }).first();
    return row ? fromRow<Deal>(row) : null;
  }

  async list(filter: DealFilter, page: Page): Promise<{ items: Deal[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.stage?.length) q.whereIn('stage', filter.stage);
      if (filter.status?.length) q.whereIn('status', filter.status);
      if (filter.ownerId) q.where('owner_id', filter.ownerId);
      if (filter.accountId) q.where('account_id', filter.accountId);
      if (filter.contactId) q.where('contact_id', filter.contactId);
      if (filter.minValueCents !== undefined) q.where('value_cents', '>=', filter.minValueCents);
      if (filter.maxValueCents !== undefined) q.where('value_cents', '<=', filter.maxValueCents);
      return q;
    };
    return listPage(() => where(this.db('deals')), NEWEST_FIRST, page, (r) => fromRow<Deal>(r));
  }

  async lines(dealId: string, db: Knex = this.db): Promise<DealLine[]> {
    const rows = await this.linesQuery(dealId, db);
    return rows.map((r: Record<string, unknown>) => fromRow<DealLine>(r));
  }

  async line(dealId: string, lineId: string, db: Knex = this.db): Promise<DealLine | null> {
    const row = await db('deal_lines').join('products', 'products.id', 'deal_lines.product_id').select(LINE_COLUMNS).where({ 'deal_lines.deal_id': dealId, 'deal_lines.id': lineId }).first();
    return row ? fromRow<DealLine>(row) : null;
  }

  async moves(dealId: string, db: Knex = this.db): Promise<StageMove[]> {
    const rows = await this.movesQuery(dealId, db);
    return rows.map(toMove);
  }

  /** What the stage rules judge, straight from the rows. */
  async facts(dealId: string, db: Knex = this.db): Promise<DealFacts> {
    // One after another: `db` may be a transaction, and a connection runs one query at a time.
    const deal = await this.require(dealId, db);
    const [{ count }] = await db('deal_lines').where({ deal_id: dealId }).count<{ count: number }[]>({ count: '*' });
    const quotes = await db('quotes').where({ deal_id: dealId }).whereIn('status', ['active', 'won']).select('id', 'quote_number', 'revision', 'total_cents', 'status');
    const checks = await db('tech_checks').where({ deal_id: dealId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
    return dealFacts(deal, Number(count), quotes.map((q: Record<string, unknown>) => fromRow<Required<ActiveQuoteFacts>>(q)), checks.map((c: Record<string, unknown>) => fromRow<TechCheckFacts>(c)));
  }

  /**
   * Locks an open deal for a change and checks Postgres is where the workflow believes it is. A
   * mismatch means something wrote behind the workflow's back: refuse rather than guess.
   */
  async lockForChange(trx: Knex.Transaction, dealId: string, position: Pick<DealPosition, 'stage' | 'moveSeq'> | null): Promise<Deal> {
    const row = await trx('deals').where({ id: dealId }).forUpdate().first();
    if (!row) throw new NotFoundError('deal', dealId);
    const deal = fromRow<Deal>(row);
    if (deal.status !== 'open') throw new ConflictError('deal_closed', `deal ${dealId} is already ${deal.status}`, undefined, { dealStatus: deal.status });
    if (position && (deal.stage !== position.stage || deal.moveSeq !== position.moveSeq)) {
      throw new ConflictError('deal_out_of_step', `deal ${dealId} is in ${deal.stage} (move ${deal.moveSeq}) in the database but in ${position.stage} (move ${position.moveSeq}) in its workflow`);
    }
    return deal;
  }

  async create(trx: Knex.Transaction, input: NewDeal, ctx: UserWriteContext): Promise<Deal> {
    const [row] = await trx('deals')
      .insert({ ...toRow(input), value_cents: input.estimatedValueCents ?? 0, created_by: ctx.userId })
      .returning('*');
    const deal = fromRow<Deal>(row);
    await recordAudit(trx, { ...ctx, action: 'deal.created', entityType: 'deal', entityId: deal.id, after: deal });
    return deal;
  }

  async addLine(trx: Knex.Transaction, dealId: string, input: NewDealLine, ctx: UserWriteContext): Promise<DealLine> {
    const id = await insertProductLine(trx, 'deal_lines', { column: 'deal_id', id: dealId }, input, ctx.userId);
    const line = (await this.line(dealId, id, trx))!;
    await recordAudit(trx, { ...ctx, action: 'deal.line_added', entityType: 'deal', entityId: dealId, after: line });
    await this.refreshValue(trx, dealId, ctx);
    return line;
  }

  async updateLine(trx: Knex.Transaction, dealId: string, lineId: string, patch: DealLinePatch, ctx: UserWriteContext): Promise<DealLine> {
    const before = await this.line(dealId, lineId, trx);
    if (!before) throw new ConflictError('deal_line_not_found', `deal ${dealId} has no line ${lineId}`, 'lineId');
    const next = { quantity: patch.quantity ?? before.quantity, unitPriceCents: patch.unitPriceCents ?? before.unitPriceCents, discountCents: patch.discountCents ?? before.discountCents };
    assertLineMoney(next.quantity, next.unitPriceCents, next.discountCents);
    await trx('deal_lines').where({ id: lineId, deal_id: dealId }).update({ ...toRow(next), updated_at: trx.fn.now() });
    const after = (await this.line(dealId, lineId, trx))!;
    await recordAudit(trx, { ...ctx, action: 'deal.line_updated', entityType: 'deal', entityId: dealId, before, after });
    await this.refreshValue(trx, dealId, ctx);
    return after;
  }

  async removeLine(trx: Knex.Transaction, dealId: string, lineId: string, ctx: UserWriteContext): Promise<void> {
    const before = await this.line(dealId, lineId, trx);
    if (!before) throw new ConflictError('deal_line_not_found', `deal ${dealId} has no line ${lineId}`, 'lineId');
    await trx('deal_lines').where({ id: lineId, deal_id: dealId }).delete();
    await recordAudit(trx, { ...ctx, action: 'deal.line_removed', entityType: 'deal', entityId: dealId, before });
    await this.refreshValue(trx, dealId, ctx);
  }

  /** Name, estimate (only while the deal has no lines: the lines decide its value), owner. */
  async edit(trx: Knex.Transaction, dealId: string, patch: DealEdit, ctx: UserWriteContext): Promise<Deal> {
    const before = await this.require(dealId, trx);
    if (patch.estimatedValueCents !== undefined) {
      const [{ count }] = await trx('deal_lines').where({ deal_id: dealId }).count<{ count: number }[]>({ count: '*' });
      if (Number(count) > 0) throw new ConflictError('value_from_products', 'the deal has product lines: its value is their sum, not an estimate', 'estimatedValueCents');
    }
    if (patch.ownerId && patch.ownerId !== before.ownerId) {
      const owner = await trx('users').where({ id: patch.ownerId }).whereNull('disabled_at').first('id');
      if (!owner) throw new InvalidFieldError('ownerId', 'unknown_user', `ownerId ${patch.ownerId} is not an active user`);
    }
    await trx('deals').where({ id: dealId }).update({ ...toRow(patch), updated_at: trx.fn.now() });
    await this.refreshValue(trx, dealId, null);
    const after = await this.require(dealId, trx);
    await recordAudit(trx, { ...ctx, action: 'deal.updated', entityType: 'deal', entityId: dealId, before, after });
    return after;
  }

  /** The deal's value: the sum of its lines, or the estimate while it has none. */
  private async refreshValue(trx: Knex.Transaction, dealId: string, ctx: UserWriteContext | null): Promise<void> {
    const [{ count, sum }] = await trx('deal_lines').where({ deal_id: dealId }).select(trx.raw('count(*)::int as count, coalesce(sum(amount_cents), 0)::bigint as sum'));
    const before = await trx('deals').where({ id: dealId }).first('value_cents', 'estimated_value_cents');
    const value = Number(count) > 0 ? Number(sum) : Number(before.estimated_value_cents ?? 0);
    if (value === before.value_cents) return;
    await trx('deals').where({ id: dealId }).update({ value_cents: value, updated_at: trx.fn.now() });
    if (ctx) await recordAudit(trx, { ...ctx, action: 'deal.value_changed', entityType: 'deal', entityId: dealId, before: { valueCents: before.value_cents }, after: { valueCents: value } });
  }

  /**
   * Writes a move the workflow decided, once: the (deal, seq) key makes a retry a no-op, and the
   * guard on move_seq makes moves apply in the workflow's order.
   */
  async recordMove(trx: Knex.Transaction, dealId: string, move: StageMove, close: DealCloseFields | null, workflowId: string, ctx: WriteContext): Promise<boolean> {
    const inserted = await trx('deal_stage_moves')
      .insert({ deal_id: dealId, seq: move.seq, from_stage: move.from, to_stage: move.to, moved_by: move.by, reason: move.reason, workflow_id: workflowId, at: move.at })
      .onConflict(['deal_id', 'seq'])
      .ignore()
      .returning('id');
    if (inserted.length === 0) return false;
    const before = await this.require(dealId, trx);
    const fields: Record<string, unknown> = { move_seq: move.seq, updated_at: trx.fn.now() };
    if (close) {
      Object.assign(fields, {
        status: close.outcome, close_reason: close.reason, close_description: close.description,
        actual_revenue_cents: close.actualRevenueCents, closed_at: move.at, closed_by: move.by,
      });
    } else {
      Object.assign(fields, { stage: move.to, stage_entered_at: move.at });
    }
    const updated = await trx('deals').where({ id: dealId, move_seq: move.seq - 1 }).update(fields);
    if (updated !== 1) throw new ConflictError('deal_out_of_step', `deal ${dealId} is not at move ${move.seq - 1}; refusing move ${move.seq}`);
    const after = await this.require(dealId, trx);
    const action = close ? `deal.${close.outcome}` : 'deal.stage_moved';
    await recordAudit(trx, { ...ctx, action, entityType: 'deal', entityId: dealId, before, after: { ...after, move } });
    return true;
  }
}

export { assertLineMoney };
