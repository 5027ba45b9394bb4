/**
 * `npm run customers:export -- --out FILE`
 *
 * Writes the customer view as CSV, one row per source record: `CustomerId,Source,SourceKey`
 * followed by the merged profile's columns. Streamed straight out of Postgres (`COPY ... TO
 * STDOUT`), so memory stays flat whatever the number of customers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { exportQuery } from '../db/stores/customers';
import { openDatabase } from './lib/database';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  if (!values.out) {
    console.error('usage: npm run customers:export -- --out FILE');
    process.exit(2);
  }
  const out = path.resolve(values.out);
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, { pretty: true }).child({ component: 'customers:export' });
  const database = await openDatabase(config, log);
  const started = Date.now();
  let lines = -1;
  try {
    const client = (await database.db.client.acquireConnection()) as pg.Client;
    try {
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          for (const byte of chunk) if (byte === 10) lines++;
          done(null, chunk);
        },
      });
      await pipeline(client.query(copyTo(exportQuery())) as unknown as Readable, counter, fs.createWriteStream(out));
    } finally {
      database.db.client.releaseConnection(client);
    }
  } finally {
    await database.close();
  }
  console.log(`wrote ${Math.max(0, lines).toLocaleString('en-US')} source records to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
