/**
 * The streaming import of customer CSV files (used by `npm run import` and `POST /imports`).
 *
 * One import is one database transaction on one dedicated connection, so a failed or refused
 * import changes nothing. Each file streams through: line-end normalisation → csv-parse → the
 * mapping (types parsed, row rejected or accepted) → `COPY` into a temporary staging table that
 * holds accepted rows and rejected rows alike. Set-based SQL then rejects duplicate keys (the
 * first occurrence wins), files the rejected rows, and upserts the accepted ones by source key,
 * touching a stored row only when its content hash changed — so re-importing a file changes
 * nothing and a newer file updates exactly what differs. Memory stays flat whatever the file size.
 */
import crypto from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { parse, type CsvError } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { bindHeader, parseRow, type BoundLayout, type PersonRow, type PurchaseRow, type RejectReason, type SourceMapping } from './mapping';

export interface FileSummary {
  source: string;
  fileName: string;
  mapping: string;
  bytes: number;
  sha256: string;
  headerError: string | null;
  rowsRead: number;
  rowsLoaded: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsUnchanged: number;
  rowsRejected: number;
  rejectReasons: Record<string, number>;
  ms: number;
}

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

const MAX_RAW = 4000;

/** COPY text-format field. */
function copyField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
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

function rowHash(parts: unknown[]): string {
  return crypto.createHash('md5').update(JSON.stringify(parts)).digest('base64');
}

function acceptedLine(line: number, row: PersonRow | PurchaseRow, raw: string): string {
  const fields: Array<string | number | boolean | null | undefined> = [line, 'r', row.sourceKey];
  // The raw text rides along so that a later duplicate of this key can be rejected with it.
  const rawText = raw.length > MAX_RAW ? `${raw.slice(0, MAX_RAW)}…` : raw;
  if (row.kind === 'person') {
    const values = PERSON_VALUES.map((k) => row.values[k] ?? null);
    fields.push(rowHash([values, row.links, row.extra]), null, null, null, rawText, ...values, JSON.stringify(row.links), JSON.stringify(row.extra));
  } else {
    const v = row.values;
    const values = [row.customerSource, row.customerKey, v.productId ?? null, v.purchasedOn ?? null, v.total ?? null, v.pointsAdded ?? null];
    fields.push(rowHash([values, row.extra]), null, null, null, rawText, ...values, JSON.stringify(row.extra));
  }
  return `${fields.map(copyField).join('\t')}\n`;
}

function rejectedLine(kind: 'person' | 'purchase', line: number, sourceKey: string | null, reason: RejectReason, column: string | null, message: string, raw: string): string {
  const width = (kind === 'person' ? PERSON_STAGE : PURCHASE_STAGE).length;
  const fields = [line, 'x', sourceKey, null, reason, column, message, raw.length > MAX_RAW ? `${raw.slice(0, MAX_RAW)}…` : raw, ...Array<null>(width).fill(null)];
  return `${fields.map(copyField).join('\t')}\n`;
}

/** UTF-8 decoding, BOM removal and CRLF → LF, so csv-parse counts lines right. */
function normaliseText(onBytes: (chunk: Buffer) => void): Transform {
  const decoder = new StringDecoder('utf8');
  let first = true;
  let heldCr = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk);
      let text = (heldCr ? '\r' : '') + decoder.write(chunk);
      heldCr = text.endsWith('\r');
      if (heldCr) text = text.slice(0, -1);
      if (first && text.length) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      done(null, text.replace(/\r\n/g, '\n'));
    },
    flush(done) {
      done(null, (heldCr ? '\r' : '') + decoder.end());
    },
  });
}

/** The line a record starts on: csv-parse reports the line it ends on. */
function startLine(endLine: number, raw: string): number {
  const body = raw.replace(/^\n+/, '').replace(/\n$/, '');
  let inner = 0;
  for (let i = 0; i < body.length; i++) if (body.charCodeAt(i) === 10) inner++;
  return endLine - inner;
}

interface ParsedRecord {
  record: string[];
  raw: string;
  info: { lines: number };
}

