/**
 * The streaming import of a lead file (used by `POST /leads/imports` and `npm run leads:import`).
 *
 * One import is one database transaction, so a refused or failed import changes nothing. The file
 * streams through: UTF-8 text → csv-parse → the header bound to lead fields → each row judged by
 * the caller's `validate` (the rules of `POST /leads`) → `COPY` into a temporary stage that holds
 * accepted and rejected rows alike. Set-based SQL then sets aside, in order: a second row with the
 * same key in the file, a row an earlier import already created (its key is remembered), a row
 * whose owner is not an active user, and a row whose email an existing lead, an existing contact or
 * an earlier row of the file already has; the rest become leads, each with its `lead.created`
 * audit entry (one statement for all), its key, and a report row for everything set aside. Memory
 * stays flat whatever the file's size.
 */
import crypto from 'node:crypto';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CsvError } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../../config/logger';
import { bindLeadHeader, emailKey, leadImportKey, type LeadColumn } from '../../domain/leadImport';
import { InvalidFieldError } from '../../domain/rejection';
import { clipRaw, copyChunks, copyField, csvRecordParser, normaliseText, startLine, trimRaw, type ParsedRecord } from '../csvStream';
import type { Db } from '../knex';
import { rowJsonSql } from '../rows';
import { recordAuditsFrom, type Actor } from '../stores/audit';
import type { LeadFields } from '../stores/leads';

/** One row's non-empty cells (trimmed), by the lead field their column means. */
export type LeadCells = Partial<Record<LeadColumn, string>>;

/** A row's lead as `validate` accepts it; no owner means the import's default owner. */
export type ImportedLead = Omit<LeadFields, 'ownerId'> & { ownerId: string | null };

/** `column` names the lead field to blame; the report shows the file's own header for it. */
export type RowVerdict = { ok: true; lead: ImportedLead } | { ok: false; reason: string; column: string | null; message: string };

export interface LeadImportProgress {
  bytesRead: number;
  rowsRead: number;
  rowsRejected: number;
}

export interface LeadImportInput {
  origin: 'cli' | 'api';
  /** The importing user: the creator of every lead (null: each lead's owner, from the CLI). */
  createdBy: string | null;
  /** The owner of a row that names none (null: such a row is rejected). */
  defaultOwnerId: string | null;
  /** Who the audit entries name. */
  actor: Actor;
  requestId?: string | null;
  fileName: string;
  stream: Readable;
  /** Judges one row by the rules of `POST /leads`. */
  validate(cells: LeadCells): RowVerdict;
  /** Awaited before the commit: a rejection rolls the whole import back (the rest of an upload may still refuse it). */
  beforeCommit?: () => Promise<void>;
  onProgress?: (progress: LeadImportProgress) => void;
}

export interface LeadImportResult {
  id: string;
  fileName: string;
  bytes: number;
  sha256: string;
  header: string[];
  /** Header columns that mean no lead field: their values are not imported. */
  ignoredColumns: string[];
  rowsRead: number;
  created: number;
  /** Rows an earlier import already created (their key is known): nothing done. */
  alreadyImported: number;
  /** Rows whose lead exists already: the same key twice in the file, or an email a lead or contact has. */
  duplicates: number;
  rejected: number;
  /** Rows set aside, by reason code. */
  reasons: Record<string, number>;
  ms: number;
}

