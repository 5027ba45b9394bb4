/**
 * The cell typing of `domain/customers/values.ts` and the row rules of `parseRow`
 * (`domain/customers/mapping.ts`) as one set-based SQL statement over a raw stage (the file's
 * fields as text, `c1 … cn`, COPYed by PostgreSQL itself): trimmed like JavaScript's `trim()`,
 * dates, money, numbers, yes/no and e-mail addresses typed, each value that does not parse left
 * empty and reported with its column and the same message as the JavaScript parser gives, and
 * each row that cannot load (no key, a key too long, a purchase without a valid date or total)
 * given its reason. `pg_input_is_valid` (PostgreSQL 16+) tells a real date from an impossible one.
 *
 * The JavaScript parsers stay the reference: test/customers/typingSql.test.ts runs both on the
 * same cells.
 */
import { DEFAULT_DATE_FORMATS, type ValueType } from '../../domain/customers/values';
import type { BoundLayout } from '../../domain/customers/mapping';

/** The characters JavaScript's `String.prototype.trim` removes. */
const JS_WHITESPACE = ' \t\n\u000b\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
const NOT_SPACE_OR_AT = `[^${JS_WHITESPACE.replace('\t', '\\t').replace('\n', '\\n').replace('\f', '\\f').replace('\r', '\\r').replace('\u000b', '\\v')}@]`;

/** A SQL string literal (standard_conforming_strings: backslashes are plain). */
export const lit = (text: string): string => `'${text.replaceAll("'", "''")}'`;

const REQUIRED_PURCHASE = ['purchasedOn', 'total'] as const;
const MAX_KEY_LENGTH = 200;

/**
 * A date format of values.ts as a SQL test (a regular expression without captures, which
 * PostgreSQL matches several times faster than one with them) and the ISO text it makes of `v`:
 * `split_part` when one separator parts the tokens, `substr` when every token has a fixed
 * width, `regexp_replace` otherwise.
 */
function datePattern(format: string, v: string): { regex: string; iso: string } {
  const parts = format.match(/YYYY|MM|M|DD|D|[^YMD]+|[YMD]/g) ?? [];
  const tokens = parts.filter((p) => /^(YYYY|MM|M|DD|D)$/.test(p));
  const separators = parts.filter((p) => !tokens.includes(p));
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const shape: Record<string, string> = { YYYY: '[1-9]\\d{3}', MM: '\\d{2}', M: '\\d{1,2}', DD: '\\d{2}', D: '\\d{1,2}' };
  const regex = `^${parts.map((p) => shape[p] ?? escape(p)).join('')}$`;
  const slot = (letter: string) => tokens.findIndex((t) => t[0] === letter);
  const separator = separators[0];
  const alternating = parts.every((p, i) => (i % 2 === 0 ? tokens.includes(p) : p === separator)) && parts.length % 2 === 1;
  let piece: (index: number) => string;
  if (alternating && separator && separator.length === 1 && !/\d/.test(separator)) {
    piece = (index) => `split_part(${v}, ${lit(separator)}, ${index + 1})`;
  } else if (tokens.every((t) => t.length !== 1)) {
    const offsets: number[] = [];
    let at = 1;
    for (const p of parts) {
      if (tokens.includes(p)) offsets.push(at);
      at += p.length;
    }
    piece = (index) => `substr(${v}, ${offsets[index]}, ${tokens[index].length})`;
  } else {
    const capture = `^${parts.map((p) => (shape[p] ? `(${shape[p]})` : escape(p))).join('')}$`;
    piece = (index) => `regexp_replace(${v}, ${lit(capture)}, ${lit(`\\${index + 1}`)})`;
  }
  return { regex, iso: `${piece(slot('Y'))} || '-' || ${piece(slot('M'))} || '-' || ${piece(slot('D'))}` };
}

