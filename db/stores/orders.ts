/**
 * Orders (SPEC "Quotes, orders, invoices"): created when a quote is won, with the quote's products
 * and prices copied; fulfilled (`complete` or `partial`, with a date) or canceled (with a status
 * reason). The status is the order workflow's to decide: only its activities (and the deal
 * workflow's, which creates the order) call the writing methods, inside their transaction, after
 * locking the row. Every write is audited.
 */
import type { Knex } from 'knex';
import type { FulfillmentKind, InvoiceFacts, OrderCancelReason, OrderFacts, OrderStatus } from '../../domain/order';
import { ConflictError, NotFoundError } from '../../domain/rejection';
import { fromRow, fromRowWithDates } from '../rows';
import { recordAudit } from './audit';
import type { UserWriteContext } from './context';
import type { Page } from './paging';
import type { Quote } from './quotes';
import { listPage, NEWEST_FIRST } from './paging';

export interface Order {
  id: string;
  orderNumber: string;
  name: string;
  dealId: string;
  quoteId: string;
  contactId: string;
  accountId: string | null;
  ownerId: string;
  status: OrderStatus;
  totalCents: number;
  fulfilledOn: string | null;
  cancelReason: OrderCancelReason | null;
  cancelDescription: string | null;
  canceledAt: string | null;
  canceledBy: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface OrderLine {
  id: string;
  productId: string;
  sku: string;
  productName: string;
  quantity: number;
  unitPriceCents: number;
  discountCents: number;
  amountCents: number;
  position: number;
}

export interface Fulfillment {
  seq: number;
  kind: FulfillmentKind;
  fulfilledOn: string;
  note: string | null;
  recordedBy: string;
  createdAt: string;
}

export interface OrderFilter {
  status?: OrderStatus[];
  ownerId?: string;
  dealId?: string;
  accountId?: string;
  contactId?: string;
}


const LINE_COLUMNS = ['order_lines.id', 'order_lines.product_id', 'products.sku', 'products.name as product_name', 'order_lines.quantity', 'order_lines.unit_price_cents', 'order_lines.discount_cents', 'order_lines.amount_cents', 'order_lines.position'];

export const toOrder = (row: Record<string, unknown>): Order => fromRowWithDates<Order>(row, ['fulfilled_on']);
export const toFulfillment = (row: Record<string, unknown>): Fulfillment => fromRowWithDates<Fulfillment>(row, ['fulfilled_on']);

/** What the order's rules judge, from the order, its fulfilment count and its invoices (oldest first). */
export function orderFacts(order: Order, fulfillmentCount: number, invoices: ReadonlyArray<InvoiceFacts>): OrderFacts {
  return {
    orderNumber: order.orderNumber,
    name: order.name,
    dealId: order.dealId,
    ownerId: order.ownerId,
    totalCents: order.totalCents,
    status: order.status,
    fulfillmentCount,
    invoices: invoices.map((i) => ({
      id: i.id, invoiceNumber: i.invoiceNumber, status: i.status, totalCents: i.totalCents, paidCents: i.paidCents, issuedOn: i.issuedOn, dueOn: i.dueOn, overdueActivityId: i.overdueActivityId,
    })),
  };
}

export class OrderStore {
  constructor(private readonly db: Knex) {}

  /** The order's row (for a snapshot read; `get` runs it). */
  query(id: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('orders').where({ id });
  }

  /** The order's lines in their order. */
  linesQuery(orderId: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('order_lines').join('products', 'products.id', 'order_lines.product_id').select(LINE_COLUMNS).where('order_lines.order_id', orderId).orderBy('order_lines.position');
  }

  /** The order's fulfilments in their order. */
  fulfillmentsQuery(orderId: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('order_fulfillments').where({ order_id: orderId }).orderBy('seq').select('seq', 'kind', 'fulfilled_on', 'note', 'recorded_by', 'created_at');
  }

