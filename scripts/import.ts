/**
 * `npm run import -- --dir DIR [--no-unify]`
 * `npm run import -- --source NAME --file FILE [--mapping MAPPING.json] [--no-unify]`
 *
 * Loads customer CSV files (contacts.csv, loyalty.csv, pos_purchases.csv, online_purchases.csv —
 * any subset — or one file of a named source) into the service's database in one import, with a
 * progress bar on a terminal and plain progress lines otherwise, then prints a summary (rows
 * read, loaded, rejected with reasons, time). Unless --no-unify, it then asks the
 * `customer-unification` workflow for a pass and waits for it, printing its outcome.
 *
 * Database: DATABASE_URL, or the stack's embedded cluster (started if the stack is not running).
 * Temporal: TEMPORAL_ADDRESS, or the stack's dev server on 127.0.0.1:TEMPORAL_DEV_PORT.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import cliProgress from 'cli-progress';
import { beginImport, type FileSummary, type ImportProgress } from '../db/customers/importer';
import { MappingError, type SourceMapping } from '../domain/customers/mapping';
import { requestUnification, waitForUnification } from '../api/unificationClient';
import { loadConfig } from '../config';
import { loadMappingFile, loadMappings } from '../config/customers';
import { createLogger } from '../config/logger';
import { CustomerImportStore } from '../db/stores/customerImports';
import type { PassView } from '../workflows/customerUnification.contract';
import { openDatabase } from './lib/database';

class UsageError extends Error {}

const USAGE = `usage: npm run import -- --dir DIR [--no-unify]
       npm run import -- --source NAME --file FILE [--mapping MAPPING.json] [--no-unify]`;

const tty = Boolean(process.stdout.isTTY);
const fmt = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function plan(values: { dir?: string; source?: string; file?: string; mapping?: string }, mappings: Map<string, SourceMapping>): Array<{ mapping: SourceMapping; file: string }> {
  if (values.dir) {
    if (values.source || values.file) throw new UsageError('give either --dir, or --source with --file');
    const dir = path.resolve(values.dir);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`--dir ${dir} is not a folder`);
    const found = [...mappings.values()].map((mapping) => ({ mapping, file: path.join(dir, mapping.fileName) })).filter((f) => fs.existsSync(f.file));
    if (found.length === 0) throw new UsageError(`${dir} holds none of ${[...mappings.values()].map((m) => m.fileName).join(', ')}`);
    return found;
  }
  if (!values.file) throw new UsageError('give --dir, or --source with --file');
  const file = path.resolve(values.file);
  if (!fs.existsSync(file)) throw new UsageError(`--file ${file} does not exist`);
  const mapping = values.mapping ? loadMappingFile(path.resolve(values.mapping)) : mappings.get(values.source ?? '');
  if (!mapping) throw new UsageError(`--source must be one of ${[...mappings.keys()].join(', ')} (or give --mapping)`);
  if (values.source && mapping.source !== values.source) throw new UsageError(`--mapping maps source "${mapping.source}", not "${values.source}"`);
  return [{ mapping, file }];
}

function progressPrinter() {
  if (tty) {
    const bar = new cliProgress.SingleBar({
      format: '  {source} |{bar}| {percentage}% · {rows} rows · {rejected} rejected · {eta_formatted} left',
      hideCursor: true, clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    let started = false;
    return {
      update(p: ImportProgress) {
        if (!started) {
          bar.start(p.totalBytes ?? 1, 0, { source: p.source.padEnd(17), rows: 0, rejected: 0 });
          started = true;
        }
        bar.update(p.bytesRead, { rows: fmt(p.rowsRead), rejected: fmt(p.rowsRejected) });
      },
      done() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let lastTenth = -1;
  return {
    update(p: ImportProgress) {
      const tenth = p.totalBytes ? Math.floor((p.bytesRead / p.totalBytes) * 10) : 0;
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      console.log(`  ${p.source}: ${tenth * 10}% (${fmt(p.rowsRead)} rows, ${fmt(p.rowsRejected)} rejected)`);
    },
    done() {
      lastTenth = -1;
    },
  };
}

function printSummary(files: FileSummary[], ms: number): void {
  console.log('\nImport summary');
  const head = ['source', 'file', 'read', 'loaded', 'new', 'updated', 'unchanged', 'rejected', 'time'];
  const rows = files.map((f) => [f.source, f.fileName, fmt(f.rowsRead), fmt(f.rowsLoaded), fmt(f.rowsInserted), fmt(f.rowsUpdated), fmt(f.rowsUnchanged), fmt(f.rowsRejected), secs(f.ms)]);
  const sum = (k: keyof FileSummary) => fmt(files.reduce((n, f) => n + (f[k] as number), 0));
  rows.push(['total', '', sum('rowsRead'), sum('rowsLoaded'), sum('rowsInserted'), sum('rowsUpdated'), sum('rowsUnchanged'), sum('rowsRejected'), secs(ms)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`;
  console.log(line(head));
  rows.forEach((r) => console.log(line(r)));
  for (const f of files) {
    if (f.headerError) console.log(`  ${f.fileName}: wrong header: ${f.headerError}`);
    const reasons = Object.entries(f.rejectReasons).map(([reason, n]) => `${reason} ${fmt(n)}`).join(', ');
    if (reasons) console.log(`  ${f.fileName}: rejected rows: ${reasons}`);
    if (f.valuesRejected) console.log(`  ${f.fileName}: ${fmt(f.valuesRejected)} values that did not parse were left empty (their rows loaded)`);
  }
}

function printPass(pass: PassView): void {
  if (pass.status === 'failed') {
    console.log(`\nUnification pass ${pass.pass} failed: ${pass.error}`);
    return;
  }
  const s = pass.summary!;
  const took = pass.finishedAt ? Date.parse(pass.finishedAt) - Date.parse(pass.startedAt) : 0;
  console.log(`\nUnification pass ${pass.pass} completed in ${secs(took)}`);
  console.log(`  ${fmt(s.records)} source records → ${fmt(s.customers)} customer profiles (${fmt(s.links)} links)`);
  console.log(`  CustomerIds: ${fmt(s.kept)} kept, ${fmt(s.created)} new, ${fmt(s.joined)} joined into another, ${fmt(s.split)} split`);
  console.log(`  profiles published: ${fmt(s.profilesChanged)} changed, ${fmt(s.profilesRemoved)} removed`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' }, source: { type: 'string' }, file: { type: 'string' }, mapping: { type: 'string' },
      'no-unify': { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, { pretty: true }).child({ component: 'import' });
  const files = plan(values, loadMappings(config.customers.mappingsDir));
  const database = await openDatabase(config, log);
  let exitCode = 0;
  try {
    const started = Date.now();
    const session = await beginImport(database.db, log, { origin: 'cli' });
    console.log(`Import ${session.id}: ${files.map((f) => path.basename(f.file)).join(', ')}`);
    const summaries: FileSummary[] = [];
    const progress = progressPrinter();
    try {
      for (const { mapping, file } of files) {
        const totalBytes = fs.statSync(file).size;
        summaries.push(await session.loadFile({ mapping, fileName: path.basename(file), stream: fs.createReadStream(file, { highWaterMark: 256 * 1024 }), totalBytes, onProgress: progress.update }));
        progress.done();
      }
      await session.commit();
    } catch (error) {
      progress.done();
      await session.abort(error);
      throw error;
    }
    printSummary(summaries, Date.now() - started);
    if (summaries.some((s) => s.rowsRejected > 0 || s.valuesRejected > 0)) console.log(`  every rejected row, with its line and reason: GET /imports/${session.id}`);

    if (!values['no-unify']) {
      const address = config.temporalAddress ?? `127.0.0.1:${config.temporalDevPort}`;
      let connection: Connection;
      try {
        connection = await Connection.connect({ address, connectTimeout: 5_000 });
      } catch (error) {
        console.error(`\nThe data is loaded, but Temporal is not reachable at ${address} (${(error as Error).message}).`);
        console.error('Start the stack (npm start) or set TEMPORAL_ADDRESS, then run: npm run customers:unify');
        return void (process.exitCode = 1);
      }
      try {
        const temporal = new Client({ connection, namespace: config.temporalNamespace });
        const ticket = await requestUnification(temporal, config.taskQueue, { trigger: 'import', by: 'cli', importId: session.id });
        await new CustomerImportStore(database.db).linkUnification(session.id, ticket);
        console.log(`\nUnification requested (${ticket.workflowId}, run ${ticket.runId}); waiting for it…`);
        const announced = new Set<string>();
        let warned = false;
        const say = (key: string, text: string) => {
          if (announced.has(key)) return;
          announced.add(key);
          console.log(text);
        };
        const pass = await waitForUnification(temporal, ticket, {
          onState: (_state, p) => {
            if (!p) return say('queued', '  queued behind the pass that is running…');
            for (const phase of p.phases) {
              say(`start:${phase.phase}`, `  ${phase.phase}…`);
              if (phase.finishedAt && phase.stats) {
                const stats = Object.entries(phase.stats).filter(([k, v]) => v !== null && !k.includes('.')).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`);
                say(`done:${phase.phase}`, `  ${phase.phase} done: ${stats.join(', ')}`);
              }
            }
          },
          onUnreachable: () => {
            if (!warned) console.log('  (no answer from the workflow yet: is a worker running? still waiting)');
            warned = true;
          },
        });
        printPass(pass);
        if (pass.status !== 'completed') exitCode = 1;
      } finally {
        await connection.close();
      }
    }
  } finally {
    await database.close();
  }
  process.exitCode = exitCode;
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || error instanceof MappingError) console.error(`${USAGE}\n${error.message}`);
  else console.error(error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
