/**
 * `npm run bench:customers -- [--sizes 10000,100000,1000000] [--work DIR]`
 * `npm run bench:customers -- generate --records N --out DIR`
 * `npm run bench:customers -- shards [--records N] [--shard-records N]` (bench/customers/shards.ts: the sharded match, 1 and 2 worker processes)
 *
 * For each size (person records: eCommerce contacts + loyalty members, plus their purchases):
 * generates a noisy set (bench/customers/generate.ts), then on a fresh database of a throwaway
 * embedded PostgreSQL (default durability settings) measures, in the same run:
 *   - the baseline: plain `COPY ... FROM STDIN (FORMAT csv, HEADER)` of the same four files into
 *     text tables, and our import of them (parse, map, type, reject, stage, upsert): rows/s and
 *     the ratio import ÷ COPY in rows/s (goal ≥ 0.5), with the time of each import step;
 *   - end-to-end unification through the real workflow on a Temporal dev server with the real
 *     worker: request → pass completed, with the time of each phase, then an unchanged re-run;
 *   - match quality of the result against the generator's truth.csv.
 * Prints one block per size and a Markdown table for BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { beginImport } from '../../db/customers/importer';
import { loadMappings } from '../../config/customers';
import { pairwiseQuality } from '../../domain/customers/quality';
import { createSmtpMailer } from '../../activities/mailer';
import { requestUnification, waitForUnification } from '../../api/unificationClient';
import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import { startEmbeddedPostgres } from '../../db/embedded';
import { createDb, migrateLatest, type Db } from '../../db/knex';
import { freePort } from '../../scripts/lib/services';
import { toolPaths } from '../../scripts/lib/tools';
import { createSalesWorker } from '../../worker/worker';
import type { PassView } from '../../workflows/customerUnification.contract';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';
import { benchmarkSection, writeBenchmarkSection } from '../report';
import { generate } from './generate';
import { shardBench } from './shards';
import { QUALITY_SECTION, qualityLines, readTruth, standardQuality } from './quality';

/** Issue 10: our import ÷ plain COPY of the same files, in rows/s, same run. */
const RATIO_GOAL = 0.5;
const FILES = ['contacts.csv', 'loyalty.csv', 'pos_purchases.csv', 'online_purchases.csv'];
const log = createLogger('warn', { pretty: true }).child({ component: 'bench' });
const secs = (ms: number) => (ms / 1000).toFixed(1);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface SizeResult {
  perFile: string[];
  records: number;
  rows: number;
  copyMs: number;
  importMs: number;
  /** Import time by step, summed over the four files, and the commit's rebuild of what a first load set aside. */
  steps: Record<'stream' | 'duplicates' | 'rejects' | 'upsert' | 'rebuild', number>;
  unifyMs: number;
  phases: Record<string, number>;
  rerunMs: number;
  customers: number;
  f1: number;
  precision: number;
  recall: number;
  rssMb: number;
  /** The longest the worker's event loop waited during the first pass / the re-run (monitorEventLoopDelay, ms). */
  loopMaxMs: number;
  rerunLoopMaxMs: number;
  /** Time and longest loop wait of each step of each phase, first pass and re-run. */
  profile: string;
  rerunProfile: string;
  rerunReused: boolean;
  /** Per pass of this size: the step where the event loop waited longest, and the slowest steps of the first pass. */
  loopWorst: Array<{ pass: string; step: string; ms: number; gcMs: number }>;
  slowest: Array<{ step: string; ms: number }>;
  /** Load average (1 min) when the first pass ended: the machine is shared. */
  load: number;
  /** After importing 1 % new records: the incremental pass, then a full pass over the same records. */
  incremental: { newRecords: number; ms: number; mode: string; scope: number; profile: string; slowest: Array<{ step: string; ms: number }>; loopMaxMs: number; fullMs: number; fullProfile: string; fullLoopMaxMs: number; identical: boolean; fullSummary: string };
}

