/**
 * The standard customer model and the mapping files that put a CSV layout onto it (SPEC "Map").
 * A mapping is configuration (config/customer-mappings/<source>.json): which column is the
 * source key, which columns feed which standard attribute (with date formats where needed),
 * which columns name records of other sources, and which other columns to keep as typed extras.
 * A new CSV layout needs a new mapping file, not code. Reading the files from disk is
 * config/customers.ts; this module judges their content.
 *
 * The pure half of the importer lives here too: checking a header against a mapping and turning
 * one CSV record into a typed row or a reason to reject it.
 */
import { z } from 'zod';
import { parseValue, type ValueType } from './values';

export type SourceKind = 'person' | 'purchase';

/** The standard attributes of each kind of source, and their types. */
export const PERSON_ATTRIBUTES = {
  firstName: 'text',
  lastName: 'text',
  fullName: 'text',
  email: 'email',
  phone: 'text',
  dateOfBirth: 'date',
  gender: 'text',
  postalCode: 'text',
  street: 'text',
  city: 'text',
  state: 'text',
  country: 'text',
  createdOn: 'date',
  rewardPoints: 'integer',
} as const satisfies Record<string, ValueType>;

export const PURCHASE_ATTRIBUTES = {
  productId: 'text',
  purchasedOn: 'date',
  total: 'money',
  pointsAdded: 'integer',
} as const satisfies Record<string, ValueType>;

/** Purchase attributes a row cannot do without. */
const REQUIRED_PURCHASE_ATTRIBUTES = ['purchasedOn', 'total'] as const;

export type PersonAttribute = keyof typeof PERSON_ATTRIBUTES;
export type PurchaseAttribute = keyof typeof PURCHASE_ATTRIBUTES;

const columnSpec = z.union([
  z.string(),
  z.strictObject({
    attribute: z.string(),
    formats: z.array(z.string().min(1)).min(1).optional(),
    /** The column may be absent from the header (its attribute is then empty). */
    optional: z.boolean().optional(),
  }),
]);

const extraSpec = z.union([
  z.enum(['text', 'date', 'money', 'integer', 'decimal', 'boolean', 'email']),
  z.strictObject({
    type: z.enum(['text', 'date', 'money', 'integer', 'decimal', 'boolean', 'email']),
    formats: z.array(z.string().min(1)).min(1).optional(),
    optional: z.boolean().optional(),
  }),
]);

export const mappingSchema = z
  .strictObject({
    $comment: z.string().optional(),
    source: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'lower-case letters, digits and _'),
    label: z.string().min(1),
    kind: z.enum(['person', 'purchase']),
    channel: z.enum(['pos', 'online']).optional(),
    fileName: z.string().min(1),
    delimiter: z.string().length(1).default(','),
    key: z.string().min(1),
    columns: z.record(z.string(), columnSpec),
    /** Purchases: the column holding the key of the buyer's record, and that record's source. */
    customer: z.strictObject({ column: z.string(), source: z.string() }).optional(),
    /** Person records: columns holding keys of the same person in another source. */
    links: z.array(z.strictObject({ column: z.string(), source: z.string() })).default([]),
    extra: z.record(z.string(), extraSpec).default({}),
  })
  .superRefine((m, ctx) => {
    const catalog: Record<string, ValueType> = m.kind === 'person' ? PERSON_ATTRIBUTES : PURCHASE_ATTRIBUTES;
    for (const [column, spec] of Object.entries(m.columns)) {
      const attribute = typeof spec === 'string' ? spec : spec.attribute;
      if (!(attribute in catalog)) {
        ctx.addIssue({ code: 'custom', path: ['columns', column], message: `unknown ${m.kind} attribute "${attribute}" (known: ${Object.keys(catalog).join(', ')})` });
      }
    }
    if (m.kind === 'purchase') {
      if (!m.channel) ctx.addIssue({ code: 'custom', path: ['channel'], message: 'a purchase source needs a channel (pos or online)' });
      const mapped = new Set(Object.values(m.columns).map((s) => (typeof s === 'string' ? s : s.attribute)));
      for (const attribute of REQUIRED_PURCHASE_ATTRIBUTES) {
        if (!mapped.has(attribute)) ctx.addIssue({ code: 'custom', path: ['columns'], message: `a purchase source must map ${attribute}` });
      }
    }
    if (m.kind === 'person' && m.customer) ctx.addIssue({ code: 'custom', path: ['customer'], message: 'only purchase sources name a customer' });
  });

