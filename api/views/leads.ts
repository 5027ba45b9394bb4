/** Leads as the API shows them (SPEC "Leads"). */
import { z } from 'zod';
import { CUSTOMER_TYPES, LEAD_SOURCES, LEAD_STATUSES } from '../../db/stores/leads';
import { isoDateTime } from '../schemas';

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
