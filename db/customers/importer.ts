/**
 * The streaming import of customer CSV files (used by `npm run import` and `POST /imports`).
 *
 * One import is one database transaction on one dedicated connection, so a failed or refused
 * import changes nothing. Each file streams through: line-end normalisation → a fast record
 * splitter (db/csvScan.ts: each record's line, field count and fields; csv-parse takes over from
 * the first irregular record) → the mapping (types parsed, row rejected or accepted, a value that
 * does not parse left out of its row) → `COPY` into a temporary staging table that holds accepted
 * rows, rejected rows and rejected values alike. Set-based SQL then rejects duplicate keys (the
 * first occurrence wins), files the rejected rows, and upserts the accepted ones by source key,
 * touching a stored row only when its content hash changed — so re-importing a file changes
 * nothing and a newer file updates exactly what differs. Into an empty table (a first load) the
 * rows go without its secondary indexes, unique constraints and foreign keys, built once before
 * the commit. Memory stays flat whatever the file size.
 */
import crypto from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../../config/logger';
import type { Db } from '../knex';
import { clipRaw, copyField, normaliseText } from '../csvStream';
import { csvScanner, type ScannedRecord } from '../csvScan';
import { rowHash, type HashValue } from './rowHash';
import { bindHeader, parseRow, type BoundLayout, type PersonRow, type PurchaseRow, type RejectReason, type SourceMapping } from '../../domain/customers/mapping';

/** One file's counts are the import's totals, for that file (`ImportTotals`), and more. */
export interface FileSummary extends ImportTotals {
  source: string;
  fileName: string;
  mapping: string;
  bytes: number;
  sha256: string;
  headerError: string | null;
  rejectReasons: Record<string, number>;
  ms: number;
  /** Where the time went: reading, typing and COPY into the stage, the duplicate check, filing rejects, the upsert. */
  timings: Record<ImportStep, number>;
}

export type ImportStep = 'stream' | 'duplicates' | 'rejects' | 'upsert';

export interface ImportProgress {
  source: string;
  fileName: string;
  bytesRead: number;
  totalBytes: number | null;
  rowsRead: number;
  rowsRejected: number;
}

export interface ImportFileInput {
  mapping: SourceMapping;
  fileName: string;
  stream: Readable;
  /** For progress bars, when known. */
  totalBytes?: number | null;
  onProgress?: (progress: ImportProgress) => void;
}

const PERSON_STAGE = [
  'first_name text', 'last_name text', 'full_name text', 'email text', 'phone text', 'date_of_birth date', 'gender text',
  'postal_code text', 'street text', 'city text', 'state text', 'country text', 'created_on date', 'reward_points integer',
  'links jsonb', 'extra jsonb',
];
const PERSON_VALUES = ['firstName', 'lastName', 'fullName', 'email', 'phone', 'dateOfBirth', 'gender', 'postalCode', 'street', 'city', 'state', 'country', 'createdOn', 'rewardPoints'] as const;
const PURCHASE_STAGE = ['customer_source text', 'customer_key text', 'product_id text', 'purchased_on date', 'total_cents bigint', 'points_added integer', 'extra jsonb'];
const COMMON_STAGE = ['line integer not null', 'kind char(1) not null', 'source_key text', 'row_hash text', 'reason text', 'column_name text', 'message text', 'raw text'];

const columnNames = (defs: string[]) => defs.map((d) => d.split(' ')[0]);

/** COPY text form of a typed value (never NUL: parseRow rejects text holding it). */
function copyValue(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value !== 'string') return String(value);
  return NEEDS_ESCAPE.test(value) ? copyField(value) : value;
}

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/**
 * An accepted row's stage line. Its raw text rides along only when the key may have been seen
 * before in the file (`maybeDuplicate`): a later occurrence is rejected with its raw text, the
 * first one loads and needs none.
 */