  async get(id: string, db: Knex = this.db): Promise<Order | null> {
    const row = await this.query(id, db).first();
    return row ? toOrder(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Order> {
    const order = await this.get(id, db);
    if (!order) throw new NotFoundError('order', id);
    return order;
  }

  async byQuote(quoteId: string, db: Knex = this.db): Promise<Order | null> {
    const row = await db('orders').where({ quote_id: quoteId }).first();
    return row ? toOrder(row) : null;
  }

  async list(filter: OrderFilter, page: Page): Promise<{ items: Order[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.status?.length) q.whereIn('status', filter.status);
      if (filter.ownerId) q.where('owner_id', filter.ownerId);
      if (filter.dealId) q.where('deal_id', filter.dealId);
      if (filter.accountId) q.where('account_id', filter.accountId);
      if (filter.contactId) q.where('contact_id', filter.contactId);
      return q;
    };
    return listPage(() => where(this.db('orders')), NEWEST_FIRST, page, toOrder);
  }

  async lines(orderId: string, db: Knex = this.db): Promise<OrderLine[]> {
    const rows = await this.linesQuery(orderId, db);
    return rows.map((r: Record<string, unknown>) => fromRow<OrderLine>(r));
  }

  async fulfillments(orderId: string, db: Knex = this.db): Promise<Fulfillment[]> {
    const rows = await this.fulfillmentsQuery(orderId, db);
    return rows.map(toFulfillment);
  }

  /** What the order rules judge, straight from the rows. */
  async facts(orderId: string, db: Knex = this.db): Promise<OrderFacts> {
    // One after another: `db` may be a transaction, and a connection runs one query at a time.
    const order = await this.require(orderId, db);
    const [{ count }] = await db('order_fulfillments').where({ order_id: orderId }).count<{ count: number }[]>({ count: '*' });
    const invoices = await db('invoices').where({ order_id: orderId }).orderBy([{ column: 'created_at' }, { column: 'invoice_number' }])
      .select('id', 'invoice_number', 'status', 'total_cents', 'paid_cents', 'issued_on', 'due_on', 'overdue_activity_id');
    return orderFacts(order, Number(count), invoices.map((r: Record<string, unknown>) => fromRowWithDates<InvoiceFacts>(r, ['issued_on', 'due_on'])));
  }

  /** Locks the order for a change the workflow decided. */
  async lock(trx: Knex.Transaction, orderId: string): Promise<Order> {
    const row = await trx('orders').where({ id: orderId }).forUpdate().first();
    if (!row) throw new NotFoundError('order', orderId);
    return toOrder(row);
  }

  /** SPEC: winning a quote creates an order from it, products and prices copied. */
  async createFromQuote(trx: Knex.Transaction, quote: Quote, ownerId: string, ctx: UserWriteContext): Promise<Order> {
    const [{ number }] = (await trx.raw("select 'ORD-' || nextval('order_number_seq') as number")).rows;
    const [row] = await trx('orders')
      .insert({
        order_number: number, name: quote.name, deal_id: quote.dealId, quote_id: quote.id, contact_id: quote.contactId,
        account_id: quote.accountId, owner_id: ownerId, total_cents: quote.totalCents, created_by: ctx.userId,
      })
      .returning('*');
    await trx.raw(
      `insert into order_lines (order_id, product_id, quantity, unit_price_cents, discount_cents, position, created_by)
       select ?, product_id, quantity, unit_price_cents, discount_cents, position, ? from quote_lines where quote_id = ?`,
      [row.id, ctx.userId, quote.id],
    );
    const order = toOrder(row);
    await recordAudit(trx, { ...ctx, action: 'order.created', entityType: 'order', entityId: order.id, after: { ...order, lines: await this.lines(order.id, trx) } });
    return order;
  }

  /** A fulfillment: `partial` keeps the order open for more, `complete` fulfills it. */
  async fulfill(trx: Knex.Transaction, orderId: string, input: { kind: FulfillmentKind; fulfilledOn: string; note: string | null }, ctx: UserWriteContext): Promise<Order> {
    const before = await this.lock(trx, orderId);
    const [{ next }] = await trx('order_fulfillments').where({ order_id: orderId }).select(trx.raw('coalesce(max(seq), 0) + 1 as next'));
    await trx('order_fulfillments').insert({ order_id: orderId, seq: next, kind: input.kind, fulfilled_on: input.fulfilledOn, note: input.note, recorded_by: ctx.userId });
    const status: OrderStatus = input.kind === 'complete' ? 'fulfilled' : 'partially_fulfilled';
    await this.guardedUpdate(trx, before, { status, fulfilled_on: input.fulfilledOn });
    const after = await this.require(orderId, trx);
    await recordAudit(trx, { ...ctx, action: `order.${status}`, entityType: 'order', entityId: orderId, before, after: { ...after, fulfillment: { seq: next, ...input } } });
    return after;
  }

  async cancel(trx: Knex.Transaction, orderId: string, input: { reason: OrderCancelReason; description: string | null }, ctx: UserWriteContext): Promise<Order> {
    const before = await this.lock(trx, orderId);
    await this.guardedUpdate(trx, before, { status: 'canceled', cancel_reason: input.reason, cancel_description: input.description, canceled_at: trx.fn.now(), canceled_by: ctx.userId });
    const after = await this.require(orderId, trx);
    await recordAudit(trx, { ...ctx, action: 'order.canceled', entityType: 'order', entityId: orderId, before, after });
    return after;
  }

  private async guardedUpdate(trx: Knex.Transaction, before: Order, fields: Record<string, unknown>): Promise<void> {
    const updated = await trx('orders').where({ id: before.id, status: before.status }).update({ ...fields, updated_at: trx.fn.now() });
    if (updated !== 1) throw new ConflictError('order_out_of_step', `order ${before.orderNumber} changed underneath this write`);
  }
}
