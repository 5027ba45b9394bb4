/**
 * Contacts (SPEC "Vocabulary": a person, standalone — B2C — or belonging to an account, its parent
 * customer — B2B). Qualification reuses the contact with the lead's email or creates one; people
 * create, edit and delete them here too. An email names one contact (case-insensitive). Every write
 * is audited.
 */
import type { Knex } from 'knex';
import { ConflictError, InvalidFieldError, NotFoundError } from '../../domain/rejection';
import { fromRow, toRow } from '../rows';
import { recordAudit } from './audit';
import type { UserWriteContext } from './context';
import type { Page } from './paging';
import { listPage } from './paging';

export interface Contact {
  id: string;
  firstName: string | null;
  lastName: string;
  email: string | null;
  mobilePhone: string | null;
  businessPhone: string | null;
  parentAccountId: string | null;
  ownerId: string;
  /** Sequences' eligibility (issue 9); a contact of an account is corporate by default, a standalone one consumer. */
  customerType: 'corporate' | 'consumer';
  /** The person's IANA zone for sequence waits; null: the owner's. */
  timeZone: string | null;
  /** When the person unsubscribed from sequence email; null while they may be emailed. */
  doNotEmailAt: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export type NewContact = Pick<Contact, 'firstName' | 'lastName' | 'email' | 'mobilePhone' | 'businessPhone' | 'parentAccountId' | 'ownerId'>
  & Partial<Pick<Contact, 'customerType' | 'timeZone'>>;

export interface ContactFilter {
  q?: string;
  email?: string;
  accountId?: string;
  ownerId?: string;
  /** Only contacts without a parent account (B2C customers). */
  standalone?: boolean;
}


/** The same key qualification locks on, so a person and a qualification cannot both add one email. */
const emailLock = (email: string): string => `contact:${email.toLowerCase()}`;

export class ContactStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, db: Knex = this.db): Promise<Contact | null> {
    const row = await db('contacts').where({ id }).first();
    return row ? fromRow<Contact>(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Contact> {
    const contact = await this.get(id, db);
    if (!contact) throw new NotFoundError('contact', id);
    return contact;
  }

  async list(filter: ContactFilter, page: Page): Promise<{ items: Contact[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.q) {
        const like = `%${filter.q.toLowerCase().replace(/[%_]/g, '')}%`;
        q.where((w) => w.whereRaw("lower(coalesce(first_name, '') || ' ' || last_name) like ?", [like]).orWhereRaw('lower(email) like ?', [like]));
      }
      if (filter.email) q.whereRaw('lower(email) = lower(?)', [filter.email]);
      if (filter.accountId) q.where('parent_account_id', filter.accountId);
      if (filter.ownerId) q.where('owner_id', filter.ownerId);
      if (filter.standalone) q.whereNull('parent_account_id');
      return q;
    };
    return listPage(() => where(this.db('contacts')), [{ column: 'last_name' }, { column: 'first_name' }, { column: 'id' }], page, (r) => fromRow<Contact>(r));
  }

  /** `id`, when given (a keyed request's rerun), is reused: the contact made before is returned. */
  async create(fields: NewContact, ctx: UserWriteContext, id: string | null = null): Promise<Contact> {
    return this.db.transaction(async (trx) => {
      const made = id ? await trx('contacts').where({ id }).first() : null;
      if (made) return fromRow<Contact>(made);
      const email = fields.email?.trim() || null;
      if (email) await this.assertEmailFree(trx, email, null);
      await this.assertOwner(trx, fields.ownerId);
      if (fields.parentAccountId) await this.assertAccount(trx, fields.parentAccountId);
      const [row] = await trx('contacts').insert({ ...(id ? { id } : {}), ...toRow(fields), email, created_by: ctx.userId }).returning('*');
      const contact = fromRow<Contact>(row);
      await recordAudit(trx, { ...ctx, action: 'contact.created', entityType: 'contact', entityId: contact.id, after: contact });
      return contact;
    });
  }

  /**
   * Changes the named fields. Moving the primary contact of an account to another account (or to
   * none) is refused: name another primary contact first.
   */
  async update(id: string, patch: Partial<NewContact>, ctx: UserWriteContext): Promise<Contact> {
    return this.db.transaction(async (trx) => {
      const row = await trx('contacts').where({ id }).forUpdate().first();
      if (!row) throw new NotFoundError('contact', id);
      const before = fromRow<Contact>(row);
      const fields: Record<string, unknown> = toRow(patch);
      if (patch.email !== undefined) {
        const email = patch.email?.trim() || null;
        if (email) await this.assertEmailFree(trx, email, id);
        fields.email = email;
      }
      if (patch.ownerId && patch.ownerId !== before.ownerId) await this.assertOwner(trx, patch.ownerId);
      if (patch.parentAccountId !== undefined && patch.parentAccountId !== before.parentAccountId) {
        if (patch.parentAccountId) await this.assertAccount(trx, patch.parentAccountId);
        const primaryOf = await trx('accounts').where({ primary_contact_id: id }).modify((q) => (patch.parentAccountId ? q.whereNot({ id: patch.parentAccountId }) : q)).first('id', 'name');
        if (primaryOf) {
          throw new ConflictError('primary_contact_of_account', `this contact is the primary contact of ${primaryOf.name}; name another primary contact there first`, 'parentAccountId', { accountId: primaryOf.id });
        }
        fields.parent_account_id = patch.parentAccountId;
      }
      await trx('contacts').where({ id }).update({ ...fields, updated_at: trx.fn.now() });
      const after = (await this.get(id, trx))!;
      await recordAudit(trx, { ...ctx, action: 'contact.updated', entityType: 'contact', entityId: id, before, after });
      return after;
    });
  }