export type SourceMapping = z.infer<typeof mappingSchema>;

export class MappingError extends Error {
  override name = 'MappingError';
}

export function parseMapping(json: unknown, where: string): SourceMapping {
  const result = mappingSchema.safeParse(json);
  if (!result.success) {
    throw new MappingError(`${where}: ${result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// Header and rows.

interface BoundColumn {
  index: number;
  column: string;
  type: ValueType;
  formats?: string[];
}

export interface BoundLayout {
  mapping: SourceMapping;
  header: string[];
  keyIndex: number;
  attributes: Array<BoundColumn & { attribute: string }>;
  extras: BoundColumn[];
  links: Array<{ index: number; column: string; source: string }>;
  customer: { index: number; column: string; source: string } | null;
  /** Columns the header lacks although the mapping marks them optional. */
  missingOptional: string[];
}

const canonical = (name: string) => name.trim().replace(/\s+/g, ' ').toLowerCase();

/** Checks a header against a mapping: the binding, or what is wrong with the header. */
export function bindHeader(mapping: SourceMapping, header: string[]): { ok: true; layout: BoundLayout } | { ok: false; message: string } {
  const positions = new Map<string, number>();
  const duplicates: string[] = [];
  header.forEach((name, index) => {
    const key = canonical(name);
    if (positions.has(key)) duplicates.push(name.trim());
    else positions.set(key, index);
  });
  if (duplicates.length) return { ok: false, message: `the header repeats ${duplicates.map((d) => `"${d}"`).join(', ')}` };
  const missing: string[] = [];
  const missingOptional: string[] = [];
  const find = (column: string, optional = false): number => {
    const index = positions.get(canonical(column));
    if (index === undefined) (optional ? missingOptional : missing).push(column);
    return index ?? -1;
  };

  const keyIndex = find(mapping.key);
  const catalog: Record<string, ValueType> = mapping.kind === 'person' ? PERSON_ATTRIBUTES : PURCHASE_ATTRIBUTES;
  const attributes: BoundLayout['attributes'] = [];
  for (const [column, spec] of Object.entries(mapping.columns)) {
    const { attribute, formats, optional } = typeof spec === 'string' ? { attribute: spec, formats: undefined, optional: false } : spec;
    const index = find(column, optional);
    if (index >= 0) attributes.push({ index, column, attribute, type: catalog[attribute], formats });
  }
  const extras: BoundColumn[] = [];
  for (const [column, spec] of Object.entries(mapping.extra)) {
    const { type, formats, optional } = typeof spec === 'string' ? { type: spec, formats: undefined, optional: false } : spec;
    const index = find(column, optional);
    if (index >= 0) extras.push({ index, column, type, formats });
  }
  const links = mapping.links.map((l) => ({ ...l, index: find(l.column) }));
  const customer = mapping.customer ? { ...mapping.customer, index: find(mapping.customer.column) } : null;
  if (missing.length) {
    return { ok: false, message: `the header lacks ${[...new Set(missing)].map((m) => `"${m}"`).join(', ')} (mapping "${mapping.source}" expects them)` };
  }
  return { ok: true, layout: { mapping, header, keyIndex, attributes, extras, links, customer, missingOptional } };
}

/**
 * A value left out of a loaded row because it did not parse: the row loads with the attribute
 * empty, and the value is reported beside the rejected rows.
 */
export interface RejectedValue {
  column: string;
  reason: 'invalid_value';
  message: string;
}

export interface PersonRow {
  kind: 'person';
  sourceKey: string;
  values: Partial<Record<PersonAttribute, string | number | null>>;
  links: Record<string, string>;
  extra: Record<string, string | number | boolean>;
  rejectedValues: RejectedValue[];
}

export interface PurchaseRow {
  kind: 'purchase';
  sourceKey: string;
  values: Partial<Record<PurchaseAttribute, string | number | null>>;
  customerSource: string | null;
  customerKey: string | null;
  extra: Record<string, string | number | boolean>;
  rejectedValues: RejectedValue[];
}

export type RowResult =
  | { ok: true; row: PersonRow | PurchaseRow }
  | { ok: false; reason: RejectReason; column?: string; message: string };

/** Why a row was not loaded; stable codes shown by the CLI summary and `GET /imports/:id`. */
export type RejectReason =
  | 'malformed_row'
  | 'wrong_column_count'
  | 'wrong_header'
  | 'missing_key'
  | 'invalid_value'
  | 'missing_value'
  | 'invalid_encoding'
  | 'duplicate_key';

const MAX_KEY_LENGTH = 200;

export function parseRow(layout: BoundLayout, fields: string[]): RowResult {
  const { mapping } = layout;
  if (fields.length !== layout.header.length) {
    return { ok: false, reason: 'wrong_column_count', message: `expected ${layout.header.length} columns, found ${fields.length}` };
  }
  for (let i = 0; i < fields.length; i++) {
    // NUL is valid UTF-8 but never text: it is what a UTF-16 file or a binary one looks like.
    if (fields[i].includes('\u0000')) return { ok: false, reason: 'invalid_encoding', column: layout.header[i].trim(), message: 'the text holds NUL bytes: the file is not UTF-8 text (UTF-16 or binary?)' };
    if (fields[i].includes('\uFFFD')) return { ok: false, reason: 'invalid_encoding', column: layout.header[i].trim(), message: 'the text is not valid UTF-8' };
  }
  const sourceKey = fields[layout.keyIndex].trim();
  if (!sourceKey) return { ok: false, reason: 'missing_key', column: mapping.key, message: `${mapping.key} is empty` };
  if (sourceKey.length > MAX_KEY_LENGTH) return { ok: false, reason: 'invalid_value', column: mapping.key, message: `${mapping.key} is longer than ${MAX_KEY_LENGTH} characters` };

  // Only what the row cannot be without (its key, a purchase's date and total) rejects the row;
  // any other value that does not parse is left empty and reported, so one impossible birth date
  // does not lose the person.
  const required: readonly string[] = mapping.kind === 'purchase' ? REQUIRED_PURCHASE_ATTRIBUTES : [];
  const rejectedValues: RejectedValue[] = [];
  const values: Record<string, string | number | null> = {};
  for (const a of layout.attributes) {
    const parsed = parseValue(a.type, fields[a.index], a.formats);
    if (!parsed.ok) {
      const message = `${a.column}: ${parsed.message}`;
      if (required.includes(a.attribute)) return { ok: false, reason: 'invalid_value', column: a.column, message };
      rejectedValues.push({ column: a.column, reason: 'invalid_value', message });
      values[a.attribute] = null;
      continue;
    }
    values[a.attribute] = parsed.value as string | number | null;
  }
  const extra: Record<string, string | number | boolean> = {};
  for (const e of layout.extras) {
    const parsed = parseValue(e.type, fields[e.index], e.formats);
    if (!parsed.ok) {
      rejectedValues.push({ column: e.column, reason: 'invalid_value', message: `${e.column}: ${parsed.message}` });
      continue;
    }
    if (parsed.value !== null) extra[e.column] = parsed.value;
  }

  if (mapping.kind === 'purchase') {
    for (const attribute of REQUIRED_PURCHASE_ATTRIBUTES) {
      if (values[attribute] === null || values[attribute] === undefined) {
        const column = layout.attributes.find((a) => a.attribute === attribute)?.column ?? attribute;
        return { ok: false, reason: 'missing_value', column, message: `${column} is empty` };
      }
    }
    const customerKey = layout.customer ? fields[layout.customer.index].trim() || null : null;
    return {
      ok: true,
      row: { kind: 'purchase', sourceKey, values, customerSource: customerKey ? layout.customer!.source : null, customerKey, extra, rejectedValues },
    };
  }
  const links: Record<string, string> = {};
  for (const l of layout.links) {
    const key = fields[l.index].trim();
    if (key) links[l.source] = key;
  }
  return { ok: true, row: { kind: 'person', sourceKey, values, links, extra, rejectedValues } };
}
