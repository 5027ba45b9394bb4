/** Schema pieces every area's routes share: ids, paging, money, timestamps. */
import { z } from 'zod';
import { MAX_AMOUNT_CENTS, MAX_QUANTITY, MAX_UNIT_PRICE_CENTS, dollars } from '../domain/money';
import { InvalidFieldError, NotFoundError } from '../domain/rejection';
import { isValidZone } from '../domain/sequences/time';

export const uuid = () => z.uuid();

/** Path `:id` params: a malformed id names nothing, so it is a 404 rather than a 400. */
export function idParams(entity: string) {
  return z.object({ id: z.string() }).transform(({ id }) => {
    if (!z.uuid().safeParse(id).success) throw new NotFoundError(entity, id);
    return { id };
  });
}

/**
 * A whole number in a query string: digits only (an empty value, `1e3`, ` 7` or `0x10` are
 * refused rather than read as some number), within bounds.
 */
export const queryInt = (min: number, max: number) =>
  z.string().regex(/^\d{1,16}$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const paging = {
  limit: queryInt(1, 200).default(50).describe('Page size (1-200)'),
  offset: queryInt(0, 1_000_000_000).default(0).describe('Items to skip'),
};

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), page: z.object({ limit: z.number(), offset: z.number(), total: z.number() }) });

/** A comma-separated list in a query string (`?type=email,task`), or the same key repeated. */
export function csv<T extends string>(values: readonly [T, ...T[]]) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)));
}

/** An amount in cents (an estimate, a revenue, a payment): 0 to MAX_AMOUNT_CENTS. */
export const cents = () =>
  z.number().int().min(0).max(MAX_AMOUNT_CENTS).describe(`Integer cents of US dollars, at most ${MAX_AMOUNT_CENTS} (${dollars(MAX_AMOUNT_CENTS)})`);
/** The price of one unit on a product line. */
export const unitPriceCents = () =>
  z.number().int().min(0).max(MAX_UNIT_PRICE_CENTS).describe(`Integer cents, at most ${MAX_UNIT_PRICE_CENTS} (${dollars(MAX_UNIT_PRICE_CENTS)}); the line after its discount may come to at most the same`);
/** Units on a product line. */
export const quantity = () => z.number().int().min(1).max(MAX_QUANTITY);
export const isoDateTime = () => z.iso.datetime({ offset: true });
/** A calendar date, `YYYY-MM-DD`. */
export const isoDate = () => z.iso.date();

/**
 * An email address as the document's `format: email` means it (RFC 5321 limits, which zod's
 * pattern does not check): at most 254 characters, at most 64 before the `@`, and a domain whose
 * labels are at most 63 characters and neither start nor end with a hyphen.
 */
export const emailAddress = () =>
  z.email().max(254).refine((value) => {
    const at = value.lastIndexOf('@');
    return at <= 64 && value.slice(at + 1).split('.').every((label) => label.length <= 63 && !label.startsWith('-') && !label.endsWith('-'));
  }, { message: 'not a deliverable email address (at most 64 characters before the @, domain labels at most 63)', params: { code: 'invalid_email' } });
export const text = (max = 200) => z.string().trim().min(1).max(max);
export const optionalText = (max = 200) => z.string().trim().max(max).nullable().optional().transform((v) => (v === '' ? null : v));

/** Drops keys whose value is undefined (absent optional fields), so defaults underneath survive a spread. */
export function definedOnly<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** A date something happened: not later than tomorrow (UTC), which leaves room for every US time zone. */
export function assertNotFuture(field: string, date: string): void {
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  if (date > tomorrow) throw new InvalidFieldError(field, 'in_future', `${field} cannot be in the future`);
}

/**
 * A calendar date that must not be later than today wherever the user is: the day it already is
 * in the zone furthest ahead (UTC+14). Stricter than assertNotFuture's "tomorrow in UTC", which
 * lets through a date that is tomorrow everywhere.
 */
export function assertNotAfterToday(field: string, date: string, now = Date.now()): void {
  const latest = new Date(now + 14 * 3_600_000).toISOString().slice(0, 10);
  if (date > latest) throw new InvalidFieldError(field, 'in_future', `${field} cannot be in the future (the latest date anywhere now is ${latest})`);
}

/** A missing or empty reason is the rule's 422 `reason_required`, not a malformed request. */
export const cancelReason = <T extends string>(values: readonly [T, ...T[]]) =>
  z.preprocess((v) => (v === '' || v === null ? undefined : v), z.enum(values).optional()).describe(`Required (422 \`reason_required\` without one): ${values.join(', ')}`);

/** An IANA time zone (sequence waits and send windows, issue 9). */
export const timeZone = () =>
  z.string().max(64).refine(isValidZone, { message: 'not an IANA time zone (e.g. America/New_York)', params: { code: 'invalid_time_zone' } })
    .describe('IANA time zone for sequence waits and send windows; null: the owner’s');
