/**
 * Lead imports as people read them: the counts, and each row the import did not create (rejected,
 * duplicate or already imported) with its line, reason, column and raw text. The write path is the
 * streaming importer (db/leads/importer.ts); this store only reads.
 */
import type { Knex } from 'knex';
import { NotFoundError } from '../../domain/rejection';
import { fromRow } from '../rows';
import type { Page } from './paging';

export const LEAD_IMPORT_OUTCOMES = ['rejected', 'duplicate', 'already_imported'] as const;
export type LeadImportOutcome = (typeof LEAD_IMPORT_OUTCOMES)[number];

export interface LeadImport {
  id: string;
  origin: 'cli' | 'api';
  createdBy: string | null;
  fileName: string;
  bytes: number;
  sha256: string | null;
  header: string[] | null;
  ignoredColumns: string[] | null;
  /** The file's external-id column when it has one (the key of its leads); else leads are keyed by email. */
  keyColumn: string | null;
  rowsRead: number;
  rowsCreated: number;
  rowsAlreadyImported: number;
  rowsDuplicate: number;
  rowsRejected: number;
  /** Rows not created, by reason code. */
  reasons: Record<string, number>;
  ms: number;
  startedAt: string;
  finishedAt: string | null;
}

export interface LeadImportRow {
  line: number;
  outcome: LeadImportOutcome;
  reason: string;
  columnName: string | null;
  message: string;
  email: string | null;
  existingLeadId: string | null;
  existingContactId: string | null;
  raw: string | null;
}

export class LeadImportStore {
  constructor(private readonly db: Knex) {}

  async get(id: string): Promise<LeadImport | null> {
    const row = await this.db('lead_imports').where({ id }).first();
    if (!row) return null;
    const reasons = await this.db('lead_import_rows').where({ import_id: id }).groupBy('reason').select('reason', this.db.raw('count(*)::int as n'));
    return { ...fromRow<Omit<LeadImport, 'reasons'>>(row), reasons: Object.fromEntries(reasons.map((r: { reason: string; n: number }) => [r.reason, r.n])) };
  }

  async require(id: string): Promise<LeadImport> {
    const found = await this.get(id);
    if (!found) throw new NotFoundError('import', id);
    return found;
  }

  /** The rows the import did not create, in file order. */
  async rows(id: string, page: Page, filter: { outcome?: LeadImportOutcome; reason?: string } = {}): Promise<{ items: LeadImportRow[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      q.where({ import_id: id });
      if (filter.outcome) q.where('outcome', filter.outcome);
      if (filter.reason) q.where('reason', filter.reason);
      return q;
    };
    const [rows, [{ count }]] = await Promise.all([
      where(this.db('lead_import_rows'))
        .select('line', 'outcome', 'reason', 'column_name', 'message', 'email', 'existing_lead_id', 'existing_contact_id', 'raw')
        .orderBy([{ column: 'line' }, { column: 'id' }]).limit(page.limit).offset(page.offset),
      where(this.db('lead_import_rows')).count<{ count: number }[]>({ count: '*' }),
    ]);
    return { items: rows.map((r: Record<string, unknown>) => fromRow<LeadImportRow>(r)), total: Number(count) };
  }

  /** The ids of the leads the import created, in file order (what a follow-up, such as enrolment in a sequence, acts on). */
  async createdLeadIds(id: string, page: Page): Promise<string[]> {
    return (await this.db('lead_import_keys').where({ import_id: id }).orderBy('line').limit(page.limit).offset(page.offset).pluck('lead_id')) as string[];
  }
}