function lineCount(file: string): number {
  let n = 0;
  const buffer = Buffer.alloc(1 << 20);
  const fd = fs.openSync(file, 'r');
  for (let read; (read = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) for (let i = 0; i < read; i++) if (buffer[i] === 10) n++;
  fs.closeSync(fd);
  return n - 1;
}

/** The baseline: every file COPYed as it is into a table of text columns. */
async function plainCopy(url: string, dir: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const started = Date.now();
    for (const file of FILES) {
      const header = fs.readFileSync(path.join(dir, file), 'utf8').split(/\r?\n/, 1)[0].split(',');
      const table = `raw_${file.replace('.csv', '')}`;
      await client.query(`create table ${table} (${header.map((_, i) => `c${i} text`).join(', ')})`);
      const copy = client.query(copyFrom(`copy ${table} from stdin with (format csv, header)`));
      await pipeline(fs.createReadStream(path.join(dir, file), { highWaterMark: 256 * 1024 }), copy as unknown as Writable);
    }
    return Date.now() - started;
  } finally {
    await client.end();
  }
}

async function ourImport(db: Db, dir: string, perFile: string[], steps: SizeResult['steps']): Promise<number> {
  const mappings = loadMappings();
  const started = Date.now();
  const session = await beginImport(db, log, { origin: 'cli' });
  for (const mapping of mappings.values()) {
    const summary = await session.loadFile({ mapping, fileName: mapping.fileName, stream: fs.createReadStream(path.join(dir, mapping.fileName), { highWaterMark: 256 * 1024 }) });
    const line = `${mapping.fileName}: ${fmt(summary.rowsRead)} rows in ${secs(summary.ms)} s (${Object.entries(summary.timings).map(([k, v]) => `${k} ${secs(v)} s`).join(', ')})`;
    console.log(`  ${line}`);
    perFile.push(line);
    for (const [step, ms] of Object.entries(summary.timings) as Array<[keyof SizeResult['steps'], number]>) steps[step] += ms;
  }
  await session.commit();
  const rebuilt = session.rebuilt();
  steps.rebuild += rebuilt.ms;
  const line = `commit: ${rebuilt.statements} indexes and constraints set aside by the first load rebuilt in ${secs(rebuilt.ms)} s`;
  console.log(`  ${line}`);
  perFile.push(line);
  return Date.now() - started;
}

/** The goal line: met only when measured at 100k and 1M in this run, with the bound the steps after parsing set. */
function ratioGoal(results: SizeResult[]): string[] {
  const goalSizes = [100_000, 1_000_000];
  const measured = results.filter((r) => goalSizes.includes(r.records));
  const ratio = (r: SizeResult) => r.copyMs / r.importMs;
  const met = measured.length === goalSizes.length && measured.every((r) => ratio(r) >= RATIO_GOAL);
  const missing = goalSizes.filter((n) => !measured.some((r) => r.records === n));
  const figures = measured.map((r) => {
    const afterParse = r.steps.duplicates + r.steps.rejects + r.steps.upsert + r.steps.rebuild;
    return `${ratio(r).toFixed(3)} at ${fmt(r.records)} records (plain COPY ${secs(r.copyMs)} s, import ${secs(r.importMs)} s: stream ${secs(r.steps.stream)} s, duplicate check ${secs(r.steps.duplicates)} s, rejects ${secs(r.steps.rejects)} s, upsert ${secs(r.steps.upsert)} s, index rebuild ${secs(r.steps.rebuild)} s; `
      + `were parsing and staging as fast as the whole plain COPY, the steps after it would still cap the ratio at ${(r.copyMs / (r.copyMs + afterParse)).toFixed(2)})`;
  });
  return [`Goal import ÷ plain COPY ≥ ${RATIO_GOAL} in rows/s at 100k and 1M records, same run: **${met ? 'met' : 'not met'}** — ${figures.join('; ') || 'no goal size measured'}${missing.length ? `; not measured in this run: ${missing.map(fmt).join(', ')} records` : ''}.`];
}

function phaseTimes(pass: PassView): Record<string, number> {
  return Object.fromEntries(pass.phases.map((p) => [p.phase, Date.parse(p.finishedAt!) - Date.parse(p.startedAt)]));
}