export interface ImportSession {
  readonly id: string;
  loadFile(input: ImportFileInput): Promise<FileSummary>;
  /** Publishes everything loaded so far in one commit. */
  commit(): Promise<ImportTotals>;
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
  } catch (error) {
    release();
    throw error;
  }
  const files: FileSummary[] = [];
  let stageCount = 0;

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
    let headerSeen = false;
    let lastReport = 0;
    const report = (force = false) => {
      if (!input.onProgress) return;
      const now = Date.now();
      if (!force && now - lastReport < 200) return;
      lastReport = now;
      input.onProgress({ source: mapping.source, fileName, bytesRead: bytes, totalBytes: input.totalBytes ?? null, rowsRead, rowsRejected: rejectedInStream });
    };

    const toCopy = new Transform({
      writableObjectMode: true,
      transform(item: ParsedRecord, _enc, done) {
        const line = startLine(item.info.lines, item.raw);
        const raw = item.raw.replace(/^\n+/, '').replace(/\n$/, '');
        if (!headerSeen) {
          headerSeen = true;
          const bound = bindHeader(mapping, item.record);
          if (bound.ok) layout = bound.layout;
          else headerError = bound.message;
          return done();
        }
        rowsRead++;
        report();
        if (!layout) {
          rejectedInStream++;
          return done(null, rejectedLine(kind, line, null, 'wrong_header', null, `wrong header: ${headerError}`, raw));
        }
        const result = parseRow(layout, item.record);
        if (!result.ok) {
          rejectedInStream++;
          const key = layout.keyIndex < item.record.length ? item.record[layout.keyIndex]?.trim() || null : null;
          return done(null, rejectedLine(kind, line, key, result.reason, result.column ?? null, result.message, raw));
        }
        done(null, acceptedLine(line, result.row, raw));
      },
    });

    const parser = parse({
      delimiter: mapping.delimiter,
      relax_column_count: true,
      relax_quotes: true,
      skip_records_with_error: true,
      skip_empty_lines: true,
      info: true,
      raw: true,
    });
    parser.on('skip', (error: CsvError) => {
      const raw = String((error as unknown as { raw?: string }).raw ?? '');
      const line = startLine(Number(error.lines ?? 0), raw);
      if (!headerSeen) {
        headerSeen = true;
        headerError = `the header line cannot be read: ${error.message}`;
      }
      rowsRead++;
      rejectedInStream++;
      toCopy.push(rejectedLine(kind, line, null, 'malformed_row', null, error.message, raw.replace(/^\n+/, '').replace(/\n$/, '')));
    });

    const copy = client.query(copyFrom(`copy ${stage} (${columnNames([...COMMON_STAGE, ...typed]).join(', ')}) from stdin`));
    await pipeline(
      input.stream,
      normaliseText((chunk) => {
        bytes += chunk.length;
        sha.update(chunk);
      }),
      parser,
      toCopy,
      copy as unknown as Writable,
    );
    if (!headerSeen) headerError = 'the file is empty: no header line';
    report(true);

    // Duplicate keys: the first occurrence in the file is loaded, later ones are rejected.
    await client.query(`
      update ${stage} s set kind = 'x', reason = 'duplicate_key', column_name = $1,
        message = 'duplicate key ' || s.source_key || ' (first seen on line ' || d.first_line || ')'
      from (select line, min(line) over (partition by source_key) as first_line from ${stage} where kind = 'r') d
      where s.line = d.line and d.first_line <> s.line`, [mapping.key]);
    await client.query(`
      insert into customer_import_rejects (import_id, source, file_name, line, reason, column_name, message, raw)
      select $1, $2, $3, line, reason, column_name, message, raw from ${stage} where kind = 'x' order by line`, [id, mapping.source, fileName]);
    const reasons = await client.query<{ reason: string; n: number }>(`select reason, count(*)::int as n from ${stage} where kind = 'x' group by reason`);
    const counted = await client.query<{ accepted: number; rejected: number }>(
      `select count(*) filter (where kind = 'r')::int as accepted, count(*) filter (where kind = 'x')::int as rejected from ${stage}`);
    const { accepted, rejected } = counted.rows[0];

    const upsert = kind === 'person' ? upsertPersons(stage) : upsertPurchases(stage, mapping.channel!);
    const { rows: [written] } = await client.query<{ inserted: number; updated: number }>(upsert, [mapping.source, id]);
    const summary: FileSummary = {
      source: mapping.source, fileName, mapping: mapping.source, bytes, sha256: sha.digest('hex'), headerError,
      rowsRead, rowsLoaded: accepted, rowsInserted: written.inserted, rowsUpdated: written.updated,
      rowsUnchanged: accepted - written.inserted - written.updated, rowsRejected: rejected,
      rejectReasons: Object.fromEntries(reasons.rows.map((r) => [r.reason, r.n])),
      ms: Date.now() - started,
    };
    await client.query(
      `insert into customer_import_files (import_id, source, file_name, mapping, header, header_error, bytes, sha256, rows_read, rows_loaded, rows_inserted, rows_updated, rows_unchanged, rows_rejected, ms)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [id, summary.source, fileName, summary.mapping, JSON.stringify((layout as BoundLayout | null)?.header ?? null), headerError, bytes, summary.sha256,
        rowsRead, accepted, written.inserted, written.updated, summary.rowsUnchanged, rejected, summary.ms],
    );
    files.push(summary);
    log.debug({ importId: id, ...summary }, 'customer file loaded');
    return summary;
  }

  function totals(): ImportTotals {
    const sum = (k: keyof ImportTotals) => files.reduce((n, f) => n + f[k], 0);
    return {
      rowsRead: sum('rowsRead'), rowsLoaded: sum('rowsLoaded'), rowsInserted: sum('rowsInserted'),
      rowsUpdated: sum('rowsUpdated'), rowsUnchanged: sum('rowsUnchanged'), rowsRejected: sum('rowsRejected'),
    };
  }

  return {
    id,
    loadFile,
    async commit() {
      const t = totals();
      try {
        await client.query(
          `update customer_imports set status = 'loaded', finished_at = now(), rows_read = $2, rows_loaded = $3, rows_inserted = $4,
             rows_updated = $5, rows_unchanged = $6, rows_rejected = $7 where id = $1`,
          [id, t.rowsRead, t.rowsLoaded, t.rowsInserted, t.rowsUpdated, t.rowsUnchanged, t.rowsRejected],
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

function upsertPersons(stage: string): string {
  const cols = PERSON_COLUMNS.join(', ');
  return `
    with up as (
      insert into customer_source_records as t (source, source_key, ${cols}, row_hash, first_import_id, last_import_id, line)
      select $1, source_key, ${cols}, row_hash, $2, $2, line from ${stage} where kind = 'r'
      on conflict (source, source_key) do update set
        ${PERSON_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')},
        row_hash = excluded.row_hash, last_import_id = excluded.last_import_id, line = excluded.line, updated_at = now()
      where t.row_hash is distinct from excluded.row_hash
      returning (xmax = 0) as inserted
    )
    select count(*) filter (where inserted)::int as inserted, count(*) filter (where not inserted)::int as updated from up`;
}

const PURCHASE_COLUMNS = ['customer_source', 'customer_key', 'product_id', 'purchased_on', 'total_cents', 'points_added', 'extra'];

function upsertPurchases(stage: string, channel: string): string {
  const cols = PURCHASE_COLUMNS.join(', ');
  return `
    with up as (
      insert into customer_purchases as t (source, purchase_id, channel, ${cols}, row_hash, first_import_id, last_import_id, line)
      select $1, source_key, '${channel}', ${cols}, row_hash, $2, $2, line from ${stage} where kind = 'r'
      on conflict (source, purchase_id) do update set
        ${PURCHASE_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')},
        channel = excluded.channel, row_hash = excluded.row_hash, last_import_id = excluded.last_import_id, line = excluded.line, updated_at = now()
      where t.row_hash is distinct from excluded.row_hash
      returning (xmax = 0) as inserted
    )
    select count(*) filter (where inserted)::int as inserted, count(*) filter (where not inserted)::int as updated from up`;
}
