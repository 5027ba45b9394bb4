/**
 * Contacts (SPEC "Vocabulary": a person, standalone — B2C — or belonging to a parent customer
 * account — B2B; both together make the hybrid model): create, read, list, edit, delete. An email
 * names one contact (409 `contact_email_exists`, with `contactId`).
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { ContactStore, type NewContact } from '../../db/stores/contacts';
import { DEAL_STAGES, DEAL_STATUSES } from '../../workflows/dealLifecycle.contract';
import { WORKERS, assertMayAssignOwner, assertOwnerOrSupervisor } from '../auth';
import { contactSchema } from '../views/contacts';
import { route, type RouteSpec } from '../http';
import { idFor } from '../idempotency';
import { definedOnly, emailAddress, timeZone, idParams, optionalText, pageOf, paging, text } from '../schemas';

const contactFields = {
  firstName: optionalText(100),
  lastName: text(100),
  email: emailAddress().nullable().optional(),
  mobilePhone: optionalText(50),
  businessPhone: optionalText(50),
  parentAccountId: z.uuid().nullable().optional().describe('The account the person belongs to; none for a consumer'),
  ownerId: z.uuid().optional().describe('Defaults to the caller; managers and admins may name another'),
  customerType: z.enum(['corporate', 'consumer']).optional().describe('Defaults to corporate with a parent account, consumer without'),
  timeZone: timeZone().nullable().optional(),
};

const createBody = z.strictObject(contactFields);
const patchBody = createBody
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: 'name at least one field to change', params: { code: 'empty_patch' } });

export const contactDetailSchema = contactSchema.extend({
  parentAccount: z.object({ id: z.uuid(), name: z.string() }).nullable(),
  primaryContactOf: z.array(z.object({ id: z.uuid(), name: z.string() })).describe('Accounts this person is the primary contact of'),
  deals: z.array(z.object({ id: z.uuid(), name: z.string(), stage: z.enum(DEAL_STAGES), status: z.enum(DEAL_STATUSES), valueCents: z.number().int(), accountId: z.uuid().nullable() })).describe('Deals naming this person as the customer contact, newest first'),
});

const listQuery = z.object({
  q: z.string().trim().min(1).max(200).optional().describe('Part of the name or email'),
  email: z.string().trim().min(1).max(254).optional(),
  accountId: z.uuid().optional(),
  ownerId: z.uuid().optional(),
  standalone: z.enum(['true', 'false']).optional().describe('`true`: only people without an account (consumers)'),
  ...paging,
});

const EMPTY: Omit<NewContact, 'lastName' | 'ownerId'> = { firstName: null, email: null, mobilePhone: null, businessPhone: null, parentAccountId: null };

export function contactRoutes({ db }: { db: Db }): RouteSpec[] {
  const contacts = new ContactStore(db);
  const params = idParams('contact');
  const ctx = (userId: string, requestId: string) => ({ actor: { type: 'user' as const, id: userId }, userId, requestId });

  async function detail(id: string) {
    const contact = await contacts.require(id);
    const [parentAccount, primaryContactOf, deals] = await Promise.all([
      contact.parentAccountId ? db('accounts').where({ id: contact.parentAccountId }).first('id', 'name') : Promise.resolve(null),
      db('accounts').where({ primary_contact_id: id }).orderBy('normalized_name').select('id', 'name'),
      db('deals').where({ contact_id: id }).orderBy([{ column: 'created_at', order: 'desc' }]).limit(100)
        .select('id', 'name', 'stage', 'status', 'value_cents as valueCents', 'account_id as accountId'),
    ]);
    return { ...contact, parentAccount: parentAccount ?? null, primaryContactOf, deals };
  }

  return [
    route({
      method: 'post', path: '/contacts', tag: 'Contacts', summary: 'Create a contact', roles: WORKERS, body: createBody,
      responses: { 201: { description: 'The new contact', schema: contactSchema }, 409: { description: '`contact_email_exists`: `contactId` names the contact with that email' } },
      async handler({ operation, user, body, requestId }) {
        assertMayAssignOwner(user, body.ownerId);
        const contact = await contacts.create({ ...EMPTY, ...definedOnly(body), ownerId: body.ownerId ?? user.id }, ctx(user.id, requestId), idFor(operation, 'contact'));
        return { status: 201, body: contact, headers: { Location: `/contacts/${contact.id}` } };
      },
    }),
    route({
      method: 'get', path: '/contacts', tag: 'Contacts', summary: 'List contacts by name', query: listQuery,
      responses: { 200: { description: 'A page of contacts', schema: pageOf(contactSchema) } },
      async handler({ query }) {
        const { limit, offset, standalone, ...filter } = query;
        const { items, total } = await contacts.list({ ...filter, standalone: standalone === 'true' }, { limit, offset });
        return { status: 200, body: { data: items, page: { limit, offset, total } } };
      },
    }),
    route({
      method: 'get', path: '/contacts/:id', tag: 'Contacts', summary: 'A contact, their account and their deals', params,
      responses: { 200: { description: 'The contact', schema: contactDetailSchema }, 404: { description: 'No such contact' } },
      async handler({ params: { id } }) {
        return { status: 200, body: await detail(id) };
      },
    }),
    route({
      method: 'patch', path: '/contacts/:id', tag: 'Contacts', summary: 'Change a contact',
      description: 'Moving an account’s primary contact elsewhere is refused (409 `primary_contact_of_account`). Reassigning the owner needs a manager or an admin.',
      roles: WORKERS, params, body: patchBody,
      responses: { 200: { description: 'The contact', schema: contactDetailSchema }, 404: { description: 'No such contact' }, 409: { description: '`contact_email_exists`, `primary_contact_of_account`' } },
      async handler({ user, params: { id }, body, requestId }) {
        const current = await contacts.require(id);
        assertOwnerOrSupervisor(user, current.ownerId, 'contact');
        assertMayAssignOwner(user, body.ownerId, current.ownerId);
        await contacts.update(id, definedOnly(body), ctx(user.id, requestId));
        return { status: 200, body: await detail(id) };
      },
    }),
    route({
      method: 'delete', path: '/contacts/:id', tag: 'Contacts', summary: 'Delete a contact nothing refers to',
      description: 'A contact named on deals, quotes, orders, invoices, accounts (as primary contact), activities or appointments is kept (409 `contact_in_use`, with `references`).',
      roles: WORKERS, params,
      responses: { 204: { description: 'Deleted' }, 404: { description: 'No such contact' }, 409: { description: '`contact_in_use`' } },
      async handler({ user, params: { id }, requestId }) {
        const current = await contacts.require(id);
        assertOwnerOrSupervisor(user, current.ownerId, 'contact');
        await contacts.delete(id, ctx(user.id, requestId));
        return { status: 204 };
      },
    }),
  ];
}
