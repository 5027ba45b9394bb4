/**
 * Leads (SPEC "Leads"). State changes are guarded updates: they only touch an open lead and a
 * conflict is reported, never silently ignored. Every write lands in the audit log with its actor.
 */
import type { Knex } from 'knex';
import { ConflictError, InvalidFieldError, NotFoundError } from '../../domain/rejection';
import { fromRow, toRow } from '../rows';
import { recordAudit } from './audit';
import { listPage, NEWEST_FIRST } from './paging';

export const LEAD_SOURCES = ['web_form', 'email', 'trade_show', 'phone', 'referral', 'import', 'other'] as const;
export const CUSTOMER_TYPES = ['corporate', 'consumer'] as const;
export const LEAD_STATUSES = ['open', 'qualified', 'disqualified'] as const;

export type LeadStatus = (typeof LEAD_STATUSES)[number];
export type CustomerType = (typeof CUSTOMER_TYPES)[number];

export interface LeadFields {
  topic: string;
  firstName: string | null;
  lastName: string;
  email: string | null;
  mobilePhone: string | null;
  businessPhone: string | null;
  companyName: string | null;
  website: string | null;
  street: string | null;
  city: string | null;
  postalCode: string | null;
  state: string | null;
  country: string | null;
  source: (typeof LEAD_SOURCES)[number];
  customerType: CustomerType;
  estimatedValueCents: number | null;
  ownerId: string;
}

export interface Lead extends LeadFields {
  id: string;
  status: LeadStatus;
  statusReason: string | null;
  closedAt: string | null;
  closedBy: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface LeadFilter {
  status?: LeadStatus;
  ownerId?: string;
  customerType?: CustomerType;
}

import type { Page } from './paging';
import type { WriteContext } from './context';

export class LeadStore {
  constructor(private readonly db: Knex) {}

  /** `id`, when given (a keyed request's rerun), is reused: the lead made before is returned. */
  async create(fields: LeadFields, createdBy: string, ctx: WriteContext, id: string | null = null): Promise<Lead> {
    return this.db.transaction(async (trx) => {
      const made = id ? await this.get(id, trx) : null;
      if (made) return made;
      await this.assertOwner(trx, fields.ownerId);
      const [row] = await trx('leads').insert({ ...(id ? { id } : {}), ...toRow(fields), created_by: createdBy }).returning('*');
      const lead = fromRow<Lead>(row);
      await recordAudit(trx, { ...ctx, action: 'lead.created', entityType: 'lead', entityId: lead.id, after: lead });
      return lead;
    });
  }

  async get(id: string, db: Knex = this.db): Promise<Lead | null> {
    const row = await db('leads').where({ id }).first();
    return row ? fromRow<Lead>(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Lead> {
    const lead = await this.get(id, db);
    if (!lead) throw new NotFoundError('lead', id);
    return lead;
  }

  async list(filter: LeadFilter, page: Page): Promise<{ items: Lead[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.status) q.where('status', filter.status);
      if (filter.ownerId) q.where('owner_id', filter.ownerId);
      if (filter.customerType) q.where('customer_type', filter.customerType);
      return q;
    };
    return listPage(() => where(this.db('leads')), NEWEST_FIRST, page, (r) => fromRow<Lead>(r));
  }

  /** Changes an open lead's fields; a closed lead is read-only. */
  async update(id: string, patch: Partial<LeadFields>, ctx: WriteContext): Promise<{ before: Lead; after: Lead }> {
    return this.db.transaction(async (trx) => {
      const before = await this.lockOpen(trx, id);
      if (patch.ownerId && patch.ownerId !== before.ownerId) await this.assertOwner(trx, patch.ownerId);
      const [row] = await trx('leads').where({ id }).update({ ...toRow(patch), updated_at: trx.fn.now() }).returning('*');
      const after = fromRow<Lead>(row);
      await recordAudit(trx, { ...ctx, action: 'lead.updated', entityType: 'lead', entityId: id, before, after });
      return { before, after };
    });
  }

  async disqualify(id: string, reason: string, ctx: WriteContext & { userId: string }): Promise<Lead> {
    return this.db.transaction(async (trx) => {
      const known = await trx('disqualify_reasons').where({ code: reason, active: true }).first();
      if (!known) {
        const codes = (await trx('disqualify_reasons').where({ active: true }).orderBy('code').pluck('code')) as string[];
        throw new InvalidFieldError('reason', 'invalid_value', `reason must be one of ${codes.join(', ')}`);
      }
      return this.close(trx, id, 'disqualified', reason, ctx);
    });
  }

  /** Closes an open lead in the caller's transaction (qualification does this beside its inserts). */
  async close(trx: Knex.Transaction, id: string, status: 'qualified' | 'disqualified', reason: string | null, ctx: WriteContext & { userId: string }): Promise<Lead> {
    const before = await this.lockOpen(trx, id);
    const [row] = await trx('leads')
      .where({ id, status: 'open' })
      .update({ status, status_reason: reason, closed_at: trx.fn.now(), closed_by: ctx.userId, updated_at: trx.fn.now() })
      .returning('*');
    const after = fromRow<Lead>(row);
    await recordAudit(trx, { ...ctx, action: `lead.${status}`, entityType: 'lead', entityId: id, before, after });
    return after;
  }

  async activeDisqualifyReasons(): Promise<string[]> {
    return (await this.db('disqualify_reasons').where({ active: true }).orderBy('code').pluck('code')) as string[];
  }

  private async lockOpen(trx: Knex.Transaction, id: string): Promise<Lead> {
    const row = await trx('leads').where({ id }).forUpdate().first();
    if (!row) throw new NotFoundError('lead', id);
    const lead = fromRow<Lead>(row);
    if (lead.status !== 'open') {
      throw new ConflictError('lead_closed', `lead ${id} is already ${lead.status} and cannot be changed`, undefined, { leadStatus: lead.status });
    }
    return lead;
  }

  private async assertOwner(trx: Knex, ownerId: string): Promise<void> {
    const owner = await trx('users').where({ id: ownerId }).whereNull('disabled_at').first();
    if (!owner) throw new InvalidFieldError('ownerId', 'unknown_user', `ownerId ${ownerId} is not an active user`);
  }
}
