/**
 * How a lead file's columns are read (SPEC "Leads": a lead may be imported from a table): which
 * header names mean which lead field, which fields a file must have, and how an imported row is
 * keyed so that importing the same file again creates nothing.
 */

/** The lead fields a file may fill: the fields `POST /leads` accepts, plus the row's own id in the source. */
export const LEAD_COLUMNS = [
  'externalId', 'topic', 'firstName', 'lastName', 'email', 'mobilePhone', 'businessPhone', 'companyName', 'website',
  'street', 'city', 'postalCode', 'state', 'country', 'source', 'customerType', 'estimatedValueCents', 'ownerId',
] as const;
export type LeadColumn = (typeof LEAD_COLUMNS)[number];

/** The fields `POST /leads` requires: a file without one of these columns cannot give any lead. */
export const REQUIRED_LEAD_COLUMNS: readonly LeadColumn[] = ['topic', 'lastName', 'customerType'];

/**
 * Other names a header may use for a field. A header is compared case-, space- and
 * punctuation-insensitively, so `firstName`, `first_name`, `First Name` and `FIRST-NAME` are all
 * the field `firstName`.
 */
const ALIASES: Record<LeadColumn, string[]> = {
  externalId: ['external_id', 'external key', 'source id', 'crm id', 'lead id'],
  topic: ['subject', 'interest', 'product', 'product of interest'],
  firstName: ['given name', 'forename'],
  lastName: ['surname', 'family name'],
  email: ['email address', 'e-mail', 'mail'],
  mobilePhone: ['mobile', 'mobile number', 'cell', 'cell phone'],
  businessPhone: ['phone', 'work phone', 'telephone', 'phone number', 'business phone number'],
  companyName: ['company', 'organisation', 'organization', 'account name'],
  website: ['web site', 'url', 'homepage'],
  street: ['street address', 'address', 'address line 1'],
  city: ['town'],
  postalCode: ['zip', 'zip code', 'postcode', 'post code'],
  state: ['province', 'region'],
  country: [],
  source: ['lead source'],
  customerType: ['customer type', 'type'],
  estimatedValueCents: ['estimated value cents', 'value cents'],
  ownerId: ['owner', 'owner id', 'owner_id'],
};

const squash = (name: string): string => name.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');

const BY_NAME: ReadonlyMap<string, LeadColumn> = new Map(
  LEAD_COLUMNS.flatMap((field) => [field, ...ALIASES[field]].map((name) => [squash(name), field] as const)),
);

/** The field a header name means, or null for a column the import ignores. */
export function leadColumnOf(header: string): LeadColumn | null {
  return BY_NAME.get(squash(header)) ?? null;
}

export type HeaderBinding =
  | { ok: true; columns: Array<LeadColumn | null>; ignored: string[] }
  | { ok: false; code: 'wrong_header'; message: string };

/** Binds a header line: each column to its field (or none); refuses a header that names a field twice or lacks a required one. */
export function bindLeadHeader(header: readonly string[]): HeaderBinding {
  const columns = header.map((name) => leadColumnOf(name.trim()));
  const seen = new Map<LeadColumn, string>();
  for (const [i, field] of columns.entries()) {
    if (!field) continue;
    const earlier = seen.get(field);
    if (earlier !== undefined) return { ok: false, code: 'wrong_header', message: `the columns "${earlier}" and "${header[i]}" both mean ${field}` };
    seen.set(field, header[i]);
  }
  const missing = REQUIRED_LEAD_COLUMNS.filter((field) => !seen.has(field));
  if (missing.length) {
    return { ok: false, code: 'wrong_header', message: `the header line lacks ${missing.join(', ')} (got: ${header.map((h) => `"${h}"`).join(', ').slice(0, 500)})` };
  }
  return { ok: true, columns, ignored: header.filter((_, i) => columns[i] === null) };
}

/** An email as the duplicate check compares it: trimmed and lower-cased (as contacts are unique by). */
export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The key an imported lead is remembered by, so a re-import recognises it: the row's external id
 * when the file has one for it, else its email, else (a lead with neither, a trade-show card say)
 * a fingerprint of its content the caller computes. The prefixes keep the three kinds apart.
 */
export function leadImportKey(row: { externalId?: string | null; email?: string | null }, fingerprint: () => string): { key: string; by: 'externalId' | 'email' | 'content' } {
  const external = row.externalId?.trim();
  if (external) return { key: `external:${external}`, by: 'externalId' };
  if (row.email) return { key: `email:${emailKey(row.email)}`, by: 'email' };
  return { key: `content:${fingerprint()}`, by: 'content' };
}
