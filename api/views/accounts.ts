/** Accounts as the API shows them (SPEC "Account"). */
import { z } from 'zod';
import { ACCOUNT_TYPES } from '../../db/stores/accounts';
import { isoDateTime } from '../schemas';

export const accountSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  normalizedName: z.string().describe('The name as duplicates are found: no accents, case or punctuation; unique among accounts'),
  accountType: z.enum(ACCOUNT_TYPES),
  parentAccountId: z.uuid().nullable(),
  primaryContactId: z.uuid().nullable(),
  website: z.string().nullable(),
  phone: z.string().nullable(),
  street: z.string().nullable(),
  city: z.string().nullable(),
  postalCode: z.string().nullable(),
  state: z.string().nullable(),
  country: z.string().nullable(),
  ownerId: z.uuid(),
  createdBy: z.uuid(),
  createdAt: isoDateTime(),
  updatedAt: isoDateTime(),
});
