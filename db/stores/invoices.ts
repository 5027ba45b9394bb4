/**
 * Invoices (SPEC "Quotes, orders, invoices"): created from an order and prefilled from it, numbered
 * from a database sequence (unique and never reused, even when a creation fails or an invoice is
 * canceled), paid (`complete` or `partial`, each payment recorded) or canceled with a status reason.
 * Like orders, their status is the order workflow's to decide: only its activities write here, in
 * their transaction. The overdue task the workflow leaves when the due date passes unpaid is written
 * here too, once per invoice. Every write is audited.
 */
import type { Knex } from 'knex';
import type { InvoiceCancelReason, InvoiceStatus, PaymentKind } from '../../domain/order';
import { dollars } from '../../domain/money';
import { ConflictError, NotFoundError } from '../../domain/rejection';
import { fromRow, fromRowWithDates } from '../rows';
import { recordAudit, type Actor } from './audit';
import type { UserWriteContext } from './context';
import type { Page } from './paging';
import type { Order } from './orders';
import { listPage, NEWEST_FIRST } from './paging';

export interface Invoice {
  id: string;
  invoiceNumber: string;
  orderId: string;
  name: string;
  description: string | null;
  contactId: string;
  accountId: string | null;
  ownerId: string;
  status: InvoiceStatus;
  totalCents: number;
  paidCents: number;
  issuedOn: string;
  paymentTermsDays: number;
  dueOn: string;
  paidOn: string | null;
  overdueActivityId: string | null;
  cancelReason: InvoiceCancelReason | null;
  cancelDescription: string | null;
  canceledAt: string | null;
  canceledBy: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface InvoiceLine {
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

export interface Payment {
  seq: number;
  kind: PaymentKind;
  paidOn: string;
  amountCents: number;
  recordedBy: string;
  createdAt: string;
}

export interface InvoiceFilter {
  status?: InvoiceStatus[];
  orderId?: string;
  ownerId?: string;
  accountId?: string;
  contactId?: string;
  /** Overdue (unpaid, due before `asOf`, YYYY-MM-DD) or not. */
  overdue?: { value: boolean; asOf: string };
}

export interface NewInvoice {
  name: string | null;
  description: string | null;
  issuedOn: string;
  dueOn: string;
  paymentTermsDays: number;
}


const DATE_COLUMNS = ['issued_on', 'due_on', 'paid_on'];
const LINE_COLUMNS = ['invoice_lines.id', 'invoice_lines.product_id', 'products.sku', 'products.name as product_name', 'invoice_lines.quantity', 'invoice_lines.unit_price_cents', 'invoice_lines.discount_cents', 'invoice_lines.amount_cents', 'invoice_lines.position'];

export const toInvoice = (row: Record<string, unknown>): Invoice => fromRowWithDates<Invoice>(row, DATE_COLUMNS);

/** The overdue task's idempotency key: one per invoice, however often the activity is retried. */
export const overdueTaskKey = (orderId: string, invoiceId: string): string => `order-${orderId}/invoice-${invoiceId}/overdue`;

export class InvoiceStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, db: Knex = this.db): Promise<Invoice | null> {
    const row = await db('invoices').where({ id }).first();
    return row ? toInvoice(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Invoice> {
    const invoice = await this.get(id, db);
    if (!invoice) throw new NotFoundError('invoice', id);
    return invoice;
  }

  /** The order's invoices, oldest first (for a snapshot read; `forOrder` runs it). */
  forOrderQuery(orderId: string, db: Knex = this.db): Knex.QueryBuilder {
    return db('invoices').where({ order_id: orderId }).orderBy([{ column: 'created_at' }, { column: 'invoice_number' }]);
  }

  async forOrder(orderId: string, db: Knex = this.db): Promise<Invoice[]> {
    const rows = await this.forOrderQuery(orderId, db);
    return rows.map(toInvoice);
  }

  async list(filter: InvoiceFilter, page: Page): Promise<{ items: Invoice[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.status?.length) q.whereIn('status', filter.status);
      if (filter.orderId) q.where('order_id', filter.orderId);
      if (filter.ownerId) q.where('owner_id', filter.ownerId);
      if (filter.accountId) q.where('account_id', filter.accountId);
      if (filter.contactId) q.where('contact_id', filter.contactId);
      if (filter.overdue) {
        const { value, asOf } = filter.overdue;
        const overdue = (w: Knex.QueryBuilder) => w.whereIn('status', ['open', 'partially_paid']).where('due_on', '<', asOf);
        if (value) q.where(overdue);
        else q.whereNot(overdue);
      }
      return q;
    };
    return listPage(() => where(this.db('invoices')), NEWEST_FIRST, page, toInvoice);
  }