/** Each phase's steps as the activities timed them (`time.<step>`, `loopMax.<step>` in the phase's stats). */
function passProfile(pass: PassView): string {
  return pass.phases.map((p) => {
    const stats = p.stats ?? {};
    const steps = Object.keys(stats).filter((k) => k.startsWith('time.')).map((k) => k.slice(5));
    const wall = Date.parse(p.finishedAt!) - Date.parse(p.startedAt);
    return `${p.phase} ${secs(wall)} s (${steps.map((step) => `${step} ${secs(Number(stats[`time.${step}`]))} s, loop ≤ ${fmt(Number(stats[`loopMax.${step}`] ?? 0))} ms${Number(stats[`gcMax.${step}`] ?? 0) >= 50 ? ` (GC pause ≤ ${fmt(Number(stats[`gcMax.${step}`]))} ms)` : ''}`).join('; ')})`;
  }).join(' · ');
}

/** The pass's steps, each with its time and the longest event-loop wait and GC pause in it. */
function passSteps(pass: PassView): Array<{ step: string; ms: number; loopMs: number; gcMs: number }> {
  return pass.phases.flatMap((p) => {
    const stats = p.stats ?? {};
    return Object.keys(stats).filter((k) => k.startsWith('time.')).map((k) => k.slice(5)).map((step) => ({
      step: `${p.phase}.${step}`, ms: Number(stats[`time.${step}`]), loopMs: Number(stats[`loopMax.${step}`] ?? 0), gcMs: Number(stats[`gcMax.${step}`] ?? 0),
    }));
  });
}

function worstLoop(pass: PassView, label: string): { pass: string; step: string; ms: number; gcMs: number } {
  const worst = passSteps(pass).reduce((a, b) => (b.loopMs > a.loopMs ? b : a), { step: '-', ms: 0, loopMs: 0, gcMs: 0 });
  return { pass: label, step: worst.step, ms: worst.loopMs, gcMs: worst.gcMs };
}

/**
 * 1 % new person records: every 100th record of the set registers again in the loyalty scheme
 * under a new key (same name, e-mail, phone and birth date), so each new record joins a customer.
 */
async function importNewRecords(db: Db, dir: string, records: number): Promise<number> {
  const lines = fs.readFileSync(path.join(dir, 'loyalty.csv'), 'utf8').split('\r\n');
  const header = lines[0];
  const body = lines.slice(1).filter((l) => l !== '');
  const wanted = Math.max(1, Math.round(records / 100));
  const every = Math.max(1, Math.floor(body.length / wanted));
  const picked: string[] = [];
  for (let i = 0; i < body.length && picked.length < wanted; i += every) picked.push(body[i].replace(/^LOYID_(\d+)/, 'LOYID_N$1'));
  const mapping = loadMappings().get('loyalty')!;
  const session = await beginImport(db, log, { origin: 'cli' });
  await session.loadFile({ mapping, fileName: 'loyalty-new.csv', stream: Readable.from([Buffer.from(`${header}\r\n${picked.join('\r\n')}\r\n`)]) });
  await session.commit();
  return picked.length;
}

/** Runs `fn` while measuring the event loop's delay (the worker runs in this process): the maximum in ms. */
async function withLoopDelay<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  try {
    const value = await fn();
    return [value, Math.round(delay.max / 1e6)];
  } finally {
    delay.disable();
  }
}

