/**
 * The customer view (SPEC "One view of the customer"): find profiles, and read one profile with
 * its source records, purchases and totals, loyalty points and the person's CRM records.
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { NotFoundError } from '../../domain/rejection';
import { CustomerStore, MAX_PURCHASES_SHOWN } from '../../db/stores/customers';
import { route, type RouteSpec } from '../http';
import { isoDate, isoDateTime, pageOf, paging } from '../schemas';
import { accountSchema } from '../views/accounts';
import { contactSchema } from '../views/contacts';
import { dealSchema } from '../views/deals';
import { leadSchema } from '../views/leads';
import { activitySchema } from '../views/timeline';

const profileFields = {
  id: z.uuid(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  fullName: z.string().nullable(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  dateOfBirth: isoDate().nullable(),
  gender: z.string().nullable(),
  postalCode: z.string().nullable(),
  street: z.string().nullable(),
  city: z.string().nullable(),
  state: z.string().nullable(),
  country: z.string().nullable(),
  rewardPoints: z.number().int().nullable().describe('Loyalty points over all the loyalty records of the person'),
  sourceKeys: z.record(z.string(), z.array(z.string())).describe('Every source key of the profile, by source: {"contacts": ["CNTID_1000"], "loyalty": ["LOYID_1000"]}'),
  emails: z.array(z.string()),
  recordCount: z.number().int(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
};
export const customerSchema = z.object(profileFields);

const sourceRecordSchema = z.object({
  source: z.string(),
  sourceKey: z.string(),
  rule: z.string().nullable().describe('The match rule of the strongest link that put the record in this profile; null for a profile of one record'),
  confidence: z.number(),
  firstName: z.string().nullable(), lastName: z.string().nullable(), fullName: z.string().nullable(), email: z.string().nullable(),
  phone: z.string().nullable(), dateOfBirth: isoDate().nullable(), gender: z.string().nullable(), postalCode: z.string().nullable(),
  street: z.string().nullable(), city: z.string().nullable(), state: z.string().nullable(), country: z.string().nullable(),
  createdOn: isoDate().nullable(), rewardPoints: z.number().int().nullable(),
  links: z.record(z.string(), z.string()), extra: z.record(z.string(), z.unknown()), updatedAt: isoDateTime(),
});

const purchaseSchema = z.object({
  source: z.string(), purchaseId: z.string(), channel: z.enum(['pos', 'online']), customerSource: z.string(), customerKey: z.string(),
  productId: z.string().nullable(), purchasedOn: isoDate(), totalCents: z.number().int(), pointsAdded: z.number().int().nullable(),
});

/** The CRM records as their tables hold them (the same fields as the CRM routes show, less what those compute). */
const crmSchema = z.object({
  available: z.array(z.enum(['leads', 'contacts', 'accounts', 'deals', 'activities'])).describe('The CRM tables this database has'),
  leads: z.array(leadSchema),
  contacts: z.array(contactSchema),
  accounts: z.array(accountSchema),
  deals: z.array(dealSchema.omit({ workflowId: true })),
  activities: z.array(activitySchema.omit({ overdue: true, attendees: true }).extend({
    idempotencyKey: z.string().nullable().describe('Written by a workflow step: `<workflowId>/<runId>/<step>`'),
  })),
});
export const customerViewSchema = z.object({
  ...profileFields,
  records: z.array(sourceRecordSchema),
  purchases: z.array(purchaseSchema).describe(`Newest first, at most ${MAX_PURCHASES_SHOWN}; the totals cover all`),
  totals: z.object({
    count: z.number().int(), lifetimeCents: z.number().int(), posCents: z.number().int(), onlineCents: z.number().int(),
    last12MonthsCents: z.number().int(), asOf: isoDate(),
  }),
  loyalty: z.object({ pointsBalance: z.number().int().nullable(), pointsEarnedInStore: z.number().int() }),
  crm: crmSchema.describe('The CRM records with one of the profile’s e-mail addresses: leads, contacts, their accounts, the contacts’ deals and the activities of all of them'),
});

const listQuery = z.object({
  q: z.string().trim().max(200).optional().describe('Name words, e-mail, phone, postal code, ContactId or LoyaltyId'),
  ...paging,
});

const viewQuery = z.object({
  asOf: z.iso.date().optional().describe('The end of the "last 12 months" window (YYYY-MM-DD); today by default'),
});

const params = z.object({ id: z.string() });

export interface CustomerRoutesDeps {
  db: Db;
}

export function customerRoutes({ db }: CustomerRoutesDeps): RouteSpec[] {
  const customers = new CustomerStore(db);
  return [
    route({
      method: 'get', path: '/customers', tag: 'Customers', summary: 'Find customer profiles',
      description: '`q` matches any source record of a profile: a ContactId or LoyaltyId, an e-mail address (or its beginning), a phone number in any format, a postal code, or name words (each the beginning of a first or last name). Without `q`, every profile, by name.',
      query: listQuery,
      responses: { 200: { description: 'A page of profiles', schema: pageOf(customerSchema) } },
      async handler({ query }) {
        const { limit, offset, q } = query;
        const { items, total } = await customers.search(q, { limit, offset });
        return { status: 200, body: { data: items, page: { limit, offset, total } } };
      },
    }),
    route({
      method: 'get', path: '/customers/:id', tag: 'Customers', summary: 'One customer: profile, source records, purchases, loyalty, CRM',
      description: 'The merged profile; its source records, each with the rule and confidence that placed it; every POS and online purchase with totals (lifetime, per channel, last 12 months); loyalty points; and the CRM records with one of its e-mail addresses: leads, contacts, their accounts, the contacts\' deals and the activities of all of them. An id that was merged into another profile answers 301 with the profile it lives in now.',
      params, query: viewQuery,
      responses: {
        200: { description: 'The customer view', schema: customerViewSchema },
        301: {
          description: '`customer_merged`: the profile joined another; Location names it',
          schema: z.object({ code: z.literal('customer_merged'), detail: z.string(), mergedInto: z.uuid().describe('The profile it lives in now') }),
        },
        404: { description: 'No such customer' },
      },
      async handler({ params: { id }, query }) {
        if (!z.uuid().safeParse(id).success) throw new NotFoundError('customer', id);
        const profile = await customers.get(id);
        if (!profile) {
          const to = await customers.redirect(id);
          if (!to) throw new NotFoundError('customer', id);
          return { status: 301, headers: { Location: `/customers/${to}` }, body: { code: 'customer_merged', detail: `customer ${id} was merged into ${to}`, mergedInto: to } };
        }
        const asOf = query.asOf ?? new Date().toISOString().slice(0, 10);
        const [records, purchases, crm] = await Promise.all([customers.records(id), customers.purchases(id, asOf), customers.crm(profile.emails)]);
        return {
          status: 200,
          body: {
            ...profile, records, purchases: purchases.items, totals: purchases.totals,
            loyalty: { pointsBalance: profile.rewardPoints, pointsEarnedInStore: purchases.pointsEarned }, crm,
          },
        };
      },
    }),
  ];
}