const ISO_TIMESTAMP = '^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?$';
const MONEY = '^[+-]?\\$?\\s*(?:\\d{1,3}(?:,\\d{3})+|\\d+)(?:\\.\\d{1,2})?$';
const INTEGER = '^[+-]?(?:\\d{1,3}(?:,\\d{3})+|\\d+)$';
const DECIMAL = '^[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?$';
const EMAIL = `^${NOT_SPACE_OR_AT}+@${NOT_SPACE_OR_AT}+\\.${NOT_SPACE_OR_AT}+$`;

/** The typed value of trimmed text `v` (null when empty or when it does not parse). */
function typedValue(type: ValueType, v: string, formats?: readonly string[]): string {
  switch (type) {
    case 'date': {
      const arms = (formats ?? DEFAULT_DATE_FORMATS).map((format) => {
        if (format === 'ISO') {
          return `when ${v} ~ '^[1-9]\\d{3}-\\d{2}-\\d{2}$' and pg_input_is_valid(${v}, 'date') then ${v}::date
            when ${v} ~ ${lit(ISO_TIMESTAMP)} and pg_input_is_valid(${v}, 'timestamptz') then (${v}::timestamptz at time zone 'UTC')::date`;
        }
        const { regex, iso } = datePattern(format, v);
        return `when ${v} ~ ${lit(regex)} and pg_input_is_valid(${iso}, 'date') then (${iso})::date`;
      });
      return `case ${arms.join(' ')} end`;
    }
    case 'money':
      return `case when ${v} ~ ${lit(MONEY)} then (case when left(${v}, 1) = '-' then -1 else 1 end * replace(regexp_replace(${v}, '^[+-]?\\$?\\s*', ''), ',', '')::numeric * 100) end`;
    case 'integer':
      return `case when ${v} ~ ${lit(INTEGER)} then replace(${v}, ',', '')::numeric end`;
    case 'decimal':
      return `case when ${v} ~ ${lit(DECIMAL)} and pg_input_is_valid(${v}, 'float8') then ${v}::float8 end`;
    case 'boolean':
      return `case when lower(${v}) in ('yes', 'y', 'true', 't', '1') then true when lower(${v}) in ('no', 'n', 'false', 'f', '0') then false end`;
    case 'email':
      return `case when ${v} ~ ${lit(EMAIL)} then ${v} end`;
    default:
      return v;
  }
}

/** Whether the typed value `t` of text `v` is in range (money and integers can overflow). */
function inRange(type: ValueType, t: string): string {
  if (type === 'money') return `abs(${t}) <= 9007199254740991`;
  if (type === 'integer') return `abs(${t}) <= 2147483647`;
  return 'true';
}

/** The message values.ts gives for text `v` that does not parse (`t`: its typed value or null). */
function badMessage(type: ValueType, v: string, t: string, formats?: readonly string[]): string {
  const quoted = `'"' || ${v} || '"'`;
  switch (type) {
    case 'date':
      return `${quoted} || ${lit(` is not a date (${(formats ?? DEFAULT_DATE_FORMATS).join(' or ')})`)}`;
    case 'money':
      return `${quoted} || case when ${t} is null then ' is not an amount of money (at most two decimals)' else ' is too large' end`;
    case 'integer':
      return `${quoted} || case when ${t} is null then ' is not a whole number' else ' is out of range' end`;
    case 'decimal':
      return `${quoted} || ' is not a number'`;
    case 'boolean':
      return `${quoted} || ' is not yes/no'`;
    case 'email':
      return `${quoted} || ' is not an e-mail address'`;
    default:
      return `''`;
  }
}

/** The typed value as the stage column holds it (`t` in range). */
function stored(type: ValueType, t: string): string {
  if (type === 'money') return `${t}::bigint`;
  if (type === 'integer') return `${t}::integer`;
  return t;
}

