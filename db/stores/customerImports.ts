/**
 * Customer imports as people read them: the totals, each file's summary and the rejected rows
 * and values (file, line, column, reason, the raw text). The write path is the streaming importer
 * (db/customers/importer.ts); this store only reads and links an import to the
 * unification it triggered.
 */
import type { Knex } from 'knex';
import { NotFoundError } from '../../domain/rejection';
import { fromRow } from '../rows';
import type { Page } from './paging';

export interface CustomerImportFile {
  source: string;
  fileName: string;
  mapping: string;
  header: string[] | null;
  headerError: string | null;
  bytes: number;
  sha256: string | null;
  rowsRead: number;
  rowsLoaded: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsUnchanged: number;
  rowsRejected: number;
  valuesRejected: number;
  ms: number;
}

export interface CustomerImport {
  id: string;
  origin: 'cli' | 'api';
  createdBy: string | null;
  status: 'loading' | 'loaded' | 'failed';
  rowsRead: number;
  rowsLoaded: number;
  rowsInserted: number;
  rowsUpdated: number;
  rowsUnchanged: number;
  rowsRejected: number;
  valuesRejected: number;
  error: string | null;
  unificationWorkflowId: string | null;
  unificationRunId: string | null;
  unificationRequestId: string | null;
  startedAt: string;
  finishedAt: string | null;
  files: CustomerImportFile[];
}

export interface RejectedRow {
  source: string;
  fileName: string;
  line: number;
  /** `row`: the row was not loaded; `value`: the row loaded with this column's attribute empty. */
  scope: 'row' | 'value';
  sourceKey: string | null;
  reason: string;
  columnName: string | null;
  message: string;
  raw: string | null;
}

export class CustomerImportStore {
  constructor(private readonly db: Knex) {}

  async get(id: string): Promise<CustomerImport | null> {
    const row = await this.db('customer_imports').where({ id }).first();
    if (!row) return null;
    const files = await this.db('customer_import_files').where({ import_id: id }).orderBy('source');
    return {
      ...fromRow<Omit<CustomerImport, 'files'>>(row),
      files: files.map((f: Record<string, unknown>) => {
        const { importId: _importId, ...file } = fromRow<CustomerImportFile & { importId: string }>(f);
        return file;
      }),
    };
  }

  async require(id: string): Promise<CustomerImport> {
    const found = await this.get(id);
    if (!found) throw new NotFoundError('import', id);
    return found;
  }

  async rejects(id: string, page: Page, filter: { source?: string; reason?: string; scope?: 'row' | 'value' } = {}): Promise<{ items: RejectedRow[]; total: number }> {
    const where = (q: Knex.QueryBuilder) => {
      q.where({ import_id: id });
      if (filter.source) q.where('source', filter.source);
      if (filter.reason) q.where('reason', filter.reason);
      if (filter.scope) q.where('scope', filter.scope);
      return q;
    };
    const [rows, [{ count }]] = await Promise.all([
      where(this.db('customer_import_rejects')).select('source', 'file_name', 'line', 'scope', 'source_key', 'reason', 'column_name', 'message', 'raw')
        .orderBy([{ column: 'source' }, { column: 'line' }, { column: 'id' }]).limit(page.limit).offset(page.offset),
      where(this.db('customer_import_rejects')).count<{ count: number }[]>({ count: '*' }),
    ]);
    return { items: rows.map((r: Record<string, unknown>) => fromRow<RejectedRow>(r)), total: Number(count) };
  }

  async linkUnification(id: string, link: { workflowId: string; runId: string; requestId: string }): Promise<void> {
    await this.db('customer_imports').where({ id }).update({
      unification_workflow_id: link.workflowId, unification_run_id: link.runId, unification_request_id: link.requestId,
    });
  }
}
