/**
 * Parsing of CSV cell text into typed values: dates (`M/D/YYYY`, ISO and any pattern built from
 * D, DD, M, MM, YYYY), money (to integer cents), integers, decimals, booleans and e-mail
 * addresses. A parser returns `{ ok: false, message }` instead of throwing: the importer turns
 * that into a rejected row naming the column.
 */
export type ValueType = 'text' | 'date' | 'money' | 'integer' | 'decimal' | 'boolean' | 'email';

export type Parsed<T> = { ok: true; value: T | null } | { ok: false; message: string };

const ok = <T>(value: T | null): Parsed<T> => ({ ok: true, value });
const bad = (message: string): Parsed<never> => ({ ok: false, message });

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || y < 1000 || y > 9999) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1]);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `ISO` accepts `YYYY-MM-DD` and ISO-8601 timestamps (the UTC date is kept). */
export const DEFAULT_DATE_FORMATS = ['M/D/YYYY', 'ISO'];

const compiled = new Map<string, RegExp>();

function patternFor(format: string): RegExp {
  let re = compiled.get(format);
  if (!re) {
    const source = format
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replace(/YYYY|MM|M|DD|D/g, (token) => ({ YYYY: '(?<y>\\d{4})', MM: '(?<m>\\d{2})', M: '(?<m>\\d{1,2})', DD: '(?<d>\\d{2})', D: '(?<d>\\d{1,2})' })[token]!);
    re = new RegExp(`^${source}$`);
    compiled.set(format, re);
  }
  return re;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** A calendar date as `YYYY-MM-DD`. */
export function parseDate(text: string, formats: readonly string[] = DEFAULT_DATE_FORMATS): Parsed<string> {
  const value = text.trim();
  if (!value) return ok(null);
  for (const format of formats) {
    if (format === 'ISO') {
      const plain = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
      if (plain) {
        const [y, m, d] = [Number(plain[1]), Number(plain[2]), Number(plain[3])];
        if (validDate(y, m, d)) return ok(value);
        continue;
      }
      if (ISO_TIMESTAMP.test(value)) {
        const ms = Date.parse(value.replace(' ', 'T'));
        if (!Number.isNaN(ms)) return ok(new Date(ms).toISOString().slice(0, 10));
      }
      continue;
    }
    const match = patternFor(format).exec(value);
    if (!match?.groups) continue;
    const [y, m, d] = [Number(match.groups.y), Number(match.groups.m), Number(match.groups.d)];
    if (validDate(y, m, d)) return ok(`${pad(y, 4)}-${pad(m)}-${pad(d)}`);
  }
  return bad(`"${value}" is not a date (${formats.join(' or ')})`);
}

/** Dollars and cents ("2516", "39.95", "$1,234.50", "-12.00") to integer cents. */
export function parseMoney(text: string): Parsed<number> {
  const value = text.trim();
  if (!value) return ok(null);
  const match = /^([+-])?\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/.exec(value);
  if (!match) return bad(`"${value}" is not an amount of money (at most two decimals)`);
  const units = Number(match[2].replace(/,/g, ''));
  const cents = units * 100 + Number((match[3] ?? '0').padEnd(2, '0'));
  if (!Number.isSafeInteger(cents)) return bad(`"${value}" is too large`);
  return ok(match[1] === '-' ? -cents : cents);
}

export function parseInteger(text: string): Parsed<number> {
  const value = text.trim();
  if (!value) return ok(null);
  if (!/^[+-]?(\d{1,3}(,\d{3})+|\d+)$/.test(value)) return bad(`"${value}" is not a whole number`);
  const n = Number(value.replace(/,/g, ''));
  if (!Number.isSafeInteger(n) || Math.abs(n) > 2_147_483_647) return bad(`"${value}" is out of range`);
  return ok(n);
}

export function parseDecimal(text: string): Parsed<number> {
  const value = text.trim();
  if (!value) return ok(null);
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value)) return bad(`"${value}" is not a number`);
  return ok(Number(value));
}

export function parseBoolean(text: string): Parsed<boolean> {
  const value = text.trim().toLowerCase();
  if (!value) return ok(null);
  if (['yes', 'y', 'true', 't', '1'].includes(value)) return ok(true);
  if (['no', 'n', 'false', 'f', '0'].includes(value)) return ok(false);
  return bad(`"${text.trim()}" is not yes/no`);
}

/** Kept as written (trimmed): only obviously broken addresses are refused. */
export function parseEmail(text: string): Parsed<string> {
  const value = text.trim();
  if (!value) return ok(null);
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return bad(`"${value}" is not an e-mail address`);
  return ok(value);
}

export function parseText(text: string): Parsed<string> {
  const value = text.trim();
  return ok(value ? value : null);
}

export function parseValue(type: ValueType, text: string, formats?: readonly string[]): Parsed<string | number | boolean> {
  switch (type) {
    case 'date':
      return parseDate(text, formats);
    case 'money':
      return parseMoney(text);
    case 'integer':
      return parseInteger(text);
    case 'decimal':
      return parseDecimal(text);
    case 'boolean':
      return parseBoolean(text);
    case 'email':
      return parseEmail(text);
    default:
      return parseText(text);
  }
}
