/**
 * Qualifying a lead (SPEC "Leads"): in one transaction, the contact (reused by email), the account
 * when there is a company (reused by normalised name), the deal linked to both, and the lead closed
 * as qualified. Qualifying a lead that is already qualified returns what the first call made.
 */
import type { Knex } from 'knex';
import { ConflictError, NotFoundError } from '../../domain/rejection';
import { fromRow } from '../rows';
import { AccountStore } from './accounts';
import { ContactStore } from './contacts';
import { DealStore, type Deal } from './deals';
import { LeadStore, type Lead } from './leads';
import type { WriteContext } from './context';

export interface Qualification {
  /** False when the lead had been qualified before: nothing was written. */
  created: boolean;
  lead: Lead;
  deal: Deal;
  contactId: string;
  accountId: string | null;
}

export class LeadQualification {
  private readonly leads: LeadStore;
  private readonly accounts: AccountStore;
  private readonly contacts: ContactStore;
  private readonly deals: DealStore;

  constructor(private readonly db: Knex) {
    this.leads = new LeadStore(db);
    this.accounts = new AccountStore(db);
    this.contacts = new ContactStore(db);
    this.deals = new DealStore(db);
  }

  async qualify(leadId: string, input: { dealName?: string | null }, ctx: WriteContext & { userId: string }): Promise<Qualification> {
    return this.db.transaction(async (trx) => {
      const row = await trx('leads').where({ id: leadId }).forUpdate().first();
      if (!row) throw new NotFoundError('lead', leadId);
      const lead = fromRow<Lead>(row);
      if (lead.status === 'qualified') {
        const deal = await this.deals.byLead(leadId, trx);
        if (deal) return { created: false, lead, deal, contactId: deal.contactId, accountId: deal.accountId };
      }
      if (lead.status !== 'open') {
        throw new ConflictError('lead_closed', `lead ${leadId} is already ${lead.status}`, undefined, { leadStatus: lead.status });
      }
      const account = lead.companyName?.trim()
        ? (await this.accounts.findOrCreate(trx, {
            name: lead.companyName, website: lead.website, phone: lead.businessPhone, street: lead.street, city: lead.city,
            postalCode: lead.postalCode, state: lead.state, country: lead.country, ownerId: lead.ownerId,
          }, ctx)).account
        : null;
      const { contact } = await this.contacts.findOrCreate(trx, {
        firstName: lead.firstName, lastName: lead.lastName, email: lead.email, mobilePhone: lead.mobilePhone,
        businessPhone: lead.businessPhone, parentAccountId: account?.id ?? null, ownerId: lead.ownerId,
      }, ctx);
      const deal = await this.deals.create(trx, {
        name: input.dealName?.trim() || (lead.companyName ? `${lead.companyName}: ${lead.topic}` : lead.topic),
        leadId, contactId: contact.id, accountId: account?.id ?? null, ownerId: lead.ownerId, estimatedValueCents: lead.estimatedValueCents,
      }, ctx);
      const closed = await this.leads.close(trx, leadId, 'qualified', null, ctx);
      return { created: true, lead: closed, deal, contactId: contact.id, accountId: account?.id ?? null };
    });
  }
}
