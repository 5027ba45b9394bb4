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
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});
