/** Customer-view test helpers: importing files or in-memory CSV text through the real importer; shared fixtures. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadMappings } from '../../config/customers';
import { beginImport, type FileSummary, type ImportTotals } from '../../db/customers/importer';
import type { SourceMapping } from '../../domain/customers/mapping';
import type { Db } from '../../db/knex';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { requestUnification, waitForUnification } from '../../api/unificationClient';
import type { PassView } from '../../workflows/customerUnification.contract';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { devServerEnv, testLog, workflowBundle } from '../helpers/temporal';

/** The noisy sample with ground truth, vendored so a clean clone has it (see its README). */
export const SAMPLE_DIR = path.resolve(__dirname, '..', 'fixtures', 'customers-sample');
export const SOURCES = ['contacts', 'loyalty', 'pos_purchases', 'online_purchases'] as const;

export const mappings = (): Map<string, SourceMapping> => loadMappings();

export interface ImportResult {
  id: string;
  files: Record<string, FileSummary>;
  totals: ImportTotals;
}

/** Imports CSV text (or files) by source name, in one import. */
export async function importCsv(db: Db, inputs: Record<string, string | Buffer>, options: { fileName?: (source: string) => string } = {}): Promise<ImportResult> {
  const all = mappings();
  const session = await beginImport(db, testLog, { origin: 'cli' });
  const files: Record<string, FileSummary> = {};
  try {
    for (const [source, content] of Object.entries(inputs)) {
      const mapping = all.get(source);
      if (!mapping) throw new Error(`no mapping for ${source}`);
      const buffer = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      // Small chunks, so chunk boundaries fall inside lines, CRLF pairs and multi-byte characters.
      const chunks: Buffer[] = [];
      for (let i = 0; i < buffer.length; i += 7) chunks.push(buffer.subarray(i, i + 7));
      files[source] = await session.loadFile({ mapping, fileName: options.fileName?.(source) ?? `${source}.csv`, stream: Readable.from(chunks) });
    }
    return { id: session.id, files, totals: await session.commit() };
  } catch (error) {
    await session.abort(error);
    throw error;
  }
}

export async function importDir(db: Db, dir: string, sources: readonly string[] = SOURCES): Promise<ImportResult> {
  const all = mappings();
  const session = await beginImport(db, testLog, { origin: 'cli' });
  const files: Record<string, FileSummary> = {};
  try {
    for (const source of sources) {
      const mapping = all.get(source)!;
      const file = path.join(dir, mapping.fileName);
      files[source] = await session.loadFile({ mapping, fileName: mapping.fileName, stream: fs.createReadStream(file) });
    }
    return { id: session.id, files, totals: await session.commit() };
  } catch (error) {
    await session.abort(error);
    throw error;
  }
}

/** A database for this file whose customer tables are emptied before each test (the import tests). */
export function emptiedCustomerDatabase(): () => TestDatabase {
  let database: TestDatabase;
  before(async function () {
    database = await createTestDatabase();
  });
  after(async function () {
    await database?.drop();
  });
  beforeEach(async function () {
    await database.db.raw('truncate customer_source_records, customer_purchases, customer_imports cascade');
  });
  return () => database;
}

/** A dev server and a database holding customers-sample, and what a pass test asks of them. */
export function unificationFixture() {
  const fixture = {
    env: undefined as unknown as TestWorkflowEnvironment,
    database: undefined as unknown as TestDatabase,
    /** Requests a pass on `taskQueue` and waits for it to complete. */
    async unify(taskQueue: string, full = false): Promise<PassView> {
      const ticket = await requestUnification(fixture.env.client, taskQueue, { trigger: 'cli', by: 'test', ...(full ? { full } : {}) });
      const pass = await waitForUnification(fixture.env.client, ticket, { timeoutMs: 120_000 });
      await fixture.env.client.workflow.getHandle(ticket.workflowId, ticket.runId).result();
      assert.equal(pass.status, 'completed', pass.error ?? '');
      return pass;
    },
    /** A full pass over the same records changes no CustomerId and no profile: the pass before it gave what a full pass gives. */
    async assertSameAsFullPass(taskQueue: string, before: Map<string, string>): Promise<void> {
      const full = await fixture.unify(taskQueue, true);
      assert.equal(full.mode, 'full');
      assert.deepEqual(
        { created: full.summary!.created, joined: full.summary!.joined, split: full.summary!.split, changed: full.summary!.profilesChanged, removed: full.summary!.profilesRemoved },
        { created: 0, joined: 0, split: 0, changed: 0, removed: 0 },
      );
      assert.deepEqual(await fixture.membership(), before);
    },
    /** Each source key's CustomerId. */
    async membership(): Promise<Map<string, string>> {
      const rows = await fixture.database.db('customer_members as m').join('customer_source_records as r', 'r.id', 'm.record_id').select('r.source_key', 'm.customer_id');
      return new Map(rows.map((r: { source_key: string; customer_id: string }) => [r.source_key, r.customer_id]));
    },
  };
  before(async function () {
    [fixture.env, fixture.database] = await Promise.all([devServerEnv(), createTestDatabase(), workflowBundle()]).then(([e, d]) => [e, d] as const);
    await importDir(fixture.database.db, SAMPLE_DIR);
  });
  after(async function () {
    await fixture.env?.teardown();
    await fixture.database?.drop();
  });
  return fixture;
}
