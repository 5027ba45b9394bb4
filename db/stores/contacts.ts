/**
 * Contacts (SPEC "Vocabulary": a person, standalone or belonging to an account). Qualification
 * reuses the contact with the lead's email or creates one; issue 4 adds CRUD.
 */
import type { Knex } from 'knex';
import { fromRow } from '../rows';
import { recordAudit } from './audit';
import type { WriteContext } from './leads';

export interface Contact {
  id: string;
  firstName: string | null;
  lastName: string;
  email: string | null;
  mobilePhone: string | null;
  businessPhone: string | null;
  parentAccountId: string | null;
  ownerId: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export type NewContact = Pick<Contact, 'firstName' | 'lastName' | 'email' | 'mobilePhone' | 'businessPhone' | 'parentAccountId' | 'ownerId'>;

export class ContactStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, db: Knex = this.db): Promise<Contact | null> {
    const row = await db('contacts').where({ id }).first();
    return row ? fromRow<Contact>(row) : null;
  }

  /**
   * The contact with the same email (case-insensitive), or a new one. A reused contact without a
   * parent account is attached to the qualifying company's account; one that has a parent keeps it.
   */
  async findOrCreate(trx: Knex.Transaction, input: NewContact, ctx: WriteContext & { userId: string }): Promise<{ contact: Contact; created: boolean }> {
    const email = input.email?.trim() || null;
    if (email) {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`contact:${email.toLowerCase()}`]);
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
