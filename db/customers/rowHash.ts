/**
 * A stored record's `row_hash` computed in JavaScript: the md5 of the text PostgreSQL gives for
 * `row(first_name, …, extra)::text` over the typed stage columns (record_out: values joined by
 * commas in parentheses, quoted when empty or holding `"`, `\`, `(`, `)`, `,` or white space;
 * dates in ISO style; jsonb as jsonb_out writes it: keys by length then bytes, `", "` and `": "`
 * separators, numbers in plain decimal). Computed while the file streams, it spares the database
 * formatting and hashing every row; test/customers/importHash.test.ts holds it to SQL's value.
 */
import crypto from 'node:crypto';

export type HashValue = string | number | boolean | null | undefined | Record<string, string | number | boolean>;

// record_out quotes on scanner_isspace: ASCII white space only.
const NEEDS_QUOTES = /["\\(),\t\n\v\f\r ]/;

function recordField(text: string): string {
  if (text !== '' && !NEEDS_QUOTES.test(text)) return text;
  return `"${text.replace(/["\\]/g, '$&$&')}"`;
}

/** A JSON number as numeric_out prints it (plain decimal, no exponent). */
export function plainNumber(n: number): string {
  const text = JSON.stringify(n);
  if (text === 'null') return 'null';
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, whole, fraction = '', exp] = match;
  const digits = whole + fraction;
  const point = whole.length + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function plainJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92) return false;
  }
  return true;
}

function jsonString(text: string): string {
  if (plainJson(text)) return `"${text}"`;
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) out += '\\"';
    else if (c === 92) out += '\\\\';
    else if (c >= 32) out += text[i];
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else out += `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

/** jsonb's key order: shorter keys first, then by their UTF-8 bytes. */
function byJsonbOrder(a: string, b: string): number {
  const la = Buffer.byteLength(a);
  const lb = Buffer.byteLength(b);
  if (la !== lb) return la - lb;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The keys of an object in jsonb's order, remembered per key list (a file's rows share a few). */
const keyOrders = new Map<string, string[]>();

function jsonbKeys(object: object): string[] {
  const keys = Object.keys(object);
  if (keys.length < 2) return keys;
  const signature = keys.join('\u0000');
  let sorted = keyOrders.get(signature);
  if (!sorted) {
    sorted = [...keys].sort(byJsonbOrder);
    if (keyOrders.size > 10_000) keyOrders.clear();
    keyOrders.set(signature, sorted);
  }
  return sorted;
}

export function jsonbText(object: Record<string, string | number | boolean>): string {
  const keys = jsonbKeys(object);
  if (!keys.length) return '{}';
  return `{${keys.map((k) => {
    const v = object[k];
    return `${jsonString(k)}: ${typeof v === 'string' ? jsonString(v) : typeof v === 'number' ? plainNumber(v) : String(v)}`;
  }).join(', ')}}`;
}

/** `row(values…)::text` as PostgreSQL writes it. */
export function recordText(values: HashValue[]): string {
  let out = '(';
  for (let i = 0; i < values.length; i++) {
    if (i) out += ',';
    const v = values[i];
    if (v === null || v === undefined) continue;
    out += recordField(typeof v === 'object' ? jsonbText(v) : String(v));
  }
  return `${out})`;
}

/** `md5(row(values…)::text)`. */
export function rowHash(values: HashValue[]): string {
  return crypto.hash('md5', recordText(values));
}
