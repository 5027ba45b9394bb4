/**
 * Quotes (SPEC "Quotes, orders, invoices", the quote part): a draft prefilled from the deal, editable;
 * activated (sent to the customer) it is read-only; revising it makes an editable copy with the
 * revision number plus one and closes the old one as `revised`; it can be closed as lost or canceled.
 * A deal has at most one active quote (a partial unique index says so too). Activating, revising
 * and closing change what the deal's stage rules judge, so the deal workflow's activities call them;
 * creating and editing drafts does not, so the API calls those directly.
 */
import type { Knex } from 'knex';
import { ConflictError, NotFoundError } from '../../domain/rejection';
import { fromRow, fromRowWithDates, toRow } from '../rows';
import { recordAudit } from './audit';
import { type NewDealLine, type DealLinePatch } from './deals';
import { assertLineMoney, insertProductLine } from './productLines';
import type { UserWriteContext } from './context';

export const QUOTE_STATUSES = ['draft', 'active', 'won', 'closed'] as const;
export type QuoteStatus = (typeof QUOTE_STATUSES)[number];
export const QUOTE_CLOSE_REASONS = ['lost', 'canceled'] as const;
export type QuoteCloseReason = (typeof QUOTE_CLOSE_REASONS)[number];

export interface Quote {
  id: string;
  dealId: string;
  quoteNumber: string;
  revision: number;
  revisedFromId: string | null;
  name: string;
  description: string | null;
  validUntil: string | null;
  contactId: string;
  accountId: string | null;
  status: QuoteStatus;
  statusReason: 'revised' | QuoteCloseReason | null;
  totalCents: number;
  activatedAt: string | null;
  activatedBy: string | null;
  closedAt: string | null;
  closedBy: string | null;
  /** The business date the quote was closed or won (`YYYY-MM-DD`); `closedAt` is when the row changed. */
  closeDate: string | null;
  closeDescription: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface QuoteLine {
  id: string;
  quoteId: string;
  productId: string;
  sku: string;
  productName: string;
  quantity: number;
  unitPriceCents: number;
  discountCents: number;
  amountCents: number;
  position: number;
}

export interface QuoteCloseDetails {
  reason: QuoteCloseReason;
  description: string | null;
  /** `YYYY-MM-DD`; absent or null: today in UTC. */
  closeDate?: string | null;
}

export interface QuoteEdit {
  name?: string;
  description?: string | null;
  validUntil?: string | null;
}


const LINE_COLUMNS = ['quote_lines.id', 'quote_lines.quote_id', 'quote_lines.product_id', 'products.sku', 'products.name as product_name', 'quote_lines.quantity', 'quote_lines.unit_price_cents', 'quote_lines.discount_cents', 'quote_lines.amount_cents', 'quote_lines.position'];

export function toQuote(row: Record<string, unknown>): Quote {
  return fromRowWithDates<Quote>(row, ['valid_until', 'close_date']);
}

/** A close without a date given: the day of the transaction's `now()` (the row's `closed_at`) in UTC. */
const todayUtc = (trx: Knex.Transaction) => trx.raw("(now() at time zone 'UTC')::date");

export class QuoteStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, db: Knex = this.db): Promise<Quote | null> {
    const row = await db('quotes').where({ id }).first();
    return row ? toQuote(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Quote> {
    const quote = await this.get(id, db);
    if (!quote) throw new NotFoundError('quote', id);
    return quote;
  }

  /** The deal's quotes, oldest first (for a snapshot read; `forDeal` runs it). */
  forDealQuery(dealId: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('quotes').where({ deal_id: dealId }).orderBy([{ column: 'created_at' }, { column: 'quote_number' }, { column: 'revision' }]);
  }

  async forDeal(dealId: string, db: Knex = this.db): Promise<Quote[]> {
    const rows = await this.forDealQuery(dealId, db);
    return rows.map(toQuote);
  }

  async lines(quoteId: string, db: Knex = this.db): Promise<QuoteLine[]> {
    const rows = await db('quote_lines').join('products', 'products.id', 'quote_lines.product_id').select(LINE_COLUMNS).where('quote_lines.quote_id', quoteId).orderBy('quote_lines.position');
    return rows.map((r: Record<string, unknown>) => fromRow<QuoteLine>(r));
  }

  /** A draft prefilled from the deal: its customer and its product lines at their prices. */
  /** A draft from the deal's lines; `id`, when given (a keyed request's rerun), is reused: the quote made before is returned. */
  async create(dealId: string, input: { name?: string | null; description?: string | null; validUntil?: string | null }, ctx: UserWriteContext, id: string | null = null): Promise<Quote> {
    return this.db.transaction(async (trx) => {
      const made = id ? await this.get(id, trx) : null;
      if (made) return made;
      // Shares the row lock the deal workflow's close takes, so no quote is born on a closed deal.
      const deal = await trx('deals').where({ id: dealId }).forShare().first();
      if (!deal) throw new NotFoundError('deal', dealId);
      if (deal.status !== 'open') throw new ConflictError('deal_closed', `deal ${dealId} is already ${deal.status}`);
      const [{ number }] = (await trx.raw("select 'Q-' || nextval('quote_number_seq') as number")).rows;
      const [row] = await trx('quotes')
        .insert({
          ...(id ? { id } : {}), deal_id: dealId, quote_number: number, revision: 1, name: input.name?.trim() || deal.name, description: input.description ?? null,
          valid_until: input.validUntil ?? null, contact_id: deal.contact_id, account_id: deal.account_id, created_by: ctx.userId,
        })
        .returning('*');
      const dealLines = await trx('deal_lines').where({ deal_id: dealId }).orderBy('position');
      if (dealLines.length) {
        await trx('quote_lines').insert(dealLines.map((l: Record<string, unknown>) => ({
          quote_id: row.id, product_id: l.product_id, quantity: l.quantity, unit_price_cents: l.unit_price_cents,
          discount_cents: l.discount_cents, position: l.position, created_by: ctx.userId,
        })));
      }
      await this.refreshTotal(trx, row.id);
      const quote = (await this.get(row.id, trx))!;
      await recordAudit(trx, { ...ctx, action: 'quote.created', entityType: 'quote', entityId: quote.id, after: { ...quote, lines: await this.lines(quote.id, trx) } });
      return quote;
    });
  }

  async edit(quoteId: string, patch: QuoteEdit, ctx: UserWriteContext): Promise<Quote> {
    return this.db.transaction(async (trx) => {
      const before = await this.lockDraft(trx, quoteId);
      await trx('quotes').where({ id: quoteId, status: 'draft' }).update({ ...toRow(patch), updated_at: trx.fn.now() });
      const after = (await this.get(quoteId, trx))!;
      await recordAudit(trx, { ...ctx, action: 'quote.updated', entityType: 'quote', entityId: quoteId, before, after });
      return after;
    });
  }

  /** `lineId`, when given (a keyed request's rerun), is reused: the line added before is returned. */
  async addLine(quoteId: string, input: NewDealLine, ctx: UserWriteContext, lineId: string | null = null): Promise<QuoteLine> {
    return this.db.transaction(async (trx) => {
      const made = lineId ? (await this.lines(quoteId, trx)).find((l) => l.id === lineId) : undefined;
      if (made) return made;
      await this.lockDraft(trx, quoteId);
      const id = await insertProductLine(trx, 'quote_lines', { column: 'quote_id', id: quoteId }, input, ctx.userId, lineId);
      await this.refreshTotal(trx, quoteId);
      const line = (await this.lines(quoteId, trx)).find((l) => l.id === id)!;
      await recordAudit(trx, { ...ctx, action: 'quote.line_added', entityType: 'quote', entityId: quoteId, after: line });
      return line;
    });
  }

  async updateLine(quoteId: string, lineId: string, patch: DealLinePatch, ctx: UserWriteContext): Promise<QuoteLine> {
    return this.db.transaction(async (trx) => {
      await this.lockDraft(trx, quoteId);
      const before = (await this.lines(quoteId, trx)).find((l) => l.id === lineId);
      if (!before) throw new NotFoundError('quote_line', lineId);
      const next = { quantity: patch.quantity ?? before.quantity, unitPriceCents: patch.unitPriceCents ?? before.unitPriceCents, discountCents: patch.discountCents ?? before.discountCents };
      assertLineMoney(next.quantity, next.unitPriceCents, next.discountCents);
      await trx('quote_lines').where({ id: lineId, quote_id: quoteId }).update({ ...toRow(next), updated_at: trx.fn.now() });
      await this.refreshTotal(trx, quoteId);
      const after = (await this.lines(quoteId, trx)).find((l) => l.id === lineId)!;
      await recordAudit(trx, { ...ctx, action: 'quote.line_updated', entityType: 'quote', entityId: quoteId, before, after });
      return after;
    });
  }

  async removeLine(quoteId: string, lineId: string, ctx: UserWriteContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      await this.lockDraft(trx, quoteId);
      const before = (await this.lines(quoteId, trx)).find((l) => l.id === lineId);
      if (!before) throw new NotFoundError('quote_line', lineId);
      await trx('quote_lines').where({ id: lineId, quote_id: quoteId }).delete();
      await this.refreshTotal(trx, quoteId);
      await recordAudit(trx, { ...ctx, action: 'quote.line_removed', entityType: 'quote', entityId: quoteId, before });
    });
  }

  // --- transitions, called by the deal workflow's activities inside their transaction -----------

  async activate(trx: Knex.Transaction, dealId: string, quoteId: string, ctx: UserWriteContext): Promise<Quote> {
    const before = await this.lockOnDeal(trx, dealId, quoteId);
    if (before.status !== 'draft') throw new ConflictError('quote_not_draft', `quote ${before.quoteNumber} revision ${before.revision} is ${before.status}; only a draft can be activated`);
    const active = await trx('quotes').where({ deal_id: dealId }).whereIn('status', ['active', 'won']).first('quote_number', 'revision', 'status');
    if (active?.status === 'won') throw new ConflictError('quote_won', `the deal's quote ${active.quote_number} revision ${active.revision} was won: its offer is settled`);
    if (active) throw new ConflictError('active_quote_exists', `the deal already has an active quote (${active.quote_number} revision ${active.revision}); revise or close it first`);
    const [{ count }] = await trx('quote_lines').where({ quote_id: quoteId }).count<{ count: number }[]>({ count: '*' });
    if (Number(count) === 0) throw new ConflictError('quote_lines_required', 'a quote needs at least one product line before it is sent');
    await trx('quotes').where({ id: quoteId, status: 'draft' }).update({ status: 'active', activated_at: trx.fn.now(), activated_by: ctx.userId, updated_at: trx.fn.now() });
    const after = (await this.get(quoteId, trx))!;
    await recordAudit(trx, { ...ctx, action: 'quote.activated', entityType: 'quote', entityId: quoteId, before, after });
    return after;
  }

  /** Closes the active revision as `revised` and returns its editable copy (revision + 1). */
  async revise(trx: Knex.Transaction, dealId: string, quoteId: string, ctx: UserWriteContext): Promise<Quote> {
    const before = await this.lockOnDeal(trx, dealId, quoteId);
    if (before.status !== 'active') throw new ConflictError('quote_not_active', `quote ${before.quoteNumber} revision ${before.revision} is ${before.status}; only the active quote can be revised`);
    await trx('quotes').where({ id: quoteId, status: 'active' }).update({ status: 'closed', status_reason: 'revised', close_date: todayUtc(trx), closed_at: trx.fn.now(), closed_by: ctx.userId, updated_at: trx.fn.now() });
    const [row] = await trx('quotes')
      .insert({
        deal_id: dealId, quote_number: before.quoteNumber, revision: before.revision + 1, revised_from_id: quoteId, name: before.name,
        description: before.description, valid_until: before.validUntil, contact_id: before.contactId, account_id: before.accountId,
        total_cents: before.totalCents, created_by: ctx.userId,
      })
      .returning('id');
    await trx.raw(
      `insert into quote_lines (quote_id, product_id, quantity, unit_price_cents, discount_cents, position, created_by)
       select ?, product_id, quantity, unit_price_cents, discount_cents, position, ? from quote_lines where quote_id = ?`,
      [row.id, ctx.userId, quoteId],
    );
    const closed = (await this.get(quoteId, trx))!;
    const revision = (await this.get(row.id, trx))!;
    await recordAudit(trx, { ...ctx, action: 'quote.revised', entityType: 'quote', entityId: quoteId, before, after: closed });
    await recordAudit(trx, { ...ctx, action: 'quote.created', entityType: 'quote', entityId: revision.id, after: { ...revision, lines: await this.lines(revision.id, trx) } });
    return revision;
  }

  /** `closeDate` (`YYYY-MM-DD`, judged by the caller) defaults to today in UTC. */
  async close(trx: Knex.Transaction, dealId: string, quoteId: string, details: QuoteCloseDetails, ctx: UserWriteContext): Promise<Quote> {
    const before = await this.lockOnDeal(trx, dealId, quoteId);
    if (before.status !== 'draft' && before.status !== 'active') throw new ConflictError('quote_not_open', `quote ${before.quoteNumber} revision ${before.revision} is already ${before.status}`);
    await trx('quotes').where({ id: quoteId, status: before.status }).update({
      status: 'closed', status_reason: details.reason, close_description: details.description, close_date: details.closeDate ?? todayUtc(trx),
      closed_at: trx.fn.now(), closed_by: ctx.userId, updated_at: trx.fn.now(),
    });
    const after = (await this.get(quoteId, trx))!;
    await recordAudit(trx, { ...ctx, action: 'quote.closed', entityType: 'quote', entityId: quoteId, before, after });
    return after;
  }

  /** SPEC: winning the active quote closes it as won (the order is created beside it). */
  async win(trx: Knex.Transaction, dealId: string, quoteId: string, ctx: UserWriteContext): Promise<Quote> {
    const before = await this.lockOnDeal(trx, dealId, quoteId);
    if (before.status !== 'active') throw new ConflictError('quote_not_active', `quote ${before.quoteNumber} revision ${before.revision} is ${before.status}; only the active quote can be won`, undefined, { quoteStatus: before.status });
    await trx('quotes').where({ id: quoteId, status: 'active' }).update({ status: 'won', close_date: todayUtc(trx), closed_at: trx.fn.now(), closed_by: ctx.userId, updated_at: trx.fn.now() });
    const after = (await this.get(quoteId, trx))!;
    await recordAudit(trx, { ...ctx, action: 'quote.won', entityType: 'quote', entityId: quoteId, before, after });
    return after;
  }

  private async lockOnDeal(trx: Knex.Transaction, dealId: string, quoteId: string): Promise<Quote> {
    const row = await trx('quotes').where({ id: quoteId }).forUpdate().first();
    if (!row || row.deal_id !== dealId) throw new ConflictError('quote_not_on_deal', `quote ${quoteId} does not belong to deal ${dealId}`, 'quoteId');
    return toQuote(row);
  }

  /** Drafts are editable; once activated a quote is read-only. */
  private async lockDraft(trx: Knex.Transaction, quoteId: string): Promise<Quote> {
    const row = await trx('quotes').where({ id: quoteId }).forUpdate().first();
    if (!row) throw new NotFoundError('quote', quoteId);
    const quote = toQuote(row);
    // A closed deal's quotes are read-only whatever their status.
    const deal = await trx('deals').where({ id: quote.dealId }).forShare().first('status');
    if (deal.status !== 'open') throw new ConflictError('deal_closed', `deal ${quote.dealId} is already ${deal.status}`, undefined, { dealStatus: deal.status });
    if (quote.status !== 'draft') {
      throw new ConflictError('quote_read_only', `quote ${quote.quoteNumber} revision ${quote.revision} is ${quote.status}: only drafts can be edited (revise it to change it)`, undefined, { quoteStatus: quote.status });
    }
    return quote;
  }

  private async refreshTotal(trx: Knex.Transaction, quoteId: string): Promise<void> {
    await trx.raw('update quotes set total_cents = (select coalesce(sum(amount_cents), 0) from quote_lines where quote_id = ?), updated_at = now() where id = ?', [quoteId, quoteId]);
  }
}
