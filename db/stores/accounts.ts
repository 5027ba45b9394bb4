/**
 * Accounts (SPEC "Vocabulary": a company or organisation — customer, partner, vendor — with an
 * optional parent account and primary contact). Qualification finds or creates one per company
 * name, matched on the normalised name; people create, edit and delete them here too. The parent
 * chain never forms a cycle: every parent change takes one transaction-scoped lock for the whole
 * hierarchy and walks up from the new parent before writing. Rollups sum deal value over an account
 * and its descendants. Every write is audited.
 */
import type { Knex } from 'knex';
import { ConflictError, InvalidFieldError, NotFoundError, UnprocessableError } from '../../domain/rejection';
import { fromRow, toRow } from '../rows';
import { recordAudit } from './audit';
import type { UserWriteContext } from './context';
import type { Page } from './paging';
import { listPage } from './paging';

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

/** What a person sets on an account. */
export type AccountFields = NewAccount & Pick<Account, 'accountType' | 'parentAccountId' | 'primaryContactId'>;

export interface AccountFilter {
  q?: string;
  accountType?: AccountType;
  parentAccountId?: string;
  ownerId?: string;
  /** Only accounts without a parent (the tops of hierarchies). */
  topLevel?: boolean;
}

/** Deal figures of a set of accounts: their own deals and those of their contacts that name no account. */
export interface DealTotals {
  openDealCount: number;
  openDealValueCents: number;
  wonDealCount: number;
  wonRevenueCents: number;
}

