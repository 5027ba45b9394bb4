/** Users and leads as the tests need them, written through the real stores. */
import crypto from 'node:crypto';
import type { Db } from '../../db/knex';
import { LeadStore, type Lead, type LeadFields } from '../../db/stores/leads';
import { ROLES, UserStore, type Role, type User } from '../../db/stores/users';

export type TestUsers = Record<Role, User & { token: string }> & { otherRep: User & { token: string } };

export async function createUsers(db: Db): Promise<TestUsers> {
  const store = new UserStore(db);
  const out: Partial<TestUsers> = {};
  const manager = await store.create({ name: 'Morgan Manager', role: 'manager' });
  out.manager = { ...manager.user, token: manager.token };
  for (const role of ROLES.filter((r) => r !== 'manager')) {
    const created = await store.create({ name: `Test ${role}`, role, managerId: manager.user.id });
    out[role] = { ...created.user, token: created.token };
  }
  const other = await store.create({ name: 'Other Rep', role: 'rep', managerId: manager.user.id });
  out.otherRep = { ...other.user, token: other.token };
  return out as TestUsers;
}

export function uniqueEmail(prefix = 'lead'): string {
  return `${prefix}.${crypto.randomBytes(5).toString('hex')}@fabrikam.example`;
}

export async function createLead(db: Db, ownerId: string, overrides: Partial<LeadFields> = {}): Promise<Lead> {
  const fields: LeadFields = {
    topic: 'Smart doorbells for 40 offices', firstName: 'Abbie', lastName: 'Moss', email: uniqueEmail(), mobilePhone: null,
    businessPhone: '983.566.0706', companyName: 'Fabrikam', website: null, street: null, city: 'Fairfield', postalCode: '10753',
    state: 'California', country: 'USA', source: 'web_form', customerType: 'corporate', estimatedValueCents: 2_500_000, ownerId,
    ...overrides,
  };
  return new LeadStore(db).create(fields, ownerId, { actor: { type: 'user', id: ownerId } });
}
