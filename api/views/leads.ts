/**
 * Leads as the API takes and shows them (SPEC "Leads"): the fields a new lead is made of (`POST
 * /leads` and every row of a lead import are judged by the same schema) and the lead it answers with.
 */
import { z } from 'zod';
import { CUSTOMER_TYPES, LEAD_SOURCES, LEAD_STATUSES, type LeadFields } from '../../db/stores/leads';
import { cents, emailAddress, isoDateTime, optionalText, text, timeZone } from '../schemas';

const leadFields = {
  topic: text(200).describe('What the lead is interested in, e.g. a product'),
  firstName: optionalText(100),
  lastName: text(100),
  email: emailAddress().nullable().optional(),
  mobilePhone: optionalText(50),
  businessPhone: optionalText(50),
  companyName: optionalText(200),
  website: z.url({ protocol: /^https?$/ }).max(500).nullable().optional(),
  street: optionalText(200),
  city: optionalText(100),
  postalCode: optionalText(20),
  state: optionalText(100),
  country: optionalText(100),
  source: z.enum(LEAD_SOURCES).optional(),
  customerType: z.enum(CUSTOMER_TYPES).describe('Only corporate leads can be nurtured'),
  estimatedValueCents: cents().nullable().optional(),
  ownerId: z.uuid().optional().describe('The rep who owns the lead; defaults to the caller'),
  timeZone: timeZone().nullable().optional(),
};

export const createLeadBody = z.strictObject(leadFields);

/** A new lead's fields that its request leaves out. */
export const EMPTY_LEAD: Omit<LeadFields, 'topic' | 'lastName' | 'customerType' | 'ownerId'> = {
  firstName: null, email: null, mobilePhone: null, businessPhone: null, companyName: null, website: null, street: null,
  city: null, postalCode: null, state: null, country: null, estimatedValueCents: null, source: 'other',
};

export const leadSchema = z.object({
  id: z.uuid(),
  topic: z.string(),
  firstName: z.string().nullable(),
  lastName: z.string(),
  email: z.string().nullable(),
  mobilePhone: z.string().nullable(),
  businessPhone: z.string().nullable(),
  companyName: z.string().nullable(),
  website: z.string().nullable(),
  street: z.string().nullable(),
  city: z.string().nullable(),
  postalCode: z.string().nullable(),
  state: z.string().nullable(),
  country: z.string().nullable(),
  source: z.enum(LEAD_SOURCES),
  customerType: z.enum(CUSTOMER_TYPES),
  estimatedValueCents: z.number().int().nullable(),
  status: z.enum(LEAD_STATUSES),
  statusReason: z.string().nullable(),
  closedAt: isoDateTime().nullable(),
  closedBy: z.uuid().nullable(),
  ownerId: z.uuid(),
  timeZone: z.string().nullable().describe('IANA zone for sequence waits and send windows; null: the owner’s'),
  doNotEmailAt: isoDateTime().nullable().describe('When the person unsubscribed from sequence email'),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});