/** The value as the JSON of `extra` holds it (as JSON.stringify wrote it). */
function asJson(type: ValueType, t: string): string {
  if (type === 'date') return `to_jsonb(to_char(${t}, 'YYYY-MM-DD'))`;
  if (type === 'money' || type === 'integer') return `to_jsonb(${t}::bigint)`;
  return `to_jsonb(${t})`;
}

export const PERSON_TYPED = [
  ['first_name', 'firstName', 'text'], ['last_name', 'lastName', 'text'], ['full_name', 'fullName', 'text'], ['email', 'email', 'text'],
  ['phone', 'phone', 'text'], ['date_of_birth', 'dateOfBirth', 'date'], ['gender', 'gender', 'text'], ['postal_code', 'postalCode', 'text'],
  ['street', 'street', 'text'], ['city', 'city', 'text'], ['state', 'state', 'text'], ['country', 'country', 'text'],
  ['created_on', 'createdOn', 'date'], ['reward_points', 'rewardPoints', 'integer'],
] as const;
export const PURCHASE_TYPED = [['product_id', 'productId', 'text'], ['purchased_on', 'purchasedOn', 'date'], ['total_cents', 'total', 'bigint'], ['points_added', 'pointsAdded', 'integer']] as const;

interface Cell {
  /** Name of the trimmed text and of the typed value in the inner selects. */
  v: string;
  t: string;
  column: string;
  type: ValueType;
  formats?: readonly string[];
  attribute?: string;
}

/**
 * `create temp table <typed> as …` over the raw stage's accepted rows (`reason is null`): line,
 * source_key, row_reason / row_column / row_message (null: the row loads), the typed columns of
 * the kind's stage, and the values left out (`bad_columns`, `bad_messages`, aligned).
 */
