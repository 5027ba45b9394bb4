/**
 * The streaming import of customer CSV files (used by `npm run import` and `POST /imports`).
 *
 * One import is one database transaction on one dedicated connection, so a failed or refused
 * import changes nothing. Each file streams through: line-end normalisation → a fast record
 * splitter (db/csvScan.ts: lines, field counts, broken records; csv-parse from the first
 * irregular record on) → `COPY … (FORMAT csv)` of the records as they stand into a temporary
 * raw stage (text columns, PostgreSQL splits the fields) with each record's line; rows that are
 * broken (wrong column count, bad encoding, a wrong header, unreadable CSV) go in as rejects with
 * their raw text. Set-based SQL then types every cell (db/customers/typingSql.ts: the rules of
 * domain/customers/values.ts, `pg_input_is_valid` for dates), rejects rows without a usable key
 * or a purchase's date or total, leaves out (and reports) any other value that does not parse,
 * rejects duplicate keys (the first occurrence wins), files the rejects, and upserts the accepted
 * rows by source key, touching a stored row only when its content hash changed — so re-importing a
 * file changes nothing and a newer file updates exactly what differs. Into an empty table (a first
 * load) the rows go without its secondary indexes and foreign keys, rebuilt once before the commit.
 * Memory stays flat whatever the file size.
 */
import crypto from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../../config/logger';
import type { Db } from '../knex';
import { clipRaw, normaliseText } from '../csvStream';
import { csvScanner, type ScannedRecord } from '../csvScan';
import { bindHeader, type BoundLayout, type RejectReason, type SourceMapping } from '../../domain/customers/mapping';
import { lit, typingStatement } from './typingSql';

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
  /**
   * Where the time went: splitting and COPY into the raw stage, typing in SQL, the duplicate
   * check, filing rejects, the upsert.
   */
  timings: Record<ImportStep, number>;
}

export type ImportStep = 'stream' | 'type' | 'duplicates' | 'rejects' | 'upsert';

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

/** A COPY (FORMAT csv) field: quoted, so empty text stays text; NUL (which COPY refuses) shown as U+FFFD. */
function csvField(text: string): string {
  const storable = text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
  return `"${storable.includes('"') ? storable.replaceAll('"', '""') : storable}"`;
}

const BAD_TEXT = /[\u0000\uFFFD]/;

/** The typed columns of each kind's stage (what typingSql.ts makes; the upsert copies them). */
const PERSON_STAGE = [
  'first_name text', 'last_name text', 'full_name text', 'email text', 'phone text', 'date_of_birth date', 'gender text',
  'postal_code text', 'street text', 'city text', 'state text', 'country text', 'created_on date', 'reward_points integer',
  'links jsonb', 'extra jsonb',
];
const PURCHASE_STAGE = ['customer_source text', 'customer_key text', 'product_id text', 'purchased_on date', 'total_cents bigint', 'points_added integer', 'extra jsonb'];

export interface ImportSession {
  readonly id: string;
  loadFile(input: ImportFileInput): Promise<FileSummary>;
  /** Publishes everything loaded so far in one commit. */
  commit(): Promise<ImportTotals>;
  /** Time the commit spent building the indexes and constraints a first load deferred (ms). */
  rebuildMs(): number;
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
  let lastRebuildMs = 0;
  /** Per target table: what to rebuild before the commit (empty: nothing was deferred). */
  const deferred = new Map<string, string[]>();

