/** Contacts as the API shows them (SPEC "Contact"). */
import { z } from 'zod';
import { isoDateTime } from '../schemas';

export const contactSchema = z.object({
  id: z.uuid(),
  firstName: z.string().nullable(),
  lastName: z.string(),
  email: z.string().nullable(),
  mobilePhone: z.string().nullable(),
  businessPhone: z.string().nullable(),
  parentAccountId: z.uuid().nullable(),
  ownerId: z.uuid(),
  customerType: z.enum(['corporate', 'consumer']).describe('Which sequences may enroll the contact; by default corporate with a parent account, consumer without'),
  timeZone: z.string().nullable().describe('IANA zone for sequence waits and send windows; null: the owner’s'),
  doNotEmailAt: isoDateTime().nullable().describe('When the person unsubscribed from sequence email'),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});
