/**
 * Rows are snake_case with Date timestamps; domain objects are camelCase with ISO-8601 UTC strings.
 * The two helpers here are the only translation between them.
 */
const toCamel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const toSnake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function fromRow<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[toCamel(key)] = value instanceof Date ? value.toISOString() : value;
  return out as T;
}

/**
 * `fromRow` in SQL, for set-based writes of what a record looks like (an audit entry's `after`):
 * the row of `alias` as jsonb with camelCase keys, and its `timestamps` columns as `toISOString`
 * writes them (UTC, milliseconds, `Z`).
 */
export function rowJsonSql(alias: string, timestamps: readonly string[]): string {
  const isTimestamp = timestamps.length ? `e.k in (${timestamps.map((c) => `'${c.replace(/'/g, "''")}'`).join(', ')}) and e.v <> 'null'::jsonb` : 'false';
  return `(select jsonb_object_agg(
      lower(left(e.k, 1)) || substr(replace(initcap(replace(e.k, '_', ' ')), ' ', ''), 2),
      case when ${isTimestamp} then to_jsonb(to_char((e.v #>> '{}')::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) else e.v end)
    from jsonb_each(to_jsonb(${alias})) as e(k, v))`;
}

/** Drops undefined values, so a partial patch only touches the fields it names. */
export function toRow(values: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined) out[toSnake(key)] = value;
  return out;
}

/**
 * A `date` column as the API speaks it, `YYYY-MM-DD`. pg parses dates to local midnight, so the
 * calendar date is read back in local time (never through toISOString, which would shift it).
 */
export function dateOnly(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (!(value instanceof Date)) return String(value);
  return `${String(value.getFullYear()).padStart(4, '0')}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`;
}

/** fromRow, with the named `date` columns as `YYYY-MM-DD`. */
export function fromRowWithDates<T>(row: Record<string, unknown>, dateColumns: readonly string[]): T {
  const out = fromRow<Record<string, unknown>>(row);
  for (const column of dateColumns) if (column in row) out[toCamel(column)] = dateOnly(row[column]);
  return out as T;
}