  async function loadFile(input: ImportFileInput): Promise<FileSummary> {
    const { mapping, fileName } = input;
    if (files.some((f) => f.source === mapping.source)) {
      throw new Error(`source "${mapping.source}" appears twice in one import`);
    }
    const started = Date.now();
    const n = ++stageCount;
    const raw = `customer_import_raw_${n}`;
    const stage = `customer_import_stage_${n}`;
    const kind = mapping.kind;
    const d = mapping.delimiter;

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

    // The raw stage has one text column per header column once the header fits the mapping (else none).
    const width = () => (layout ? (layout as BoundLayout).header.length : 0);
    const reject = (line: number, key: string | null, reason: RejectReason, column: string | null, message: string, text: string): string => {
      rejectedInStream++;
      const fields = [String(line), csvField(clipRaw(text)), reason, column === null ? '' : csvField(column), csvField(message), key ? csvField(key) : ''];
      return `${fields.join(d)}${d.repeat(width())}\n`;
    };
    const split = (r: ScannedRecord) => r.fields ?? r.text.split(d);
    const sink = {
      record(r: ScannedRecord): string {
        if (!headerSeen) {
          headerSeen = true;
          const names = split(r);
          if (names.some((name) => BAD_TEXT.test(name))) {
            // A UTF-16 or binary file: its header cannot even be read, so no row of it can.
            headerReason = 'invalid_encoding';
            headerError = 'the file is not UTF-8 text (UTF-16 or binary?): save it as UTF-8 CSV';
            return '';
          }
          const bound = bindHeader(mapping, names);
          if (bound.ok) layout = bound.layout;
          else headerError = bound.message;
          return '';
        }
        rowsRead++;
        report();
        const bound = layout as BoundLayout | null;
        if (!bound) return reject(r.line, null, headerReason, null, headerReason === 'wrong_header' ? `wrong header: ${headerError}` : headerError ?? '', r.text);
        if (r.fieldCount !== bound.header.length || BAD_TEXT.test(r.text)) {
          const fields = split(r);
          const key = bound.keyIndex < fields.length ? fields[bound.keyIndex]?.trim() || null : null;
          if (fields.length !== bound.header.length) return reject(r.line, key, 'wrong_column_count', null, `expected ${bound.header.length} columns, found ${fields.length}`, r.text);
          // NUL is valid UTF-8 but never text: it is what a UTF-16 file or a binary one looks like.
          const at = fields.findIndex((f) => BAD_TEXT.test(f));
          const message = fields[at].includes('\u0000') ? 'the text holds NUL bytes: the file is not UTF-8 text (UTF-16 or binary?)' : 'the text is not valid UTF-8';
          return reject(r.line, key, 'invalid_encoding', bound.header[at].trim(), message, r.text);
        }
        // The record as it stands when COPY reads it into the same fields; its raw text rides along
        // only when it holds quotes (else the fields joined by the delimiter give it back).
        if (r.copyable) return `${r.line}${d}${r.fields ? csvField(clipRaw(r.text)) : ''}${d}${d}${d}${d}${d}${r.text}\n`;
        return `${r.line}${d}${csvField(clipRaw(r.text))}${d}${d}${d}${d}${d}${r.fields!.map(csvField).join(d)}\n`;
      },
      broken(line: number, text: string, message: string): string {
        if (!headerSeen) {
          headerSeen = true;
          headerError = `the header line cannot be read: ${message}`;
        }
        rowsRead++;
        return reject(line, null, 'malformed_row', null, message, text);
      },
    };

    // COPY starts with the first chunk, when the header (always the first record) has set the stage's width.
    let stageReady: Promise<void> | null = null;
    const createStage = () => (stageReady ??= client.query(
      `create temp table ${raw} (line integer not null, raw text, reason text, column_name text, message text, source_key text${
        Array.from({ length: width() }, (_, i) => `, c${i + 1} text`).join('')}) on commit drop`).then(() => undefined));
    let copy: Writable | null = null;
    const toStage = new Writable({
      decodeStrings: false,
      write(chunk: string, _enc, done) {
        const go = async () => {
          if (!copy) {
            await createStage();
            copy = client.query(copyFrom(`copy ${raw} from stdin with (format csv, delimiter ${lit(d)})`)) as unknown as Writable;
            copy.on('error', (error) => toStage.destroy(error));
          }
          if (!copy.write(chunk)) await new Promise((resolve) => copy!.once('drain', resolve));
        };
        go().then(() => done(), done);
      },
      final(done) {
        const go = async () => {
          if (!copy) return createStage();
          copy.end();
          await finished(copy);
        };
        go().then(() => done(), done);
      },
    });

    await pipeline(
      input.stream,
      normaliseText((chunk) => {
        bytes += chunk.length;
        sha.update(chunk);
      }),
      csvScanner(d, sink),
      toStage,
    );
    if (!headerSeen) headerError = 'the file is empty: no header line';
    report(true);
    const streamed = Date.now();

    // Typing and row rules in SQL; a file whose header does not fit has rejects only.
    const bound = layout as BoundLayout | null;
    const typedDefs = kind === 'person' ? PERSON_STAGE : PURCHASE_STAGE;
    if (bound) await client.query(typingStatement(bound, raw, stage));
    else await client.query(`create temp table ${stage} (line integer, source_key text, row_reason text, row_column text, row_message text, ${typedDefs.join(', ')}, bad_columns text[], bad_messages text[]) on commit drop`);
    const typedAt = Date.now();

    // Duplicate keys: the first occurrence in the file is loaded, later ones are rejected.
    await client.query(`
      update ${stage} s set row_reason = 'duplicate_key', row_column = ${lit(mapping.key)},
        row_message = 'duplicate key ' || s.source_key || ' (first seen on line ' || d.first_line || ')'
      from (
        select source_key, min(line) as first_line from ${stage} where row_reason is null group by source_key having count(*) > 1
      ) d
      where s.row_reason is null and s.source_key = d.source_key and s.line <> d.first_line`);
    const deduped = Date.now();

    // Raw text of a row rejected in SQL (or loaded without a value): kept by the stage when the
    // record held quotes, else its fields joined again.
    const rawText = `coalesce(r.raw, ${width() ? `array_to_string(array[${Array.from({ length: width() }, (_, i) => `r.c${i + 1}`).join(', ')}], ${lit(d)}, '')` : `''`})`;
    const clipped = `case when length(${rawText}) > 4000 then left(${rawText}, 4000) || '…' else ${rawText} end`;
    await client.query(`
      insert into customer_import_rejects (import_id, source, file_name, line, reason, column_name, message, raw, scope, source_key)
      select $1, $2, $3, line, reason, column_name, message, raw, scope, source_key from (
        select line, reason, column_name, message, raw, 'row' as scope, source_key from ${raw} where reason is not null
        union all
        select s.line, s.row_reason, s.row_column, s.row_message, ${clipped}, 'row', s.source_key
        from ${stage} s join ${raw} r on r.line = s.line where s.row_reason is not null
        union all
        select s.line, 'invalid_value', b.column_name, b.message, ${clipped}, 'value', s.source_key
        from ${stage} s join ${raw} r on r.line = s.line, unnest(s.bad_columns, s.bad_messages) as b(column_name, message)
        where s.row_reason is null and s.bad_columns is not null
      ) x order by line, scope, column_name`, [id, mapping.source, fileName]);
    const counted = await client.query<{ accepted: number; rejected: number; bad_values: number; reasons: Record<string, number> | null }>(
      `select count(*) filter (where row_reason is null)::int as accepted,
         coalesce(sum(cardinality(bad_columns)) filter (where row_reason is null), 0)::int as bad_values,
         (select count(*)::int from ${raw} where reason is not null) + count(*) filter (where row_reason is not null)::int as rejected,
         (select jsonb_object_agg(reason, n) from (
            select reason, count(*)::int as n from (select reason from ${raw} where reason is not null union all select row_reason from ${stage} where row_reason is not null) a group by reason
          ) g) as reasons
       from ${stage}`);
    const { accepted, rejected, bad_values: valuesRejected } = counted.rows[0];

    const filed = Date.now();
    const target = kind === 'person' ? 'customer_source_records' : 'customer_purchases';
    const [lock, update, insert] = kind === 'person'
      ? upsertStatements(target, 'source_key', PERSON_COLUMNS, stage)
      : upsertStatements(target, 'purchase_id', PURCHASE_COLUMNS, stage, { channel: lit(mapping.channel ?? '') });
    await client.query(lock, [mapping.source]);
    await deferIndexesOnFirstLoad(target);
    const hasRows = (await client.query<{ any: boolean }>(`select exists (select 1 from ${target} where source = $1) as any`, [mapping.source])).rows[0].any;
    let updated = 0;
    if (hasRows) {
      // Only a re-import joins the stage against stored rows: the planner needs the stage's statistics for it.
      await client.query(`analyze ${stage}`);
      updated = (await client.query<{ n: number }>(update, [mapping.source, id])).rows[0].n;
    }
    const inserted = (await client.query<{ n: number }>(insert, [mapping.source, id])).rows[0].n;
    const written = { inserted, updated };
    const summary: FileSummary = {
      source: mapping.source, fileName, mapping: mapping.source, bytes, sha256: sha.digest('hex'), headerError,
      rowsRead, rowsLoaded: accepted, rowsInserted: written.inserted, rowsUpdated: written.updated,
      rowsUnchanged: accepted - written.inserted - written.updated, rowsRejected: rejected, valuesRejected,
      rejectReasons: counted.rows[0].reasons ?? {},
      ms: Date.now() - started,
      timings: { stream: streamed - started, type: typedAt - streamed, duplicates: deduped - typedAt, rejects: filed - deduped, upsert: Date.now() - filed },
    };
    await client.query(
      `insert into customer_import_files (import_id, source, file_name, mapping, header, header_error, bytes, sha256, rows_read, rows_loaded, rows_inserted, rows_updated, rows_unchanged, rows_rejected, values_rejected, ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [id, summary.source, fileName, summary.mapping, JSON.stringify(bound?.header ?? null), headerError, bytes, summary.sha256,
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
      `select c.conname as name, pg_get_constraintdef(c.oid) as def from pg_constraint c
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

  async function rebuildDeferred(): Promise<number> {
    const started = Date.now();
    for (const statements of deferred.values()) for (const sql of statements) await client.query(sql);
    return Date.now() - started;
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
    rebuildMs: () => lastRebuildMs,
    async commit() {
      const t = totals();
      try {
        const rebuildMs = await rebuildDeferred();
        if (rebuildMs) log.debug({ importId: id, rebuildMs }, 'indexes and constraints deferred by a first load rebuilt');
        lastRebuildMs = rebuildMs;
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
 * Changed rows are updated and new rows inserted by two set-based statements (an update join and
 * an anti-join insert), cheaper than a row-by-row ON CONFLICT; imports of one source are
 * serialised by an advisory lock, so no other import can slip a key in between the two.
 */
function upsertStatements(target: 'customer_source_records' | 'customer_purchases', keyColumn: string, columns: string[], stage: string, fixed: Record<string, string> = {}): string[] {
  const hash = `md5(row(${columns.map((c) => `s.${c}`).join(', ')})::text)`;
  const fixedCols = Object.keys(fixed);
  return [
    `select pg_advisory_xact_lock(hashtext('customer-import:' || $1::text), 0)`,
    `with changed as (
       update ${target} t set ${[...columns, ...fixedCols].map((c) => `${c} = ${fixed[c] ?? `s.${c}`}`).join(', ')},
         row_hash = ${hash}, last_import_id = $2, line = s.line, updated_at = now()
       from ${stage} s
       where s.row_reason is null and t.source = $1 and t.${keyColumn} = s.source_key and t.row_hash is distinct from ${hash}
       returning 1
     ) select count(*)::int as n from changed`,
    `with added as (
       insert into ${target} (source, ${keyColumn}, ${[...columns, ...fixedCols].join(', ')}, row_hash, first_import_id, last_import_id, line)
       select $1, s.source_key, ${[...columns.map((c) => `s.${c}`), ...fixedCols.map((c) => fixed[c])].join(', ')}, ${hash}, $2, $2, s.line
       from ${stage} s
       where s.row_reason is null and not exists (select 1 from ${target} t where t.source = $1 and t.${keyColumn} = s.source_key)
       returning 1
     ) select count(*)::int as n from added`,
  ];
}