const VALUE_FIELDS = [
  'topic', 'firstName', 'lastName', 'email', 'mobilePhone', 'businessPhone', 'companyName', 'website', 'street', 'city',
  'postalCode', 'state', 'country', 'source', 'customerType', 'estimatedValueCents', 'ownerId',
] as const satisfies ReadonlyArray<keyof LeadFields>;
const VALUE_COLUMNS = VALUE_FIELDS.map((f) => f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
const STAGE_COLUMNS = [
  'line integer not null', 'kind char(1) not null', 'import_key text', 'email_key text', 'reason text', 'column_name text', 'message text', 'raw text',
  ...VALUE_COLUMNS.map((c) => `${c} ${c === 'estimated_value_cents' ? 'bigint' : c === 'owner_id' ? 'uuid' : 'text'}`),
];
const COPIED = STAGE_COLUMNS.map((d) => d.split(' ')[0]);
/** Filled in after the copy: the new lead's id, or the lead or contact that has the row's email. */
const LATER = ['lead_id uuid', 'existing_lead_id uuid', 'existing_contact_id uuid'];

/** A lead's timestamp columns, which its audit entry shows as the API does. */
const LEAD_TIMESTAMPS = ['created_at', 'updated_at', 'closed_at'];

/** A stage line: `r` a row to create, `x` a rejected row (later also `d` a duplicate, `k` already imported). */
function stageLine(line: number, kind: 'r' | 'x', parts: { key?: string; emailKey?: string | null; reason?: string; column?: string | null; message?: string; raw: string; lead?: Record<string, unknown> }): string {
  const values = VALUE_FIELDS.map((f) => (parts.lead?.[f] ?? null) as string | number | null);
  const fields = [line, kind, parts.key ?? null, parts.emailKey ?? null, parts.reason ?? null, parts.column ?? null, parts.message ?? null, clipRaw(parts.raw), ...values];
  return `${fields.map(copyField).join('\t')}\n`;
}

/** What identifies a lead with neither external id nor email: its content, owner aside (another owner is the same lead). */
function fingerprint(lead: ImportedLead): string {
  const { ownerId: _ownerId, ...content } = lead;
  return crypto.createHash('sha256').update(JSON.stringify(VALUE_FIELDS.filter((f) => f !== 'ownerId').map((f) => content[f]))).digest('hex').slice(0, 32);
}

export async function importLeads(db: Db, log: Logger, input: LeadImportInput): Promise<LeadImportResult> {
  const started = Date.now();
  return db.transaction(async (trx) => {
    const client = (await trx.client.acquireConnection()) as pg.Client;
    const [{ id }] = await trx('lead_imports').insert({ origin: input.origin, created_by: input.createdBy, file_name: input.fileName }).returning('id');
    const stage = 'lead_import_stage';
    await client.query(`create temporary table ${stage} (${[...STAGE_COLUMNS, ...LATER].join(', ')}) on commit drop`);

    const sha = crypto.createHash('sha256');
    let bytes = 0;
    let rowsRead = 0;
    let rejectedInStream = 0;
    let header: string[] | null = null;
    let columns: Array<LeadColumn | null> = [];
    let ignored: string[] = [];
    const headerName = new Map<string, string>();
    const columnOf = (field: string | null) => (field === null ? null : headerName.get(field) ?? field);
    let lastReport = 0;
    const report = (force = false) => {
      if (!input.onProgress || (!force && Date.now() - lastReport < 200)) return;
      lastReport = Date.now();
      input.onProgress({ bytesRead: bytes, rowsRead, rowsRejected: rejectedInStream });
    };

    const { emit, rest } = copyChunks();
    const reject = (stream: Transform, line: number, raw: string, reason: string, column: string | null, message: string) => {
      rejectedInStream++;
      emit(stageLine(line, 'x', { reason, column, message, raw }), stream);
    };

    const toCopy = new Transform({
      writableObjectMode: true,
      transform(item: ParsedRecord, _enc, done) {
        const raw = trimRaw(item.raw);
        const line = startLine(item.info.lines, raw);
        if (!header) {
          if (item.record.some((name) => name.includes('\u0000') || name.includes('\uFFFD'))) {
            return done(new InvalidFieldError('file', 'invalid_encoding', 'the file is not UTF-8 CSV text (UTF-16, a spreadsheet or binary?): save it as UTF-8 CSV'));
          }
          const bound = bindLeadHeader(item.record);
          if (!bound.ok) return done(new InvalidFieldError('file', bound.code, bound.message));
          header = item.record.map((h) => h.trim());
          columns = bound.columns;
          ignored = bound.ignored;
          columns.forEach((field, i) => field && headerName.set(field, header![i]));
          return done();
        }
        rowsRead++;
        report();
        if (item.record.length !== header.length) {
          reject(this, line, raw, 'wrong_column_count', null, `${item.record.length} columns where the header has ${header.length}`);
          return done();
        }
        const cells: LeadCells = {};
        for (const [i, field] of columns.entries()) {
          const cell = field ? item.record[i].trim() : '';
          if (!field || cell === '') continue;
          if (cell.includes('\uFFFD')) {
            reject(this, line, raw, 'invalid_encoding', header[i], `${header[i]}: holds bytes that are not UTF-8 text: save the file as UTF-8 CSV`);
            return done();
          }
          cells[field] = cell;
        }
        const verdict = input.validate(cells);
        if (!verdict.ok) {
          reject(this, line, raw, verdict.reason, columnOf(verdict.column), verdict.message);
          return done();
        }
        const lead = { ...verdict.lead, ownerId: verdict.lead.ownerId ?? input.defaultOwnerId };
        if (!lead.ownerId) {
          reject(this, line, raw, 'required', columnOf('ownerId'), 'ownerId: is required: give the row an owner, or the import a default owner');
          return done();
        }
        const { key } = leadImportKey({ externalId: cells.externalId, email: lead.email }, () => fingerprint(lead));
        emit(stageLine(line, 'r', { key, emailKey: lead.email ? emailKey(lead.email) : null, raw, lead }), this);
        done();
      },
      flush(done) {
        done(null, rest());
      },
    });

    const parser = csvRecordParser();
    parser.on('skip', (error: CsvError) => {
      const raw = trimRaw(String((error as unknown as { raw?: string }).raw ?? ''));
      if (!header) {
        parser.destroy(new InvalidFieldError('file', 'wrong_header', `the header line cannot be read as CSV: ${error.message}`));
        return;
      }
      rowsRead++;
      reject(toCopy, startLine(Number(error.lines ?? 0), raw), raw, 'malformed_row', null, error.message);
    });

    const copy = client.query(copyFrom(`copy ${stage} (${COPIED.join(', ')}) from stdin`));
    await pipeline(input.stream, normaliseText((chunk) => {
      bytes += chunk.length;
      sha.update(chunk);
    }), parser, toCopy, copy as unknown as Writable);
    if (!header) throw new InvalidFieldError('file', 'empty_file', 'the file is empty: it needs a header line and a line per lead');
    report(true);
    const bound = header as string[];

    // Imports are serialised: two imports of one file at once must not both find its keys new.
    await client.query(`select pg_advisory_xact_lock(hashtext('lead-import'), 0)`);
    await client.query(`analyze ${stage}`);
    const keyColumn = `case when s.import_key like 'external:%' then $1 when s.import_key like 'email:%' then $2 end`;
    await client.query(`
      update ${stage} s set kind = 'd', reason = 'duplicate_key', column_name = ${keyColumn},
        message = 'the same lead as line ' || d.first_line || ' of the file'
      from (select import_key, min(line) as first_line from ${stage} where kind = 'r' group by import_key having count(*) > 1) d
      where s.kind = 'r' and s.import_key = d.import_key and s.line <> d.first_line`, [columnOf('externalId'), columnOf('email')]);
    await client.query(`
      update ${stage} s set kind = 'k', reason = 'already_imported', column_name = ${keyColumn}, existing_lead_id = k.lead_id,
        message = 'created by an earlier import (' || k.import_id || ', line ' || k.line || ')'
      from lead_import_keys k where s.kind = 'r' and k.key = s.import_key`, [columnOf('externalId'), columnOf('email')]);
    await client.query(`
      update ${stage} s set kind = 'x', reason = 'unknown_user', column_name = $1, message = 'ownerId ' || s.owner_id || ' is not an active user'
      where s.kind = 'r' and not exists (select 1 from users u where u.id = s.owner_id and u.disabled_at is null)`, [columnOf('ownerId')]);
    await client.query(`
      update ${stage} s set kind = 'd', reason = 'duplicate_email', column_name = $1, existing_lead_id = l.id,
        message = 'lead ' || l.id || ' has this email already'
      from (
        select distinct on (lower(email)) lower(email) as email_key, id from leads
        where email is not null and lower(email) in (select email_key from ${stage} where kind = 'r')
        order by lower(email), created_at, id
      ) l
      where s.kind = 'r' and s.email_key = l.email_key`, [columnOf('email')]);
    await client.query(`
      update ${stage} s set kind = 'd', reason = 'duplicate_email', column_name = $1, existing_contact_id = c.id,
        message = 'contact ' || c.id || ' has this email already'
      from contacts c where s.kind = 'r' and c.email is not null and lower(c.email) = s.email_key`, [columnOf('email')]);
    await client.query(`
      update ${stage} s set kind = 'd', reason = 'duplicate_email', column_name = $1,
        message = 'line ' || d.first_line || ' of the file has this email already'
      from (select email_key, min(line) as first_line from ${stage} where kind = 'r' and email_key is not null group by email_key having count(*) > 1) d
      where s.kind = 'r' and s.email_key = d.email_key and s.line <> d.first_line`, [columnOf('email')]);

    await client.query(`update ${stage} set lead_id = gen_random_uuid() where kind = 'r'`);
    await client.query(`
      insert into leads (id, ${VALUE_COLUMNS.join(', ')}, created_by)
      select lead_id, ${VALUE_COLUMNS.join(', ')}, coalesce($1::uuid, owner_id) from ${stage} where kind = 'r' order by line`, [input.createdBy]);
    await client.query(`insert into lead_import_keys (key, lead_id, import_id, line) select import_key, lead_id, $1, line from ${stage} where kind = 'r'`, [id]);
    // Each new lead gets the audit entry `POST /leads` writes, all in one statement.
    await recordAuditsFrom(trx, { actor: input.actor, action: 'lead.created', entityType: 'lead', requestId: input.requestId ?? null },
      `select l.id::text as entity_id, ${rowJsonSql('l', LEAD_TIMESTAMPS)} as after from ${stage} s join leads l on l.id = s.lead_id where s.kind = 'r' order by s.line`);
    await client.query(`
      insert into lead_import_rows (import_id, line, outcome, reason, column_name, message, email, existing_lead_id, existing_contact_id, raw)
      select $1, line, case kind when 'x' then 'rejected' when 'd' then 'duplicate' else 'already_imported' end, reason, column_name, message,
        email, existing_lead_id, existing_contact_id, raw
      from ${stage} where kind in ('x', 'd', 'k') order by line`, [id]);
    const counted = await client.query<{ kind: string; reason: string | null; n: number }>(`select kind, reason, count(*)::int as n from ${stage} group by kind, reason`);
    const count = (kind: string) => counted.rows.filter((r) => r.kind === kind).reduce((n, r) => n + r.n, 0);
    const result: LeadImportResult = {
      id, fileName: input.fileName, bytes, sha256: sha.digest('hex'), header: bound, ignoredColumns: ignored, rowsRead,
      created: count('r'), alreadyImported: count('k'), duplicates: count('d'), rejected: count('x'),
      reasons: Object.fromEntries(counted.rows.filter((r) => r.reason).map((r) => [r.reason!, r.n])),
      ms: Date.now() - started,
    };
    await trx('lead_imports').where({ id }).update({
      bytes, sha256: result.sha256, header: JSON.stringify(bound), ignored_columns: JSON.stringify(ignored), key_column: headerName.get('externalId') ?? null,
      rows_read: rowsRead, rows_created: result.created, rows_already_imported: result.alreadyImported, rows_duplicate: result.duplicates,
      rows_rejected: result.rejected, ms: result.ms, finished_at: trx.fn.now(),
    });
    await input.beforeCommit?.();
    log.debug({ importId: id, ...result }, 'lead file imported');
    return result;
  });
}