/** Issue 10 part 3: the unification figures against their goals, with the profile of each pass. */
function unificationLines(results: SizeResult[]): string[] {
  const LOOP_GOAL_MS = 200;
  const lines: string[] = ['Unification, where the time goes (per phase, then per step: wall time and the longest the worker\'s event loop waited during the step, `monitorEventLoopDelay`; the steps of a phase can overlap Postgres work, so they need not add up to the phase):', ''];
  for (const r of results) {
    lines.push(`* ${fmt(r.records)} records, first pass ${secs(r.unifyMs)} s, event loop delay max ${fmt(r.loopMaxMs)} ms: ${r.profile}`);
    lines.push(`* ${fmt(r.records)} records, unchanged re-run ${secs(r.rerunMs)} s (${r.rerunReused ? 'reused the previous result' : 'a full pass'}; ${((100 * r.rerunMs) / r.unifyMs).toFixed(1)} % of the first pass), event loop delay max ${fmt(r.rerunLoopMaxMs)} ms: ${r.rerunProfile}`);
  }
  for (const r of results) {
    const i = r.incremental;
    lines.push(`* ${fmt(r.records)} records + ${fmt(i.newRecords)} new (1 %): ${i.mode} pass ${secs(i.ms)} s over ${fmt(i.scope)} records (${((100 * i.ms) / i.fullMs).toFixed(1)} % of the full pass below), event loop delay max ${fmt(i.loopMaxMs)} ms: ${i.profile}`);
    lines.push(`* then a full pass over the same records ${secs(i.fullMs)} s, event loop delay max ${fmt(i.fullLoopMaxMs)} ms: ${i.fullSummary} — CustomerIds **${i.identical ? 'identical' : 'different'}** to the incremental pass's: ${i.fullProfile}`);
  }
  lines.push('');
  const worst = Math.max(...results.map((r) => Math.max(r.loopMaxMs, r.rerunLoopMaxMs, r.incremental.loopMaxMs, r.incremental.fullLoopMaxMs)));
  const where = results.flatMap((r) => r.loopWorst.map((w) => ({ ...w, records: r.records }))).filter((w) => w.ms > LOOP_GOAL_MS).sort((a, b) => b.ms - a.ms);
  lines.push(`Goal: no step blocks the worker's event loop for more than ${LOOP_GOAL_MS} ms: **${worst <= LOOP_GOAL_MS ? 'met' : 'not met'}** — the maximum delay measured over every pass of this run was ${fmt(worst)} ms${where.length ? `; above the goal: ${where.map((w) => `${fmt(w.ms)} ms in ${w.step} of the ${w.pass} at ${fmt(w.records)}${w.gcMs >= 50 ? ` (longest GC pause in that step ${fmt(w.gcMs)} ms)` : ''}`).join(', ')}. The delay counts every wait of the loop, also the time the process waits for a core on a shared machine (load ${results.map((r) => r.load.toFixed(1)).join(' / ')} when each size's first pass ended)` : ''}.`);
  const million = results.find((r) => r.records === 1_000_000);
  if (million) {
    const total = million.importMs + million.unifyMs;
    lines.push(`Goal: 1M person records with their purchases imported and unified in ≤ 60 s, peak RSS ≤ 1.5 GiB: **${total <= 60_000 && million.rssMb <= 1536 ? 'met' : 'not met'}** — import ${secs(million.importMs)} s + unification ${secs(million.unifyMs)} s = ${secs(total)} s, peak RSS ${fmt(million.rssMb)} MiB (the benchmark process, sampled during the passes: the worker, and the heap the import left in the same process just before). Why: the plain COPY of the same files alone took ${secs(million.copyMs)} s; the import parses, types and checks every cell in Node (see the import goal); the pass's slowest steps were ${million.slowest.map((x) => `${x.step} ${secs(x.ms)} s`).join(', ')}, mostly reading and writing a million rows in PostgreSQL on the same two cores.`);
    lines.push(`Goal: unchanged re-run ≤ 5 % of a full pass at 1M: **${million.rerunMs <= 0.05 * million.unifyMs ? 'met' : 'not met'}** — ${secs(million.rerunMs)} s against ${secs(million.unifyMs)} s (${((100 * million.rerunMs) / million.unifyMs).toFixed(1)} %).`);
    const inc = million.incremental;
    lines.push(`Goal: after importing 1 % new records, a pass costs about 1 % of a full pass plus a constant, with CustomerIds identical to a full pass: ${inc.mode === 'incremental' && inc.identical ? '**met in part**' : '**not met**'} — ${inc.mode} pass ${secs(inc.ms)} s (${((100 * inc.ms) / inc.fullMs).toFixed(1)} % of the ${secs(inc.fullMs)} s full pass), matching ${fmt(inc.scope)} of ${fmt(million.records + inc.newRecords)} records; CustomerIds ${inc.identical ? 'identical' : 'different'}. Why more than 1 %: the scope is ${((100 * inc.scope) / (million.records + inc.newRecords)).toFixed(1)} % of the records (each new record brings its customer's records, old and new), and the pass's slowest steps were ${inc.slowest.map((x) => `${x.step} ${secs(x.ms)} s`).join(', ')}; the rest is the per-pass constant (bookkeeping activities, the fingerprint, the plan's scan of the touched blocks).`);
    const hundred = results.find((r) => r.records === 100_000);
    if (hundred) {
      const ratio = (million.unifyMs / million.records) / (hundred.unifyMs / hundred.records);
      lines.push(`Goal: unification time per record flat from 100k to 1M within ±30 %: **${Math.abs(ratio - 1) <= 0.3 ? 'met' : 'not met'}** — ${fmt((hundred.unifyMs * 1000) / hundred.records)} µs at 100k, ${fmt((million.unifyMs * 1000) / million.records)} µs at 1M (×${ratio.toFixed(2)}), at load ${hundred.load.toFixed(1)} and ${million.load.toFixed(1)} when the passes ended; the slowest steps at 1M: ${million.slowest.map((x) => `${x.step} ${fmt((x.ms * 1000) / million.records)} µs per record`).join(', ')}, against ${hundred.slowest.map((x) => `${x.step} ${fmt((x.ms * 1000) / hundred.records)}`).join(', ')} at 100k.`);
    }
  } else {
    lines.push('The 1M goals (≤ 60 s end to end, unchanged re-run ≤ 5 %, time per record flat from 100k) were not measured in this run.');
  }
  lines.push('');
  return lines;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'generate') {
    const { values } = parseArgs({ args: argv.slice(1), options: { records: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string', default: '42' } } });
    const set = await generate(Number(values.records), path.resolve(values.out!), Number(values.seed));
    console.log(`generated ${fmt(set.personRecords)} person records (${fmt(set.persons)} people) and ${fmt(set.purchases)} purchases in ${set.dir}`);
    return;
  }
  if (argv[0] === 'shards') return shardBench(argv.slice(1));
  const { values } = parseArgs({ args: argv, options: { sizes: { type: 'string', default: '10000,100000,1000000' }, work: { type: 'string' } } });
  const sizes = values.sizes!.split(',').map(Number);
  const config = loadConfig();
  const loadAtStart = os.loadavg()[0];
  const work = path.resolve(values.work ?? path.join(os.tmpdir(), 'customer-bench'));
  fs.mkdirSync(work, { recursive: true });
  Runtime.install({ logger: new DefaultLogger('WARN') });

  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);
  const cluster = await startEmbeddedPostgres({ dataDir: path.join(work, 'pg'), port: await freePort(), database: 'postgres', log });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: toolPaths(config.toolsDir).temporalCli }, searchAttributes: ALL_SEARCH_ATTRIBUTES, ui: false },
  });
  const results: SizeResult[] = [];
  try {
    for (const size of sizes) {
      const dir = path.join(work, `set-${size}`);
      if (!fs.existsSync(path.join(dir, 'ATTRIBUTION.txt'))) {
        const started = Date.now();
        const set = await generate(size, dir);
        console.log(`\n[${fmt(size)}] generated ${fmt(set.personRecords)} person records, ${fmt(set.purchases)} purchases in ${secs(Date.now() - started)} s`);
      }
      const rows = FILES.reduce((n, f) => n + lineCount(path.join(dir, f)), 0);
      for (const f of FILES) fs.readFileSync(path.join(dir, f)); // same warm page cache for both loaders

      const name = `bench_${size}_${Date.now()}`;
      const admin = new pg.Client({ connectionString: cluster.urlFor('postgres') });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.query(`create database ${name}_copy`);
      await admin.end();
      const db = createDb(cluster.urlFor(name), { pool: { min: 0, max: 6 } });
      await migrateLatest(db);

      const copyMs = await plainCopy(cluster.urlFor(`${name}_copy`), dir);
      const perFile: string[] = [];
      const steps = { stream: 0, duplicates: 0, rejects: 0, upsert: 0, rebuild: 0 };
      const importMs = await ourImport(db, dir, perFile, steps);
      console.log(`\n[${fmt(size)}] ${fmt(rows)} rows: plain COPY ${secs(copyMs)} s (${fmt(rows / (copyMs / 1000))} rows/s), our import ${secs(importMs)} s (${fmt(rows / (importMs / 1000))} rows/s), import ÷ COPY in rows/s ${(copyMs / importMs).toFixed(3)} (goal ≥ ${RATIO_GOAL})`);

      const taskQueue = `bench-${size}`;
      const mailer = createSmtpMailer({ host: '127.0.0.1', port: 1, secure: false, user: null, password: null, from: 'bench@contoso.example' });
      const worker = await createSalesWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue, db, mailer, log, customers: loadConfig().customers });
      const running = worker.run();
      let peakRss = 0;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
      try {
        let started = Date.now();
        const [pass, loopMaxMs] = await withLoopDelay(async () => waitForUnification(env.client, await requestUnification(env.client, taskQueue, { trigger: 'cli', by: 'bench' }), { pollMs: 200 }));
        const unifyMs = Date.now() - started;
        if (pass.status !== 'completed') throw new Error(`unification failed: ${pass.error}`);
        const phases = phaseTimes(pass);
        const profile = passProfile(pass);
        const load = os.loadavg()[0];
        console.log(`[${fmt(size)}] unification end to end ${secs(unifyMs)} s (${Object.entries(phases).map(([p, ms]) => `${p} ${secs(ms)} s`).join(', ')}); ${fmt(pass.summary!.customers)} customers; event loop delay max ${fmt(loopMaxMs)} ms`);
        console.log(`[${fmt(size)}]   ${profile}`);
        started = Date.now();
        const ticket = await requestUnification(env.client, taskQueue, { trigger: 'cli', by: 'bench' });
        const [again, rerunLoopMaxMs] = await withLoopDelay(() => waitForUnification(env.client, ticket, { pollMs: 200 }));
        const rerunMs = Date.now() - started;
        const rerunProfile = passProfile(again);
        const rerunReused = Boolean(again.reusedFrom);
        console.log(`[${fmt(size)}]   re-run: ${rerunReused ? `reused pass ${again.reusedFrom}; ` : ''}${rerunProfile}; event loop delay max ${fmt(rerunLoopMaxMs)} ms`);
        // Let the run end while its worker is still here: the next size's request must start a new run.
        await env.client.workflow.getHandle(ticket.workflowId, ticket.runId).result();
        console.log(`[${fmt(size)}] unchanged re-run ${secs(rerunMs)} s (${Object.entries(phaseTimes(again)).map(([p, ms]) => `${p} ${secs(ms)} s`).join(', ')}); ids kept ${fmt(again.summary!.kept)}, new ${again.summary!.created}`);

        // 1 % new records: an incremental pass, then a full pass over the same records, which must change no CustomerId.
        const newRecords = await importNewRecords(db, dir, size);
        started = Date.now();
        const incTicket = await requestUnification(env.client, taskQueue, { trigger: 'cli', by: 'bench' });
        const [inc, incLoopMaxMs] = await withLoopDelay(() => waitForUnification(env.client, incTicket, { pollMs: 200 }));
        const incMs = Date.now() - started;
        await env.client.workflow.getHandle(incTicket.workflowId, incTicket.runId).result();
        if (inc.status !== 'completed') throw new Error(`incremental pass failed: ${inc.error}`);
        const incScope = Number(inc.phases.find((p) => p.phase === 'match')?.stats?.records ?? 0);
        const before = new Map((await db('customer_members').select('record_id', 'customer_id')).map((m: { record_id: string; customer_id: string }) => [m.record_id, m.customer_id]));
        started = Date.now();
        const fullTicket = await requestUnification(env.client, taskQueue, { trigger: 'cli', by: 'bench', full: true });
        const [fullPass, fullLoopMaxMs] = await withLoopDelay(() => waitForUnification(env.client, fullTicket, { pollMs: 200 }));
        const fullMs = Date.now() - started;
        if (fullPass.status !== 'completed') throw new Error(`full pass failed: ${fullPass.error}`);
        await env.client.workflow.getHandle(fullTicket.workflowId, fullTicket.runId).result();
        const after = await db('customer_members').select('record_id', 'customer_id');
        const identical = after.length === before.size && after.every((m: { record_id: string; customer_id: string }) => before.get(m.record_id) === m.customer_id);
        const fs2 = fullPass.summary!;
        const incremental = {
          newRecords, ms: incMs, mode: inc.mode ?? 'full', scope: incScope, profile: passProfile(inc), loopMaxMs: incLoopMaxMs,
          slowest: passSteps(inc).sort((a, b) => b.ms - a.ms).slice(0, 4).map(({ step, ms }) => ({ step, ms })),
          fullMs, fullProfile: passProfile(fullPass), fullLoopMaxMs, identical,
          fullSummary: `created ${fs2.created}, joined ${fs2.joined}, split ${fs2.split}, profiles changed ${fs2.profilesChanged}, removed ${fs2.profilesRemoved}`,
        };
        console.log(`[${fmt(size)}] +${fmt(newRecords)} new records: ${incremental.mode} pass ${secs(incMs)} s over ${fmt(incScope)} records (${incremental.profile}; loop max ${fmt(incLoopMaxMs)} ms); full pass ${secs(fullMs)} s (${incremental.fullProfile}; loop max ${fmt(fullLoopMaxMs)} ms): ${incremental.fullSummary}; CustomerIds ${identical ? 'identical' : 'DIFFERENT'}`);

        const members = await db('customer_members as m').join('customer_source_records as r', 'r.id', 'm.record_id').select('r.source_key', 'm.customer_id');
        const quality = pairwiseQuality(new Map(members.map((m: { source_key: string; customer_id: string }) => [m.source_key, m.customer_id])), readTruth(path.join(dir, 'truth.csv')));
        console.log(`[${fmt(size)}] quality vs truth.csv: precision ${quality.precision.toFixed(4)}, recall ${quality.recall.toFixed(4)}, F1 ${quality.f1.toFixed(4)}; peak RSS ${fmt(peakRss / 2 ** 20)} MiB`);
        results.push({
          perFile, steps,
          records: size, rows, copyMs, importMs, unifyMs, phases, rerunMs, customers: pass.summary!.customers,
          f1: quality.f1, precision: quality.precision, recall: quality.recall, rssMb: peakRss / 2 ** 20,
          loopMaxMs, rerunLoopMaxMs, profile, rerunProfile, rerunReused, incremental, load,
          loopWorst: [worstLoop(pass, 'first pass'), worstLoop(again, 'unchanged re-run'), worstLoop(inc, 'incremental pass'), worstLoop(fullPass, 'full pass after it')],
          slowest: passSteps(pass).sort((a, b) => b.ms - a.ms).slice(0, 4).map(({ step, ms }) => ({ step, ms })),
        });
      } finally {
        clearInterval(sampler);
        worker.shutdown();
        await running;
        mailer.close();
        await db.destroy();
      }
    }
  } finally {
    await env.teardown();
    await cluster.stop();
  }

  const table = [
    '| person records | CSV rows (4 files) | plain COPY (baseline) | our import | import ÷ COPY in rows/s (goal ≥ 0.5) | unification end to end | map / match / cluster / merge | unchanged re-run | µs per record | F1 vs truth.csv (precision / recall) | peak RSS |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |',
    ...results.map((r) => {
      const p = r.phases;
      return `| ${fmt(r.records)} | ${fmt(r.rows)} | ${fmt(r.rows / (r.copyMs / 1000))} rows/s | ${fmt(r.rows / (r.importMs / 1000))} rows/s | ${(r.copyMs / r.importMs).toFixed(3)} | ${secs(r.unifyMs)} s | ${secs(p.map)} / ${secs(p.match)} / ${secs(p.cluster)} / ${secs(p.merge)} s | ${secs(r.rerunMs)} s | ${fmt((r.unifyMs * 1000) / r.records)} | ${r.f1.toFixed(4)} (${r.precision.toFixed(4)} / ${r.recall.toFixed(4)}) | ${fmt(r.rssMb)} MiB |`;
    }),
  ];
  console.log(`\n${table.join('\n')}`);

  // Quality of the shipped rules on the real sets, measured in the same run (the block bench:customers:quality rewrites alone).
  const quality = await standardQuality(config.customers.matchRulesFile, config.dataDir);

  const largest = results[results.length - 1];
  const growth = results.slice(1).map((r, i) => {
    const prev = results[i];
    return `×${fmt(r.records / prev.records)} records (${fmt(prev.records)} → ${fmt(r.records)}): unification ×${(r.unifyMs / prev.unifyMs).toFixed(1)}, import ×${(r.importMs / prev.importMs).toFixed(1)}`;
  });
  writeBenchmarkSection('customers', 'Customer view: import against plain COPY, unification at 10k / 100k / 1M records, match quality',
    `npm run bench:customers -- ${argv.join(' ')}`, [
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; embedded PostgreSQL 18 with default durability; Temporal dev server (CLI ${'v1.5.1'}); worker in the benchmark process. Other sessions shared the machine (load average ${loadAtStart.toFixed(1)} when the run started, ${os.loadavg()[0].toFixed(1)} when it ended), so single figures move by ±20 % or more; each baseline ran next to its figure, and the ratios are what compare across runs.`,
      '',
      'Data: `bench/customers/generate.ts` (seed 42) — N person records (eCommerce contacts + loyalty members, about 1.43 records per person) with their purchases, in the Contoso layout, with the noise of customers-sample and a truth.csv. Baseline: plain `COPY … FROM STDIN (FORMAT csv, HEADER)` of the same four files into text tables. Ours: split records (db/csvScan.ts), map and type every cell, reject bad rows, stage with COPY, reject duplicate keys, upsert by source key (into empty tables without their secondary indexes, unique key and foreign keys, rebuilt before the commit) — one transaction. Unification: from the request to the pass\'s completion through the real workflow and worker; then an unchanged re-run.',
      '',
      ...table,
      '',
      ...(growth.length ? [`Growth: ${growth.join('; ')}. Blocking keeps the comparisons proportional to the records (no phase compares all pairs); the time per record (table) still rises at 1M, where the in-memory match handles a million records at once and the map and merge phases write a million rows each.`, ''] : []),
      `Import time by step at ${fmt(largest.records)} records: ${largest.perFile.join('; ')}.`,
      '',
      ...unificationLines(results),
      ...ratioGoal(results),
      '',
      'Where the import\'s time goes (`node --require tsx/cjs bench/customers/profileImport.ts DIR` on the 100,000-record set, 2026-11-30, load average 11.6 on the 2 cores): plain COPY 1.5 s; first load 17.2 s (ratio 0.086) = stream 9.3 s + duplicate check 0.7 s + filing rejects 0.6 s + insert 4.0 s + the commit rebuilding the 12 indexes and constraints the first load set aside 2.5 s; re-import of the same files 14.2 s (0.104), nothing rewritten. Before issue 10 part 2 the same profile, run on the same set that day at load average 1.6, gave 29.9 s for the first load (0.037; upsert 15.7 s) and 16.7 s for the re-import (0.067). The stream step is now Node\'s work (a CPU profile: the row hash\'s text and md5, `parseRow`\'s typing, writing stage lines, the record splitter, garbage collection), about 6× the plain COPY of the same files; PostgreSQL\'s COPY into the stage runs beside it.',
      '',
      'Directions measured for issue 10: (1) COPY of the raw records into a stage with the cells typed in set-based SQL (`pg_input_is_valid`, messages and line numbers as today): built and passing the import tests, but PostgreSQL evaluates the per-cell expressions far slower than V8 runs `domain/customers/values.ts` — typing online_purchases (81,250 rows) took 3.4 s against 0.6 s for its plain COPY (a `regexp_replace` with capture groups 33 µs per call) — so the cells stay typed in JavaScript, by the parsers that are the reference. (2) csv-parse with `info` and `raw` (a third of the old stream step) replaced by a splitter that finds records, lines and field counts itself and hands over to csv-parse from the first irregular record (a stray quote, an unclosed one, a carriage return), so bad rows are judged exactly as before. (3) A first load into an empty table writes without the six search indexes, the (source, source_key) key and the two foreign keys, and builds them once before the commit (measured on contacts: 7.9 s with them, 1.5 s without plus 0.9 s to build them); it holds the table\'s exclusive lock until the commit. (4) `row_hash` computed in Node while streaming (the md5 of the text `row(…)::text` gives, tested equal): `md5(row(…)::text)` in the insert was half of its time. (5) An accepted row\'s raw text is staged only when a Bloom filter says its key may repeat (the first occurrence of a key loads and needs none). (6) Re-import: unchanged rows are never rewritten (hash compared), the stage is analysed only when it is joined with stored rows. Not built: parsing on worker threads — the machine has 2 cores shared with other sessions (load 11–20 during these runs) and PostgreSQL already runs beside Node. Even were Node free, PostgreSQL\'s own part (COPY into the stage, the insert, the rebuild) caps the ratio well below 0.5 (see the goal line).',
      '',
      benchmarkSection(QUALITY_SECTION, 'Match quality', 'npm run bench:customers:quality', qualityLines(quality), 3),
    ]);
  console.log('\nBENCHMARKS.md: section "customers" written');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
