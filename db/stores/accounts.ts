/**
 * Accounts (SPEC "Vocabulary": a company or organisation). Qualification finds or creates one per
 * company name, matched on the normalised name; issue 4 adds CRUD, hierarchy rules and rollups.
 */
import type { Knex } from 'knex';
import { fromRow } from '../rows';
import { recordAudit } from './audit';
import type { WriteContext } from './leads';

export const ACCOUNT_TYPES = ['customer', 'partner', 'vendor', 'other'] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];

export interface Account {
  id: string;
  name: string;
  normalizedName: string;
  accountType: AccountType;
  parentAccountId: string | null;
  primaryContactId: string | null;
  website: string | null;
  phone: string | null;
  street: string | null;
  city: string | null;
  postalCode: string | null;
  state: string | null;
  country: string | null;
  ownerId: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export type NewAccount = Pick<Account, 'name' | 'website' | 'phone' | 'street' | 'city' | 'postalCode' | 'state' | 'country' | 'ownerId'>;

/**
 * "Fabrikam, Inc." and "  FABRIKAM inc " name the same company: lower case, accents folded to ASCII,
 * punctuation dropped, whitespace collapsed. Legal suffixes are kept ("Fabrikam" ≠ "Fabrikam Inc").
 */
export function normalizeAccountName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

export class AccountStore {
  constructor(private readonly db: Knex) {}

  async get(id: string, db: Knex = this.db): Promise<Account | null> {
    const row = await db('accounts').where({ id }).first();
    return row ? fromRow<Account>(row) : null;
  }

  /**
   * The oldest account with the same normalised name, or a new one. Concurrent qualifications of
   * the same company are serialised by a transaction-scoped advisory lock on the normalised name.
   */
  async findOrCreate(trx: Knex.Transaction, input: NewAccount, ctx: WriteContext & { userId: string }): Promise<{ account: Account; created: boolean }> {
    const normalizedName = normalizeAccountName(input.name);
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`account:${normalizedName}`]);
    const existing = await trx('accounts').where({ normalized_name: normalizedName }).orderBy([{ column: 'created_at' }, { column: 'id' }]).first();
    if (existing) return { account: fromRow<Account>(existing), created: false };
    const [row] = await trx('accounts')
      .insert({
        name: input.name.trim(), normalized_name: normalizedName, website: input.website, phone: input.phone, street: input.street,
        city: input.city, postal_code: input.postalCode, state: input.state, country: input.country,
        owner_id: input.ownerId, created_by: ctx.userId,
      })
      .returning('*');
    const account = fromRow<Account>(row);
    await recordAudit(trx, { ...ctx, action: 'account.created', entityType: 'account', entityId: account.id, after: account });
    return { account, created: true };
  }
}