  async lines(invoiceId: string, db: Knex = this.db): Promise<InvoiceLine[]> {
    const rows = await db('invoice_lines').join('products', 'products.id', 'invoice_lines.product_id').select(LINE_COLUMNS).where('invoice_lines.invoice_id', invoiceId).orderBy('invoice_lines.position');
    return rows.map((r: Record<string, unknown>) => fromRow<InvoiceLine>(r));
  }

  async payments(invoiceId: string, db: Knex = this.db): Promise<Payment[]> {
    const rows = await db('invoice_payments').where({ invoice_id: invoiceId }).orderBy('seq').select('seq', 'kind', 'paid_on', 'amount_cents', 'recorded_by', 'created_at');
    return rows.map((r: Record<string, unknown>) => fromRowWithDates<Payment>(r, ['paid_on']));
  }

  /**
   * An invoice prefilled from the order: its customer, owner, lines and total. The number is the
   * sequence's next value, taken in this transaction: concurrent creations get distinct numbers, and
   * a number whose transaction fails is skipped, never handed out again.
   */
  async create(trx: Knex.Transaction, order: Order, input: NewInvoice, ctx: UserWriteContext): Promise<Invoice> {
    const [{ number }] = (await trx.raw("select 'INV-' || nextval('invoice_number_seq') as number")).rows;
    const [row] = await trx('invoices')
      .insert({
        invoice_number: number, order_id: order.id, name: input.name?.trim() || order.name, description: input.description,
        contact_id: order.contactId, account_id: order.accountId, owner_id: order.ownerId, total_cents: order.totalCents,
        issued_on: input.issuedOn, payment_terms_days: input.paymentTermsDays, due_on: input.dueOn, created_by: ctx.userId,
      })
      .returning('*');
    await trx.raw(
      `insert into invoice_lines (invoice_id, product_id, quantity, unit_price_cents, discount_cents, position, created_by)
       select ?, product_id, quantity, unit_price_cents, discount_cents, position, ? from order_lines where order_id = ?`,
      [row.id, ctx.userId, order.id],
    );
    const invoice = toInvoice(row);
    await recordAudit(trx, { ...ctx, action: 'invoice.created', entityType: 'invoice', entityId: invoice.id, after: { ...invoice, lines: await this.lines(invoice.id, trx) } });
    return invoice;
  }

  /** Records a payment; paid in full, the invoice is paid and its overdue task (if any) completed. */
  async pay(trx: Knex.Transaction, invoiceId: string, input: { kind: PaymentKind; paidOn: string; amountCents: number }, ctx: UserWriteContext): Promise<Invoice> {
    const before = await this.lock(trx, invoiceId);
    const [{ next }] = await trx('invoice_payments').where({ invoice_id: invoiceId }).select(trx.raw('coalesce(max(seq), 0) + 1 as next'));
    await trx('invoice_payments').insert({ invoice_id: invoiceId, seq: next, kind: input.kind, paid_on: input.paidOn, amount_cents: input.amountCents, recorded_by: ctx.userId });
    const paidCents = before.paidCents + input.amountCents;
    const status: InvoiceStatus = paidCents === before.totalCents ? 'paid' : 'partially_paid';
    await this.guardedUpdate(trx, before, { status, paid_cents: paidCents, ...(status === 'paid' ? { paid_on: input.paidOn } : {}) });
    const after = await this.require(invoiceId, trx);
    await recordAudit(trx, { ...ctx, action: `invoice.${status}`, entityType: 'invoice', entityId: invoiceId, before, after: { ...after, payment: { seq: next, ...input } } });
    if (status === 'paid') await this.closeOverdueTask(trx, after, 'completed', `Paid in full on ${input.paidOn}`, ctx);
    return after;
  }

  async cancel(trx: Knex.Transaction, invoiceId: string, input: { reason: InvoiceCancelReason; description: string | null }, ctx: UserWriteContext): Promise<Invoice> {
    const before = await this.lock(trx, invoiceId);
    await this.guardedUpdate(trx, before, { status: 'canceled', cancel_reason: input.reason, cancel_description: input.description, canceled_at: trx.fn.now(), canceled_by: ctx.userId });
    const after = await this.require(invoiceId, trx);
    await recordAudit(trx, { ...ctx, action: 'invoice.canceled', entityType: 'invoice', entityId: invoiceId, before, after });
    await this.closeOverdueTask(trx, after, 'canceled', `Invoice canceled (${input.reason})`, ctx);
    return after;
  }

