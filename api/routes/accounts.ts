/**
 * Accounts (SPEC "Vocabulary", the B2B side of the customer model): create, read, list, edit,
 * delete. An account may have a parent (a subsidiary of a larger company) and a primary contact; a
 * parent chain never forms a cycle (409 `account_hierarchy_cycle`). Reading one shows its place in
 * the hierarchy, its contacts, open deals, and deal value rolled up over it and everything below it.
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { ACCOUNT_TYPES, AccountStore, type AccountFields } from '../../db/stores/accounts';
import { ContactStore } from '../../db/stores/contacts';
import { DEAL_STAGES } from '../../workflows/dealLifecycle.contract';
import { WORKERS, assertMayAssignOwner, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import { idFor } from '../idempotency';
import { definedOnly, idParams, optionalText, pageOf, paging, text } from '../schemas';
import { accountSchema } from '../views/accounts';
import { contactSchema } from '../views/contacts';

const OPEN_DEALS_SHOWN = 100;

const accountFields = {
  name: text(200),
  accountType: z.enum(ACCOUNT_TYPES).optional().describe('Defaults to customer'),
  parentAccountId: z.uuid().nullable().optional().describe('The larger company this one belongs to'),
  primaryContactId: z.uuid().nullable().optional().describe('A contact of this account (or one without an account)'),
  website: z.url({ protocol: /^https?$/ }).max(500).nullable().optional(),
  phone: optionalText(50),
  street: optionalText(200),
  city: optionalText(100),
  postalCode: optionalText(20),
  state: optionalText(100),
  country: optionalText(100),
  ownerId: z.uuid().optional().describe('Defaults to the caller; managers and admins may name another'),
};

const createBody = z.strictObject(accountFields);
const patchBody = createBody
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change', params: { code: 'empty_patch' } });

const dealTotalsSchema = z.object({
  openDealCount: z.number().int(),
  openDealValueCents: z.number().int(),
  wonDealCount: z.number().int(),
  wonRevenueCents: z.number().int().describe('Actual revenue of won deals (their value where none was recorded)'),
});

const summary = z.object({ id: z.uuid(), name: z.string() });

export const accountDetailSchema = accountSchema.extend({
  ancestors: z.array(summary).describe('The parent, its parent, … up to the top'),
  children: z.array(summary.extend({ accountType: z.enum(ACCOUNT_TYPES) })),
  primaryContact: contactSchema.nullable(),
  contacts: z.array(contactSchema).describe('People of this account'),
  openDeals: z.array(z.object({
    id: z.uuid(), name: z.string(), stage: z.enum(DEAL_STAGES), valueCents: z.number().int(), ownerId: z.uuid(), contactId: z.uuid(),
    accountId: z.uuid().describe('Which account of the hierarchy it belongs to'),
  })).describe(`Open deals of this account and the accounts below it, the most valuable first (at most ${OPEN_DEALS_SHOWN})`),
  rollup: z.object({
    accountCount: z.number().int().describe('This account and every account below it'),
    own: dealTotalsSchema.describe('This account alone'),
    hierarchy: dealTotalsSchema.describe('This account and every account below it'),
  }).describe('Deals of an account: those naming it, and those of its contacts that name no account'),
});

const listQuery = z.object({
  q: z.string().trim().min(1).max(200).optional().describe('Part of the name'),
  accountType: z.enum(ACCOUNT_TYPES).optional(),
  parentAccountId: z.uuid().optional(),
  ownerId: z.uuid().optional(),
  topLevel: z.enum(['true', 'false']).optional().describe('`true`: only accounts without a parent'),
  ...paging,
});

const EMPTY: Omit<AccountFields, 'name' | 'ownerId'> = {
  accountType: 'customer', parentAccountId: null, primaryContactId: null, website: null, phone: null, street: null, city: null, postalCode: null, state: null, country: null,
};

export function accountRoutes({ db }: { db: Db }): RouteSpec[] {
  const accounts = new AccountStore(db);
  const contacts = new ContactStore(db);
  const params = idParams('account');
  const ctx = (userId: string, requestId: string) => ({ actor: { type: 'user' as const, id: userId }, userId, requestId });

  async function detail(id: string) {
    const account = await accounts.require(id);
    const ids = await accounts.hierarchyIds(id);
    const [ancestors, children, members, primary, openDeals, own, hierarchy] = await Promise.all([
      accounts.ancestors(id),
      db('accounts').where({ parent_account_id: id }).orderBy('normalized_name').select('id', 'name', 'account_type as accountType'),
      contacts.list({ accountId: id }, { limit: 200, offset: 0 }),
      account.primaryContactId ? contacts.get(account.primaryContactId) : Promise.resolve(null),
      accounts.openDeals(ids, OPEN_DEALS_SHOWN),
      accounts.dealTotals([id]),
      accounts.dealTotals(ids),
    ]);
    return { ...account, ancestors, children, primaryContact: primary, contacts: members.items, openDeals, rollup: { accountCount: ids.length, own, hierarchy } };
  }

  return [
    route({
      method: 'post', path: '/accounts', tag: 'Accounts', summary: 'Create an account', roles: WORKERS, body: createBody,
      responses: {
        201: { description: 'The new account', schema: accountSchema },
        409: { description: '`account_exists`: an account with the same (normalised) name exists; `accountId` names it' },
        422: { description: '`primary_contact_not_member`' },
      },
      async handler({ operation, user, body, requestId }) {
        assertMayAssignOwner(user, body.ownerId);
        const account = await accounts.create({ ...EMPTY, ...definedOnly(body), ownerId: body.ownerId ?? user.id }, ctx(user.id, requestId), idFor(operation, 'account'));
        return { status: 201, body: account, headers: { Location: `/accounts/${account.id}` } };
      },
    }),
    route({
      method: 'get', path: '/accounts', tag: 'Accounts', summary: 'List accounts by name', query: listQuery,
      responses: { 200: { description: 'A page of accounts', schema: pageOf(accountSchema) } },
      async handler({ query }) {
        const { limit, offset, topLevel, ...filter } = query;
        const { items, total } = await accounts.list({ ...filter, topLevel: topLevel === 'true' }, { limit, offset });
        return { status: 200, body: { data: items, page: { limit, offset, total } } };
      },
    }),
    route({
      method: 'get', path: '/accounts/:id', tag: 'Accounts', summary: 'An account: its hierarchy, contacts, open deals and the deal value rolled up over the hierarchy', params,
      responses: { 200: { description: 'The account', schema: accountDetailSchema }, 404: { description: 'No such account' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await detail(id) };
      },
    }),
    route({
      method: 'patch', path: '/accounts/:id', tag: 'Accounts', summary: 'Change an account (its parent, primary contact, details, owner)',
      description: 'A parent that would put the account below itself is refused (409 `account_hierarchy_cycle`). Reassigning the owner needs a manager or an admin.',
      roles: WORKERS, params, body: patchBody,
      responses: {
        200: { description: 'The account', schema: accountDetailSchema }, 404: { description: 'No such account' },
        409: { description: '`account_hierarchy_cycle`, `account_exists`' }, 422: { description: '`primary_contact_not_member`' },
      },
      async handler({ user, params: { id }, body, requestId }) {
        const current = await accounts.require(id);
        assertOwnerOrSupervisor(user, current.ownerId, 'account');
        assertMayAssignOwner(user, body.ownerId, current.ownerId);
        await accounts.update(id, definedOnly(body), ctx(user.id, requestId));
        return { status: 200, body: await detail(id) };
      },
    }),
    route({
      method: 'delete', path: '/accounts/:id', tag: 'Accounts', summary: 'Delete an account nothing refers to',
      description: 'An account with sub-accounts, contacts, deals, quotes, orders, invoices or activities is kept (409 `account_in_use`, with `references`).',
      roles: WORKERS, params,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'No such account' }, 409: { description: '`account_in_use`' } },
      async handler({ user, params: { id }, requestId }) {
        const current = await accounts.require(id);
        assertOwnerOrSupervisor(user, current.ownerId, 'account');
        await accounts.delete(id, ctx(user.id, requestId));
        return { status: 204 };
      },
    }),
  ];
}