/** How deep a hierarchy may go: a guard for the recursive queries, far beyond any real company. */
const MAX_DEPTH = 50;
const HIERARCHY_LOCK = 'account-hierarchy';


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

  async require(id: string, db: Knex = this.db): Promise<Account> {
    const account = await this.get(id, db);
    if (!account) throw new NotFoundError('account', id);
    return account;
  }

  async list(filter: AccountFilter, page: Page): Promise<{ items: Account[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      if (filter.q) q.whereLike('normalized_name', `%${normalizeAccountName(filter.q).replace(/[%_]/g, '')}%`);
      if (filter.accountType) q.where('account_type', filter.accountType);
      if (filter.parentAccountId) q.where('parent_account_id', filter.parentAccountId);
      if (filter.ownerId) q.where('owner_id', filter.ownerId);
      if (filter.topLevel) q.whereNull('parent_account_id');
      return q;
    };
    return listPage(() => where(this.db('accounts')), [{ column: 'normalized_name' }, { column: 'id' }], page, (r) => fromRow<Account>(r));
  }

  /** `id`, when given (a keyed request's rerun), is reused: the account made before is returned. */
  async create(fields: AccountFields, ctx: UserWriteContext, id: string | null = null): Promise<Account> {
    return this.db.transaction(async (trx) => {
      const made = id ? await trx('accounts').where({ id }).first() : null;
      if (made) return fromRow<Account>(made);
      const normalizedName = await this.assertNameFree(trx, fields.name, null);
      await this.assertOwner(trx, fields.ownerId);
      if (fields.parentAccountId) {
        await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [HIERARCHY_LOCK]);
        await this.assertParentExists(trx, fields.parentAccountId);
      }
      if (fields.primaryContactId) await this.assertPrimaryContact(trx, fields.primaryContactId, null);
      const [row] = await trx('accounts').insert({ ...(id ? { id } : {}), ...toRow(fields), name: fields.name.trim(), normalized_name: normalizedName, created_by: ctx.userId }).returning('*');
      const account = fromRow<Account>(row);
      await recordAudit(trx, { ...ctx, action: 'account.created', entityType: 'account', entityId: account.id, after: account });
      return account;
    });
  }

  /** Changes the named fields; a new parent that would close a cycle is refused (409). */
  async update(id: string, patch: Partial<AccountFields>, ctx: UserWriteContext): Promise<Account> {
    return this.db.transaction(async (trx) => {
      if (patch.parentAccountId !== undefined) await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [HIERARCHY_LOCK]);
      const row = await trx('accounts').where({ id }).forUpdate().first();
      if (!row) throw new NotFoundError('account', id);
      const before = fromRow<Account>(row);
      const fields: Record<string, unknown> = toRow(patch);
      if (patch.name !== undefined) {
        fields.name = patch.name.trim();
        fields.normalized_name = await this.assertNameFree(trx, patch.name, id);
      }
      if (patch.ownerId && patch.ownerId !== before.ownerId) await this.assertOwner(trx, patch.ownerId);
      if (patch.parentAccountId) await this.assertNoCycle(trx, id, patch.parentAccountId);
      if (patch.primaryContactId) await this.assertPrimaryContact(trx, patch.primaryContactId, id);
      if (patch.parentAccountId === null) fields.parent_account_id = null;
      if (patch.primaryContactId === null) fields.primary_contact_id = null;
      await trx('accounts').where({ id }).update({ ...fields, updated_at: trx.fn.now() });
      const after = (await this.get(id, trx))!;
      await recordAudit(trx, { ...ctx, action: 'account.updated', entityType: 'account', entityId: id, before, after });
      return after;
    });
  }

  /** Deletes an account nothing refers to; otherwise 409 `account_in_use` with what refers to it. */
  async delete(id: string, ctx: UserWriteContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [HIERARCHY_LOCK]);
      const row = await trx('accounts').where({ id }).forUpdate().first();
      if (!row) throw new NotFoundError('account', id);
      const references: Record<string, number> = {};
      for (const [name, table, column, extra] of [
        ['childAccounts', 'accounts', 'parent_account_id', null], ['contacts', 'contacts', 'parent_account_id', null], ['deals', 'deals', 'account_id', null],
        ['quotes', 'quotes', 'account_id', null], ['orders', 'orders', 'account_id', null], ['invoices', 'invoices', 'account_id', null],
        ['activities', 'activities', 'regarding_id', { regarding_type: 'account' }],
      ] as const) {
        const [{ count }] = await trx(table).where({ [column]: id, ...(extra ?? {}) }).count<{ count: number }[]>({ count: '*' });
        if (Number(count) > 0) references[name] = Number(count);
      }
      if (Object.keys(references).length) {
        throw new ConflictError('account_in_use', `account ${row.name} is still referred to (${Object.entries(references).map(([k, v]) => `${v} ${k}`).join(', ')})`, undefined, { references });
      }
      await trx('accounts').where({ id }).delete();
      await recordAudit(trx, { ...ctx, action: 'account.deleted', entityType: 'account', entityId: id, before: fromRow(row) });
    });
  }

  /** The account and every account below it (children, their children, …). */
  async hierarchyIds(id: string, db: Knex = this.db): Promise<string[]> {
    const { rows } = await db.raw(
      `with recursive tree(id, depth) as (
         select id, 0 from accounts where id = ?
         union all
         select a.id, t.depth + 1 from accounts a join tree t on a.parent_account_id = t.id where t.depth < ?
       ) select id from tree order by depth`,
      [id, MAX_DEPTH],
    );
    return rows.map((r: { id: string }) => r.id);
  }

  /** The account's ancestors, nearest first. */
  async ancestors(id: string, db: Knex = this.db): Promise<Array<Pick<Account, 'id' | 'name'>>> {
    const { rows } = await db.raw(
      `with recursive up(id, name, parent_account_id, depth) as (
         select p.id, p.name, p.parent_account_id, 1 from accounts a join accounts p on p.id = a.parent_account_id where a.id = ?
         union all
         select p.id, p.name, p.parent_account_id, u.depth + 1 from accounts p join up u on p.id = u.parent_account_id where u.depth < ?
       ) select id, name from up order by depth`,
      [id, MAX_DEPTH],
    );
    return rows;
  }

  /**
   * Deal figures over a set of accounts: deals naming one of them, and deals of their contacts that
   * name no account (a person buying for themself still belongs to the company's picture).
   */
  async dealTotals(accountIds: string[], db: Knex = this.db): Promise<DealTotals> {
    const { rows: [row] } = await db.raw(
      `select count(*) filter (where status = 'open')::int as open_deal_count,
              coalesce(sum(value_cents) filter (where status = 'open'), 0)::bigint as open_deal_value_cents,
              count(*) filter (where status = 'won')::int as won_deal_count,
              coalesce(sum(coalesce(actual_revenue_cents, value_cents)) filter (where status = 'won'), 0)::bigint as won_revenue_cents
         from deals d
        where d.account_id = any(?::uuid[])
           or (d.account_id is null and exists (select 1 from contacts c where c.id = d.contact_id and c.parent_account_id = any(?::uuid[])))`,
      [accountIds, accountIds],
    );
    return fromRow<DealTotals>(row);
  }

  /** Open deals of a set of accounts (as dealTotals counts them), the most valuable first. */
  async openDeals(accountIds: string[], limit: number, db: Knex = this.db): Promise<Array<Record<string, unknown>>> {
    const rows = await db('deals as d')
      .leftJoin('contacts as c', 'c.id', 'd.contact_id')
      .where('d.status', 'open')
      .where((w) => w.whereIn('d.account_id', accountIds).orWhere((o) => o.whereNull('d.account_id').whereIn('c.parent_account_id', accountIds)))
      .orderBy([{ column: 'd.value_cents', order: 'desc' }, { column: 'd.created_at', order: 'desc' }])
      .limit(limit)
      .select('d.id', 'd.name', 'd.stage', 'd.value_cents', 'd.owner_id', 'd.contact_id', db.raw('coalesce(d.account_id, c.parent_account_id) as account_id'));
    return rows.map((r: Record<string, unknown>) => fromRow(r));
  }

  private async assertNameFree(trx: Knex.Transaction, name: string, selfId: string | null): Promise<string> {
    const normalizedName = normalizeAccountName(name);
    if (!normalizedName) throw new InvalidFieldError('name', 'invalid_value', 'name must contain letters or digits');
    // The same lock qualification takes, so a person and a qualification cannot both create "Fabrikam".
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`account:${normalizedName}`]);
    const existing = await trx('accounts').where({ normalized_name: normalizedName }).modify((q) => (selfId ? q.whereNot({ id: selfId }) : q)).first('id', 'name');
    if (existing) throw new ConflictError('account_exists', `an account named "${existing.name}" already exists`, 'name', { accountId: existing.id });
    return normalizedName;
  }

  private async assertParentExists(trx: Knex.Transaction, parentId: string): Promise<void> {
    const parent = await trx('accounts').where({ id: parentId }).first('id');
    if (!parent) throw new InvalidFieldError('parentAccountId', 'not_found', `account ${parentId} was not found`);
  }

  /** Making `parentId` the parent of `id` must not put `id` above itself. Call under the hierarchy lock. */
  private async assertNoCycle(trx: Knex.Transaction, id: string, parentId: string): Promise<void> {
    await this.assertParentExists(trx, parentId);
    const chain = [{ id: parentId }, ...(await this.ancestors(parentId, trx))];
    if (chain.some((a) => a.id === id)) {
      throw new ConflictError('account_hierarchy_cycle', parentId === id ? 'an account cannot be its own parent' : `account ${parentId} is below this account: making it the parent would form a cycle`, 'parentAccountId');
    }
  }

  /** The primary contact exists and belongs to this account (or to none). */
  private async assertPrimaryContact(trx: Knex.Transaction, contactId: string, accountId: string | null): Promise<void> {
    const contact = await trx('contacts').where({ id: contactId }).first('id', 'parent_account_id');
    if (!contact) throw new InvalidFieldError('primaryContactId', 'not_found', `contact ${contactId} was not found`);
    if (contact.parent_account_id && contact.parent_account_id !== accountId) {
      throw new UnprocessableError('primary_contact_not_member', 'the primary contact must belong to this account (or to none)', 'primaryContactId', { contactAccountId: contact.parent_account_id });
    }
  }

  private async assertOwner(trx: Knex.Transaction, ownerId: string): Promise<void> {
    const owner = await trx('users').where({ id: ownerId }).whereNull('disabled_at').first('id');
    if (!owner) throw new InvalidFieldError('ownerId', 'unknown_user', `ownerId ${ownerId} is not an active user`);
  }

  /**
   * The oldest account with the same normalised name, or a new one. Concurrent qualifications of
   * the same company are serialised by a transaction-scoped advisory lock on the normalised name.
   */
  async findOrCreate(trx: Knex.Transaction, input: NewAccount, ctx: UserWriteContext): Promise<{ account: Account; created: boolean }> {
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
