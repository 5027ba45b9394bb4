/**
 * Who a sequence version may enroll (issue 9), one rule for the API's enrollments and the lead
 * import's: eligible customer type, an open person, and for a sequence with emails an address and
 * no unsubscribe.
 */
import { ConflictError, UnprocessableError } from '../rejection';

export interface EnrollablePerson {
  type: 'lead' | 'contact';
  id: string;
  customerType: 'corporate' | 'consumer';
  status: 'open' | 'qualified' | 'disqualified';
  email: string | null;
  doNotEmailAt: string | null;
}

export interface EnrollingVersion {
  eligibility: { customerTypes: string[] };
  steps: Array<{ type: string }>;
}

/** Why the person cannot be enrolled in the version, as the API refuses it; null when they can. */
export function enrollmentRefusal(person: EnrollablePerson, version: EnrollingVersion): Error | null {
  if (!version.eligibility.customerTypes.includes(person.customerType)) {
    const corporateOnly = version.eligibility.customerTypes.length === 1 && version.eligibility.customerTypes[0] === 'corporate';
    return new UnprocessableError(corporateOnly ? 'not_corporate' : 'not_eligible', `this sequence takes ${version.eligibility.customerTypes.join(' or ')} people; this ${person.type} is ${person.customerType}`, 'customerType');
  }
  if (person.status !== 'open') return new ConflictError('lead_closed', `${person.type} ${person.id} is already ${person.status}`, undefined, { leadStatus: person.status });
  const emails = version.steps.some((s) => s.type === 'email');
  if (emails && person.doNotEmailAt) return new ConflictError('do_not_email', `${person.type} ${person.id} unsubscribed on ${person.doNotEmailAt}; a sequence with emails cannot enroll them`);
  if (emails && !person.email) return new UnprocessableError('email_required', 'the sequence sends emails: give the person an email address first', 'email');
  return null;
}