export function typingStatement(layout: BoundLayout, raw: string, typed: string): string {
  const { mapping } = layout;
  const kind = mapping.kind;
  const trimmed = (index: number) => `nullif(btrim(c${index + 1}, ${lit(JS_WHITESPACE)}), '')`;
  const cells: Cell[] = [
    ...layout.attributes.map((a, i) => ({ v: `v${i}`, t: `t${i}`, column: a.column, type: a.type, formats: a.formats, attribute: a.attribute })),
    ...layout.extras.map((e, i) => ({ v: `ve${i}`, t: `te${i}`, column: e.column, type: e.type, formats: e.formats })),
  ];
  const indexOf = (cell: Cell) => (cell.attribute !== undefined ? layout.attributes[Number(cell.v.slice(1))].index : layout.extras[Number(cell.v.slice(2))].index);

  // Level 1: trimmed text. Level 2: typed values. Level 3: rows, reasons, stage columns. (offset 0
  // keeps each level evaluated once per row instead of inlined into every use.)
  const level1 = [
    'line',
    `${trimmed(layout.keyIndex)} as k`,
    ...cells.map((c) => `${trimmed(indexOf(c))} as ${c.v}`),
    ...layout.links.map((l, i) => `${trimmed(l.index)} as l${i}`),
    ...(layout.customer ? [`${trimmed(layout.customer.index)} as ck`] : []),
  ];
  const level2 = [
    'line', 'k',
    ...cells.flatMap((c) => [c.v, `${typedValue(c.type, c.v, c.formats)} as ${c.t}`]),
    ...layout.links.map((_, i) => `l${i}`),
    ...(layout.customer ? ['ck'] : []),
  ];
  const bad = (c: Cell) => (c.type === 'text' ? 'false' : `(${c.v} is not null and (${c.t} is null or not (${inRange(c.type, c.t)})))`);
  const ok = (c: Cell) => (c.type === 'text' ? c.t : `case when ${inRange(c.type, c.t)} then ${stored(c.type, c.t)} end`);

  // Row reasons, in parseRow's order.
  const reasons: Array<[string, string, string, string]> = [
    ['k is null', 'missing_key', lit(mapping.key), lit(`${mapping.key} is empty`)],
    [`length(k) > ${MAX_KEY_LENGTH}`, 'invalid_value', lit(mapping.key), lit(`${mapping.key} is longer than ${MAX_KEY_LENGTH} characters`)],
  ];
  const required: readonly string[] = kind === 'purchase' ? REQUIRED_PURCHASE : [];
  for (const c of cells) {
    if (c.attribute && required.includes(c.attribute) && c.type !== 'text') {
      reasons.push([bad(c), 'invalid_value', lit(c.column), `${lit(`${c.column}: `)} || ${badMessage(c.type, c.v, c.t, c.formats)}`]);
    }
  }
  // The last column mapped to an attribute is the one whose value counts (as in parseRow).
  const valueOf = (attribute: string): string | null => {
    const last = cells.filter((c) => c.attribute === attribute).at(-1);
    return last ? ok(last) : null;
  };
  for (const attribute of required) {
    const column = layout.attributes.find((a) => a.attribute === attribute)?.column ?? attribute;
    reasons.push([`${valueOf(attribute) ?? 'null'} is null`, 'missing_value', lit(column), lit(`${column} is empty`)]);
  }
  const pick = (i: 1 | 2 | 3) => `case ${reasons.map((r) => `when ${r[0]} then ${i === 1 ? lit(r[1]) : r[i]}`).join(' ')} end`;

  const extraPairs = cells.filter((c) => !c.attribute).map((c) => `${lit(c.column)}, case when not ${bad(c)} then ${asJson(c.type, ok(c))} end`);
  const extraGroups: string[] = [];
  for (let i = 0; i < extraPairs.length; i += 40) extraGroups.push(`jsonb_build_object(${extraPairs.slice(i, i + 40).join(', ')})`);
  const extra = extraGroups.length ? `jsonb_strip_nulls(${extraGroups.join(' || ')})` : `'{}'::jsonb`;

  const columns = kind === 'person' ? PERSON_TYPED : PURCHASE_TYPED;
  const typedColumns = columns.map(([name, attribute, type]) => {
    const sqlType = type === 'text' ? 'text' : type === 'date' ? 'date' : type === 'integer' ? 'integer' : 'bigint';
    return `${valueOf(attribute) ?? 'null'}::${sqlType} as ${name}`;
  });
  const linkPairs = layout.links.map((l, i) => `${lit(l.source)}, l${i}`);
  const stageColumns = kind === 'person'
    ? [...typedColumns, linkPairs.length ? `jsonb_strip_nulls(jsonb_build_object(${linkPairs.join(', ')})) as links` : `'{}'::jsonb as links`, `${extra} as extra`]
    : [
      `${layout.customer ? `case when ck is not null then ${lit(layout.customer.source)} end` : 'null'}::text as customer_source`,
      `${layout.customer ? 'ck' : 'null'}::text as customer_key`,
      ...typedColumns, `${extra} as extra`,
    ];
  const checked = cells.filter((c) => c.type !== 'text');
  const anyBad = checked.length ? checked.map(bad).join(' or ') : 'false';
  const badColumns = `case when ${anyBad} then array_remove(array[${checked.map((c) => `case when ${bad(c)} then ${lit(c.column)} end`).join(', ') || 'null'}]::text[], null) end`;
  const badMessages = `case when ${anyBad} then array_remove(array[${checked.map((c) => `case when ${bad(c)} then ${lit(`${c.column}: `)} || ${badMessage(c.type, c.v, c.t, c.formats)} end`).join(', ') || 'null'}]::text[], null) end`;

  return `create temp table ${typed} on commit drop as
    select line, k as source_key, ${pick(1)} as row_reason, ${pick(2)} as row_column, ${pick(3)} as row_message,
      ${stageColumns.join(',\n      ')},
      ${badColumns} as bad_columns, ${badMessages} as bad_messages
    from (
      select ${level2.join(', ')}
      from (select ${level1.join(', ')} from ${raw} where reason is null offset 0) l1
      offset 0
    ) l2`;
}
