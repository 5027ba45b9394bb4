/**
 * The people a sequence reaches (issue 9): leads and contacts behind one shape, so enrollment,
 * steps, replies and unsubscribes treat both alike. A contact's company is its parent account's
 * name; a contact is never closed the way a lead is.
 */
import type { Knex } from 'knex';
import { NotFoundError } from '../../domain/rejection';
import type { PersonType } from './sequences';

export interface Person {
  type: PersonType;
  id: string;
  firstName: string | null;
  lastName: string;
  email: string | null;
  company: string | null;
  topic: string | null;
  /** Leads: open, qualified or disqualified; contacts are always open. */
  status: 'open' | 'qualified' | 'disqualified';
  ownerId: string;
  customerType: 'corporate' | 'consumer';
  timeZone: string | null;
  doNotEmailAt: string | null;
}

export const personName = (p: Pick<Person, 'firstName' | 'lastName'>): string => [p.firstName, p.lastName].filter(Boolean).join(' ');

export class PersonStore {
  constructor(private readonly db: Knex) {}

  async get(type: PersonType, id: string, db: Knex = this.db): Promise<Person | null> {
    const row = type === 'lead'
      ? await db('leads').where({ id }).first('id', 'first_name', 'last_name', 'email', 'company_name as company', 'topic', 'status', 'owner_id', 'customer_type', 'time_zone', 'do_not_email_at')
      : await db('contacts as c').leftJoin('accounts as a', 'a.id', 'c.parent_account_id').where('c.id', id)
        .first('c.id', 'c.first_name', 'c.last_name', 'c.email', 'a.name as company', db.raw('null as topic'), db.raw("'open' as status"), 'c.owner_id', 'c.customer_type', 'c.time_zone', 'c.do_not_email_at');
    if (!row) return null;
    return {
      type, id: row.id, firstName: row.first_name, lastName: row.last_name, email: row.email, company: row.company, topic: row.topic,
      status: row.status, ownerId: row.owner_id, customerType: row.customer_type, timeZone: row.time_zone,
      doNotEmailAt: row.do_not_email_at ? new Date(row.do_not_email_at).toISOString() : null,
    };
  }

  async require(type: PersonType, id: string): Promise<Person> {
    const person = await this.get(type, id);
    if (!person) throw new NotFoundError(type, id);
    return person;
  }

  /** Marks the person do-not-email (idempotent: the first time is kept); true the first time. */
  async markDoNotEmail(type: PersonType, id: string, db: Knex = this.db): Promise<boolean> {
    const changed = await db(type === 'lead' ? 'leads' : 'contacts').where({ id }).whereNull('do_not_email_at').update({ do_not_email_at: db.fn.now() });
    return changed > 0;
  }
}
