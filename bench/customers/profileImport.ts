/**
 * `node --require tsx/cjs bench/customers/profileImport.ts DIR [--cpu]`: one import of DIR's four
 * files into a fresh database of a throwaway embedded PostgreSQL, beside a plain COPY of the same
 * files, with the time of each step (for profiling the importer; BENCHMARKS.md comes from run.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { beginImport } from '../../db/customers/importer';
import { loadMappings } from '../../config/customers';
import { createLogger } from '../../config/logger';
import { startEmbeddedPostgres } from '../../db/embedded';
import { createDb, migrateLatest } from '../../db/knex';
import { freePort } from '../../scripts/lib/services';

const log = createLogger('warn', { pretty: true });

async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2]);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'import-prof-'));
  fs.chmodSync(work, 0o777);
  const cluster = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), port: await freePort(), database: 'postgres', log });
  try {
    const admin = new pg.Client({ connectionString: cluster.urlFor('postgres') });
    await admin.connect();
    console.log((await admin.query('select version()')).rows[0].version);
    await admin.query('create database prof');
    await admin.query('create database prof_copy');
    await admin.end();
    const files = ['contacts.csv', 'loyalty.csv', 'pos_purchases.csv', 'online_purchases.csv'];
    for (const f of files) fs.readFileSync(path.join(dir, f));
    const client = new pg.Client({ connectionString: cluster.urlFor('prof_copy') });
    await client.connect();
    let started = Date.now();
    for (const file of files) {
      const t0 = Date.now();
      const header = fs.readFileSync(path.join(dir, file), 'utf8').split(/\r?\n/, 1)[0].split(',');
      const table = `raw_${file.replace('.csv', '')}`;
      await client.query(`create table ${table} (${header.map((_, i) => `c${i} text`).join(', ')})`);
      const copy = client.query(copyFrom(`copy ${table} from stdin with (format csv, header)`));
      await pipeline(fs.createReadStream(path.join(dir, file), { highWaterMark: 256 * 1024 }), copy as unknown as Writable);
      console.log(`plain COPY ${file}: ${Date.now() - t0} ms`);
    }
    const copyMs = Date.now() - started;
    await client.end();
    const db = createDb(cluster.urlFor('prof'), { pool: { min: 0, max: 4 } });
    await migrateLatest(db);
    for (const round of ['first load', 're-import unchanged']) {
      started = Date.now();
      const session = await beginImport(db, log, { origin: 'cli' });
      for (const mapping of loadMappings().values()) {
        const s = await session.loadFile({ mapping, fileName: mapping.fileName, stream: fs.createReadStream(path.join(dir, mapping.fileName), { highWaterMark: 256 * 1024 }) });
        console.log(`${round} ${mapping.fileName}: ${s.rowsRead} rows ${s.ms} ms ${JSON.stringify(s.timings)} ins ${s.rowsInserted} upd ${s.rowsUpdated}`);
      }
      await session.commit();
      const importMs = Date.now() - started;
      const rebuilt = session.rebuilt();
      console.log(`${round}: import ${importMs} ms (commit rebuilt ${rebuilt.statements} indexes and constraints a first load set aside in ${rebuilt.ms} ms), plain COPY ${copyMs} ms, import ÷ COPY (rows/s) ${(copyMs / importMs).toFixed(3)}, load average ${os.loadavg()[0].toFixed(1)}`);
    }
    await db.destroy();
  } finally {
    await cluster.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