  /**
   * SPEC/issue: when the due date passes unpaid, a task for the order's owner. Written once per
   * invoice (a retry finds it); nothing is written if the invoice was settled meanwhile.
   */
  async createOverdueTask(orderId: string, invoiceId: string, workflowId: string): Promise<{ activityId: string | null; created: boolean }> {
    return this.db.transaction(async (trx) => {
      const invoice = await this.lock(trx, invoiceId);
      if (invoice.overdueActivityId) return { activityId: invoice.overdueActivityId, created: false };
      if (invoice.status !== 'open' && invoice.status !== 'partially_paid') return { activityId: null, created: false };
      const order = await trx('orders').where({ id: orderId }).first('owner_id', 'order_number');
      const customer = await trx('contacts').where({ id: invoice.contactId }).first('first_name', 'last_name', 'email');
      const account = invoice.accountId ? await trx('accounts').where({ id: invoice.accountId }).first('name') : null;
      const who = [account?.name, [customer?.first_name, customer?.last_name].filter(Boolean).join(' ')].filter(Boolean).join(', ');
      const balance = invoice.totalCents - invoice.paidCents;
      const key = overdueTaskKey(orderId, invoiceId);
      const inserted = await trx('activities')
        .insert({
          type: 'task', regarding_type: 'invoice', regarding_id: invoiceId, owner_id: order.owner_id, status: 'open', due_at: trx.fn.now(),
          subject: `Invoice ${invoice.invoiceNumber} overdue: ${dollars(balance)} unpaid`,
          body: `Invoice ${invoice.invoiceNumber} for order ${order.order_number} (${who}) was due on ${invoice.dueOn}; ${dollars(balance)} of ${dollars(invoice.totalCents)} is still unpaid${customer?.email ? `. Contact: ${customer.email}` : ''}. Follow up and record the payment when it arrives.`,
          created_by_workflow: workflowId, idempotency_key: key,
        })
        .onConflict('idempotency_key')
        .ignore()
        .returning('id');
      const { id } = await trx('activities').where({ idempotency_key: key }).first('id');
      const actor: Actor = { type: 'workflow', id: workflowId };
      if (inserted.length === 1) {
        const activity = await trx('activities').where({ id }).first();
        await recordAudit(trx, { actor, action: 'activity.created', entityType: 'activity', entityId: id, after: fromRow(activity) });
      }
      await trx('invoices').where({ id: invoiceId }).whereNull('overdue_activity_id').update({ overdue_activity_id: id, updated_at: trx.fn.now() });
      await recordAudit(trx, { actor, action: 'invoice.overdue', entityType: 'invoice', entityId: invoiceId, before: invoice, after: await this.require(invoiceId, trx) });
      return { activityId: id as string, created: inserted.length === 1 };
    });
  }

  private async closeOverdueTask(trx: Knex.Transaction, invoice: Invoice, status: 'completed' | 'canceled', outcome: string, ctx: UserWriteContext): Promise<void> {
    if (!invoice.overdueActivityId) return;
    const id = invoice.overdueActivityId;
    const before = await trx('activities').where({ id, status: 'open' }).first();
    if (!before) return;
    await trx('activities').where({ id, status: 'open' }).update({
      status, outcome, updated_at: trx.fn.now(), ...(status === 'completed' ? { completed_at: trx.fn.now() } : { canceled_at: trx.fn.now() }),
    });
    const after = await trx('activities').where({ id }).first();
    await recordAudit(trx, { ...ctx, action: `activity.${status}`, entityType: 'activity', entityId: id, before: fromRow(before), after: fromRow(after) });
  }

  private async lock(trx: Knex.Transaction, invoiceId: string): Promise<Invoice> {
    const row = await trx('invoices').where({ id: invoiceId }).forUpdate().first();
    if (!row) throw new NotFoundError('invoice', invoiceId);
    return toInvoice(row);
  }

  private async guardedUpdate(trx: Knex.Transaction, before: Invoice, fields: Record<string, unknown>): Promise<void> {
    const updated = await trx('invoices').where({ id: before.id, status: before.status }).update({ ...fields, updated_at: trx.fn.now() });
    if (updated !== 1) throw new ConflictError('order_out_of_step', `invoice ${before.invoiceNumber} changed underneath this write`);
  }
}