function acceptedLine(line: number, row: PersonRow | PurchaseRow, raw: string, maybeDuplicate: boolean): string {
  const head = `${line}\tr\t${copyValue(row.sourceKey)}\t`;
  const rawText = `\t\\N\t\\N\t\\N\t${maybeDuplicate ? copyField(clipRaw(raw)) : '\\N'}`;
  let text = '';
  let hashed: HashValue[];
  if (row.kind === 'person') {
    const v = row.values;
    hashed = PERSON_VALUES.map((k) => v[k]);
    for (const value of hashed) text += `\t${copyValue(value as string | number | null | undefined)}`;
    text += `\t${isEmpty(row.links) ? '{}' : copyValue(JSON.stringify(row.links))}\t${isEmpty(row.extra) ? '{}' : copyValue(JSON.stringify(row.extra))}\n`;
    hashed.push(row.links, row.extra);
  } else {
    const v = row.values;
    hashed = [row.customerSource, row.customerKey, v.productId, v.purchasedOn, v.total, v.pointsAdded];
    for (const value of hashed) text += `\t${copyValue(value as string | number | null | undefined)}`;
    text += `\t${isEmpty(row.extra) ? '{}' : copyValue(JSON.stringify(row.extra))}\n`;
    hashed.push(row.extra);
  }
  // The hash of the typed columns, as md5(row(…)::text) over them would give it.
  return head + rowHash(hashed) + rawText + text;
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/**
 * The keys seen so far in a file, as a Bloom filter: fixed memory whatever the file size, never
 * "no" for a key it holds (now and then "maybe" for one it does not).
 */
export class KeyFilter {
  private readonly bits = new Uint32Array(1 << 20);

  /** Adds the key; true when it may have been added before. */
  add(key: string): boolean {
    let h1 = 0x811c9dc5;
    let h2 = 0x9e3779b9;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    const mask = (1 << 25) - 1;
    return this.set(h1 & mask) & this.set((h1 + h2) & mask) & this.set((h1 + 2 * h2) & mask) ? true : false;
  }

  /** Sets a bit; 1 when it was set already. */
  private set(h: number): number {
    const word = h >>> 5;
    const bit = 1 << (h & 31);
    const was = this.bits[word] & bit;
    this.bits[word] |= bit;
    return was ? 1 : 0;
  }
}

/**
 * A stage line that is a report, not a row to load: `x` a rejected row, `v` a value left out of
 * the accepted row of the same line.
 */
function rejectedLine(kind: 'person' | 'purchase', line: number, sourceKey: string | null, reason: RejectReason, column: string | null, message: string, raw: string, mark: 'x' | 'v' = 'x'): string {
  const width = (kind === 'person' ? PERSON_STAGE : PURCHASE_STAGE).length;
  const fields = [line, mark, sourceKey, null, reason, column, message, clipRaw(raw), ...Array<null>(width).fill(null)];
  return `${fields.map(copyField).join('\t')}\n`;
}

export interface ImportSession {
  readonly id: string;
  loadFile(input: ImportFileInput): Promise<FileSummary>;
  /** Publishes everything loaded so far in one commit. */
  commit(): Promise<ImportTotals>;
  /** What the commit built of the indexes and constraints a first load set aside, and how long it took. */
  rebuilt(): { statements: number; ms: number };
  /** Rolls everything back; `discard` also removes the import record (a refused request). */
  abort(error: unknown, options?: { discard?: boolean }): Promise<void>;
}

export interface ImportTotals {
  rowsRead: number;
  rowsLoaded: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsUnchanged: number;
  rowsRejected: number;
  /** Values left out of loaded rows because they did not parse (each reported with its line and column). */
  valuesRejected: number;
}

export interface BeginImport {
  origin: 'cli' | 'api';
  createdBy?: string | null;
}

export async function beginImport(db: Db, log: Logger, options: BeginImport): Promise<ImportSession> {
  const [{ id }] = await db('customer_imports').insert({ origin: options.origin, created_by: options.createdBy ?? null }).returning('id');
  const client = (await db.client.acquireConnection()) as pg.Client;
  let released = false;
  const release = () => {
    if (!released) {
      released = true;
      db.client.releaseConnection(client);
    }
  };
  try {
    await client.query('begin');
    // Hash the duplicate check in memory; read a timestamp without offset in Node's zone, as Date.parse does.
    await client.query(`set local work_mem = '64MB'`);
    await client.query(`select set_config('timezone', $1, true)`, [Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC']);
  } catch (error) {
    release();
    throw error;
  }
  const files: FileSummary[] = [];
  let stageCount = 0;
  const lastRebuild = { statements: 0, ms: 0 };
  /** Per target table: what to rebuild before the commit (empty: nothing was deferred). */
  const deferred = new Map<string, string[]>();

  async function loadFile(input: ImportFileInput): Promise<FileSummary> {
    const { mapping, fileName } = input;
    if (files.some((f) => f.source === mapping.source)) {
      throw new Error(`source "${mapping.source}" appears twice in one import`);
    }
    const started = Date.now();
    const stage = `customer_import_stage_${++stageCount}`;
    const kind = mapping.kind;
    const typed = kind === 'person' ? PERSON_STAGE : PURCHASE_STAGE;
    await client.query(`create temporary table ${stage} (${[...COMMON_STAGE, ...typed].join(', ')}) on commit drop`);

    const sha = crypto.createHash('sha256');
    let bytes = 0;
    let rowsRead = 0;
    let rejectedInStream = 0;
    let layout: BoundLayout | null = null;
    let headerError: string | null = null;
    let headerReason: 'wrong_header' | 'invalid_encoding' = 'wrong_header';
    let headerSeen = false;
    let lastReport = 0;
    const report = (force = false) => {
      if (!input.onProgress) return;
      const now = Date.now();
      if (!force && now - lastReport < 200) return;
      lastReport = now;
      input.onProgress({ source: mapping.source, fileName, bytesRead: bytes, totalBytes: input.totalBytes ?? null, rowsRead, rowsRejected: rejectedInStream });
    };

    const keys = new KeyFilter();
    const sink = {
      record(r: ScannedRecord): string {
        const fields = r.fields ?? r.text.split(mapping.delimiter);
        if (!headerSeen) {
          headerSeen = true;
          if (fields.some((name) => name.includes('\u0000') || name.includes('\uFFFD'))) {
            // A UTF-16 or binary file: its header cannot even be read, so no row of it can.
            headerReason = 'invalid_encoding';
            headerError = 'the file is not UTF-8 text (UTF-16 or binary?): save it as UTF-8 CSV';
            return '';
          }
          const bound = bindHeader(mapping, fields);
          if (bound.ok) layout = bound.layout;
          else headerError = bound.message;
          return '';
        }
        rowsRead++;
        report();
        if (!layout) {
          rejectedInStream++;
          return rejectedLine(kind, r.line, null, headerReason, null, headerReason === 'wrong_header' ? `wrong header: ${headerError}` : headerError ?? '', r.text);
        }
        const result = parseRow(layout, fields);
        if (!result.ok) {
          rejectedInStream++;
          const key = layout.keyIndex < fields.length ? fields[layout.keyIndex]?.trim() || null : null;
          return rejectedLine(kind, r.line, key, result.reason, result.column ?? null, result.message, r.text);
        }
        let text = acceptedLine(r.line, result.row, r.text, keys.add(result.row.sourceKey));
        for (const v of result.row.rejectedValues) {
          text += rejectedLine(kind, r.line, result.row.sourceKey, v.reason, v.column, v.message, r.text, 'v');
        }
        return text;
      },
      broken(line: number, raw: string, message: string): string {
        if (!headerSeen) {
          headerSeen = true;
          headerError = `the header line cannot be read: ${message}`;
        }
        rowsRead++;
        rejectedInStream++;
        return rejectedLine(kind, line, null, 'malformed_row', null, message, raw);
      },
    };

    const copy = client.query(copyFrom(`copy ${stage} (${columnNames([...COMMON_STAGE, ...typed]).join(', ')}) from stdin`));
    await pipeline(
      input.stream,
      normaliseText((chunk) => {
        bytes += chunk.length;
        sha.update(chunk);
      }),
      csvScanner(mapping.delimiter, sink),
      copy as unknown as Writable,
    );
    if (!headerSeen) headerError = 'the file is empty: no header line';
    report(true);
    const streamed = Date.now();

    // Duplicate keys: the first occurrence in the file is loaded, later ones are rejected.
    const duplicates = await client.query(`
      update ${stage} s set kind = 'x', reason = 'duplicate_key', column_name = $1,
        message = 'duplicate key ' || s.source_key || ' (first seen on line ' || d.first_line || ')'
      from (
        select source_key, min(line) as first_line from ${stage} where kind = 'r' group by source_key having count(*) > 1
      ) d
      where s.kind = 'r' and s.source_key = d.source_key and s.line <> d.first_line`, [mapping.key]);
    // A row rejected as a duplicate is reported once, as a row: the values it would have lost go with it.
    if (duplicates.rowCount) await client.query(`delete from ${stage} v using ${stage} x where v.kind = 'v' and x.kind = 'x' and v.line = x.line`);
    const deduped = Date.now();
    await client.query(`
      insert into customer_import_rejects (import_id, source, file_name, line, reason, column_name, message, raw, scope, source_key)
      select $1, $2, $3, line, reason, column_name, message, raw, case kind when 'x' then 'row' else 'value' end, source_key
      from ${stage} where kind in ('x', 'v') order by line, kind desc, column_name`, [id, mapping.source, fileName]);
    const reasons = await client.query<{ reason: string; n: number }>(`select reason, count(*)::int as n from ${stage} where kind = 'x' group by reason`);
    const counted = await client.query<{ accepted: number; rejected: number; bad_values: number }>(
      `select count(*) filter (where kind = 'r')::int as accepted, count(*) filter (where kind = 'x')::int as rejected,
         count(*) filter (where kind = 'v')::int as bad_values from ${stage}`);
    const { accepted, rejected, bad_values: valuesRejected } = counted.rows[0];

    const filed = Date.now();
    const target = kind === 'person' ? 'customer_source_records' : 'customer_purchases';
    const [lock, update, insert, insertAll] = kind === 'person'
      ? upsertStatements(target, 'source_key', PERSON_COLUMNS, stage)
      : upsertStatements(target, 'purchase_id', PURCHASE_COLUMNS, stage, { channel: `'${mapping.channel}'` });
    await client.query(lock, [mapping.source]);
    await deferIndexesOnFirstLoad(target);
    // A source with no stored row yet (its first load) has nothing to update or to skip.
    const stored = (await client.query<{ any: boolean }>(`select exists (select 1 from ${target} where source = $1) as any`, [mapping.source])).rows[0].any;
    // Temporary tables get no statistics of their own: without them the planner guesses the joins with stored rows badly.
    if (stored) await client.query(`analyze ${stage}`);
    const updated = stored ? (await client.query<{ n: number }>(update, [mapping.source, id])).rows[0].n : 0;
    const inserted = (await client.query<{ n: number }>(stored ? insert : insertAll, [mapping.source, id])).rows[0].n;
    const written = { inserted, updated };
    const summary: FileSummary = {
      source: mapping.source, fileName, mapping: mapping.source, bytes, sha256: sha.digest('hex'), headerError,
      rowsRead, rowsLoaded: accepted, rowsInserted: written.inserted, rowsUpdated: written.updated,
      rowsUnchanged: accepted - written.inserted - written.updated, rowsRejected: rejected, valuesRejected,
      rejectReasons: Object.fromEntries(reasons.rows.map((r) => [r.reason, r.n])),
      ms: Date.now() - started,
      timings: { stream: streamed - started, duplicates: deduped - streamed, rejects: filed - deduped, upsert: Date.now() - filed },
    };
    await client.query(
      `insert into customer_import_files (import_id, source, file_name, mapping, header, header_error, bytes, sha256, rows_read, rows_loaded, rows_inserted, rows_updated, rows_unchanged, rows_rejected, values_rejected, ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [id, summary.source, fileName, summary.mapping, JSON.stringify((layout as BoundLayout | null)?.header ?? null), headerError, bytes, summary.sha256,
        rowsRead, accepted, written.inserted, written.updated, summary.rowsUnchanged, rejected, valuesRejected, summary.ms],
    );
    files.push(summary);
    log.debug({ importId: id, ...summary }, 'customer file loaded');
    return summary;
  }

  /**
   * A first load (the target table holds no row at all) writes its rows without the table's
   * secondary indexes, unique constraints and foreign keys, and builds them once at the commit:
   * far cheaper than maintaining them row by row. It takes the table's exclusive lock until the
   * commit (readers of the empty table wait for the import).
   */
  async function deferIndexesOnFirstLoad(target: string): Promise<void> {
    if (deferred.has(target)) return;
    const empty = !(await client.query<{ any: boolean }>(`select exists (select 1 from ${target}) as any`)).rows[0].any;
    const rebuild: string[] = [];
    deferred.set(target, rebuild);
    if (!empty) return;
    const constraints = await client.query<{ name: string; def: string }>(
      `select quote_ident(c.conname) as name, pg_get_constraintdef(c.oid) as def from pg_constraint c
       where c.conrelid = $1::regclass and (c.contype = 'f' or (c.contype = 'u'
         and not exists (select 1 from pg_constraint f where f.contype = 'f' and f.conindid = c.conindid)))
       order by c.contype desc, c.conname`, [target]);
    const indexes = await client.query<{ name: string; def: string }>(
      `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def from pg_index i
       where i.indrelid = $1::regclass and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
       order by 1`, [target]);
    if (constraints.rows.length) await client.query(`alter table ${target} ${constraints.rows.map((c) => `drop constraint ${c.name}`).join(', ')}`);
    if (indexes.rows.length) await client.query(`drop index ${indexes.rows.map((i) => i.name).join(', ')}`);
    rebuild.push(...indexes.rows.map((i) => i.def), ...constraints.rows.reverse().map((c) => `alter table ${target} add constraint ${c.name} ${c.def}`));
  }

  async function rebuildDeferred(): Promise<void> {
    const started = Date.now();
    for (const statements of deferred.values()) {
      for (const sql of statements) {
        await client.query(sql);
        lastRebuild.statements++;
      }
    }
    lastRebuild.ms = Date.now() - started;
    if (lastRebuild.statements) log.debug({ importId: id, ...lastRebuild }, 'indexes and constraints set aside by a first load rebuilt');
  }

  function totals(): ImportTotals {
    const sum = (k: keyof ImportTotals) => files.reduce((n, f) => n + f[k], 0);
    return {
      rowsRead: sum('rowsRead'), rowsLoaded: sum('rowsLoaded'), rowsInserted: sum('rowsInserted'),
      rowsUpdated: sum('rowsUpdated'), rowsUnchanged: sum('rowsUnchanged'), rowsRejected: sum('rowsRejected'),
      valuesRejected: sum('valuesRejected'),
    };
  }

  return {
    id,
    loadFile,
    rebuilt: () => ({ ...lastRebuild }),
    async commit() {
      const t = totals();
      try {
        await rebuildDeferred();
        await client.query(
          `update customer_imports set status = 'loaded', finished_at = now(), rows_read = $2, rows_loaded = $3, rows_inserted = $4,
             rows_updated = $5, rows_unchanged = $6, rows_rejected = $7, values_rejected = $8 where id = $1`,
          [id, t.rowsRead, t.rowsLoaded, t.rowsInserted, t.rowsUpdated, t.rowsUnchanged, t.rowsRejected, t.valuesRejected],
        );
        await client.query('commit');
      } finally {
        release();
      }
      return t;
    },
    async abort(error, options = {}) {
      try {
        await client.query('rollback');
      } catch {
        // The connection may be the thing that failed; the transaction is gone with it either way.
      } finally {
        release();
      }
      if (options.discard) await db('customer_imports').where({ id }).delete();
      else await db('customer_imports').where({ id }).update({ status: 'failed', finished_at: db.fn.now(), error: String((error as Error)?.message ?? error).slice(0, 2000) });
    },
  };
}

const PERSON_COLUMNS = ['first_name', 'last_name', 'full_name', 'email', 'phone', 'date_of_birth', 'gender', 'postal_code', 'street', 'city', 'state', 'country', 'created_on', 'reward_points', 'links', 'extra'];
const PURCHASE_COLUMNS = ['customer_source', 'customer_key', 'product_id', 'purchased_on', 'total_cents', 'points_added', 'extra'];

/**
 * The stage's `row_hash` (computed while streaming, rowHash.ts) is md5(row(columns…)::text).
 * Changed rows are updated and new rows inserted by two set-based statements (an update join and
 * an anti-join insert), cheaper than a row-by-row ON CONFLICT; imports of one source are
 * serialised by an advisory lock, so no other import can slip a key in between the two.
 */
function upsertStatements(target: 'customer_source_records' | 'customer_purchases', keyColumn: string, columns: string[], stage: string, fixed: Record<string, string> = {}): string[] {
  const fixedCols = Object.keys(fixed);
  return [
    `select pg_advisory_xact_lock(hashtext('customer-import:' || $1::text), 0)`,
    `with changed as (
       update ${target} t set ${[...columns, ...fixedCols].map((c) => `${c} = ${fixed[c] ?? `s.${c}`}`).join(', ')},
         row_hash = s.row_hash, last_import_id = $2, line = s.line, updated_at = now()
       from ${stage} s
       where s.kind = 'r' and t.source = $1 and t.${keyColumn} = s.source_key and t.row_hash is distinct from s.row_hash
       returning 1
     ) select count(*)::int as n from changed`,
    `with added as (
       insert into ${target} (source, ${keyColumn}, ${[...columns, ...fixedCols].join(', ')}, row_hash, first_import_id, last_import_id, line)
       select $1, s.source_key, ${[...columns.map((c) => `s.${c}`), ...fixedCols.map((c) => fixed[c])].join(', ')}, s.row_hash, $2, $2, s.line
       from ${stage} s
       where s.kind = 'r' and not exists (select 1 from ${target} t where t.source = $1 and t.${keyColumn} = s.source_key)
       returning 1
     ) select count(*)::int as n from added`,
    // The same insert when the source has no stored row: nothing to skip.
    `with added as (
       insert into ${target} (source, ${keyColumn}, ${[...columns, ...fixedCols].join(', ')}, row_hash, first_import_id, last_import_id, line)
       select $1, s.source_key, ${[...columns.map((c) => `s.${c}`), ...fixedCols.map((c) => fixed[c])].join(', ')}, s.row_hash, $2, $2, s.line
       from ${stage} s
       where s.kind = 'r'
       returning 1
     ) select count(*)::int as n from added`,
  ];
}