  /** Deletes a contact nothing refers to; otherwise 409 `contact_in_use` with what refers to it. */
  async delete(id: string, ctx: UserWriteContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      const row = await trx('contacts').where({ id }).forUpdate().first();
      if (!row) throw new NotFoundError('contact', id);
      const references: Record<string, number> = {};
      for (const [name, table, column, extra] of [
        ['primaryContactOf', 'accounts', 'primary_contact_id', null], ['deals', 'deals', 'contact_id', null], ['quotes', 'quotes', 'contact_id', null],
        ['orders', 'orders', 'contact_id', null], ['invoices', 'invoices', 'contact_id', null],
        ['activities', 'activities', 'regarding_id', { regarding_type: 'contact' }], ['appointments', 'activity_attendees', 'contact_id', null],
      ] as const) {
        const [{ count }] = await trx(table).where({ [column]: id, ...(extra ?? {}) }).count<{ count: number }[]>({ count: '*' });
        if (Number(count) > 0) references[name] = Number(count);
      }
      if (Object.keys(references).length) {
        throw new ConflictError('contact_in_use', `contact ${row.last_name} is still referred to (${Object.entries(references).map(([k, v]) => `${v} ${k}`).join(', ')})`, undefined, { references });
      }
      await trx('contacts').where({ id }).delete();
      await recordAudit(trx, { ...ctx, action: 'contact.deleted', entityType: 'contact', entityId: id, before: fromRow(row) });
    });
  }

  private async assertEmailFree(trx: Knex.Transaction, email: string, selfId: string | null): Promise<void> {
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [emailLock(email)]);
    const existing = await trx('contacts').whereRaw('lower(email) = lower(?)', [email]).modify((q) => (selfId ? q.whereNot({ id: selfId }) : q)).first('id');
    if (existing) throw new ConflictError('contact_email_exists', `a contact with the email ${email} already exists`, 'email', { contactId: existing.id });
  }

  private async assertAccount(trx: Knex.Transaction, accountId: string): Promise<void> {
    const account = await trx('accounts').where({ id: accountId }).first('id');
    if (!account) throw new InvalidFieldError('parentAccountId', 'not_found', `account ${accountId} was not found`);
  }

  private async assertOwner(trx: Knex.Transaction, ownerId: string): Promise<void> {
    const owner = await trx('users').where({ id: ownerId }).whereNull('disabled_at').first('id');
    if (!owner) throw new InvalidFieldError('ownerId', 'unknown_user', `ownerId ${ownerId} is not an active user`);
  }

  /**
   * The contact with the same email (case-insensitive), or a new one. A reused contact without a
   * parent account is attached to the qualifying company's account; one that has a parent keeps it.
   */
  async findOrCreate(trx: Knex.Transaction, input: NewContact, ctx: UserWriteContext): Promise<{ contact: Contact; created: boolean }> {
    const email = input.email?.trim() || null;
    if (email) {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [emailLock(email)]);
      const existing = await trx('contacts').whereRaw('lower(email) = lower(?)', [email]).forUpdate().first();
      if (existing) {
        const before = fromRow<Contact>(existing);
        if (before.parentAccountId || !input.parentAccountId) return { contact: before, created: false };
        const [row] = await trx('contacts').where({ id: before.id }).update({ parent_account_id: input.parentAccountId, updated_at: trx.fn.now() }).returning('*');
        const after = fromRow<Contact>(row);
        await recordAudit(trx, { ...ctx, action: 'contact.updated', entityType: 'contact', entityId: after.id, before, after });
        return { contact: after, created: false };
      }
    }
    const [row] = await trx('contacts')
      .insert({
        first_name: input.firstName, last_name: input.lastName, email, mobile_phone: input.mobilePhone, business_phone: input.businessPhone,
        parent_account_id: input.parentAccountId, owner_id: input.ownerId, created_by: ctx.userId,
      })
      .returning('*');
    const contact = fromRow<Contact>(row);
    await recordAudit(trx, { ...ctx, action: 'contact.created', entityType: 'contact', entityId: contact.id, after: contact });
    return { contact, created: true };
  }
}
