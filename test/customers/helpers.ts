/** Customer-view test helpers: importing files or in-memory CSV text through the real importer. */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadMappings } from '../../config/customers';
import { beginImport, type FileSummary, type ImportTotals } from '../../db/customers/importer';
import type { SourceMapping } from '../../domain/customers/mapping';
import type { Db } from '../../db/knex';
import { testLog } from '../helpers/temporal';

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
