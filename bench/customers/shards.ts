/**
 * `npm run bench:customers -- shards [--records 100000] [--shard-records 25000] [--work DIR]`
 *
 * The sharded match against the one-activity match, on one generated set (bench/customers/
 * generate.ts) imported once into a throwaway embedded PostgreSQL, with a Temporal dev server and
 * worker processes of their own (bench/customers/unificationWorker.ts), fresh for each run:
 *   1. a full pass matched in one activity, one worker process (the reference);
 *   2. a full pass with the match sharded (UNIFICATION_SHARD_RECORDS=--shard-records), one worker;
 *   3. the same with two worker processes on the task queue.
 * For each: the pass's time, the match phase's time, and each worker process's peak RSS (VmHWM)
 * and its RSS once ready; whether every record has the CustomerId of the reference run. Prints
 * its figures and writes them to BENCHMARKS.md ("customers-shards").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import pg from 'pg';
import { requestUnification, waitForUnification } from '../../api/unificationClient';
import { loadConfig } from '../../config';
import { loadMappings } from '../../config/customers';
import { createLogger } from '../../config/logger';
import { beginImport } from '../../db/customers/importer';
import { startEmbeddedPostgres } from '../../db/embedded';
import { createDb, migrateLatest, type Db } from '../../db/knex';
import { freePort } from '../../scripts/lib/services';
import { toolPaths } from '../../scripts/lib/tools';
import type { PassView } from '../../workflows/customerUnification.contract';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/searchAttributes';
import { rssOf } from '../lib/proc';
import { writeBenchmarkSection } from '../report';
import { generate } from './generate';

const log = createLogger('warn', { pretty: true }).child({ component: 'bench' });
const secs = (ms: number) => (ms / 1000).toFixed(1);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function startWorker(env: TestWorkflowEnvironment, url: string, taskQueue: string, identity: string, shardRecords: number): Promise<{ child: ChildProcess; readyRss: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, 'unificationWorker.ts')], {
    env: { ...process.env, TEMPORAL_ADDRESS: env.address, TASK_QUEUE: taskQueue, DATABASE_URL: url, WORKER_IDENTITY: identity, UNIFICATION_SHARD_RECORDS: String(shardRecords) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.once('exit', () => reject(new Error(`worker ${identity} exited before it was ready`)));
  });
  return {
    child, readyRss: rssOf(child.pid!).now,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function importSet(db: Db, dir: string): Promise<void> {
  const session = await beginImport(db, log, { origin: 'cli' });
  for (const mapping of loadMappings().values()) {
    await session.loadFile({ mapping, fileName: mapping.fileName, stream: fs.createReadStream(path.join(dir, mapping.fileName), { highWaterMark: 256 * 1024 }) });
  }
  await session.commit();
}

export async function shardBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { records: { type: 'string', default: '100000' }, 'shard-records': { type: 'string' }, work: { type: 'string' } } });
  const records = Number(values.records);
  const shardRecords = Number(values['shard-records'] ?? Math.ceil(records / 4));
  const work = path.resolve(values.work ?? path.join(os.tmpdir(), 'customer-bench'));
  fs.mkdirSync(work, { recursive: true });
  Runtime.install({ logger: new DefaultLogger('WARN') });
  console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const dir = path.join(work, `set-${records}`);
  if (!fs.existsSync(path.join(dir, 'ATTRIBUTION.txt'))) await generate(records, dir);
  const pgDir = fs.mkdtempSync(path.join(work, 'pg-shards-'));
  const cluster = await startEmbeddedPostgres({ dataDir: pgDir, port: await freePort(), database: 'postgres', log });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: toolPaths(loadConfig().toolsDir).temporalCli }, searchAttributes: ALL_SEARCH_ATTRIBUTES, ui: false },
  });
  try {
    const name = `shards_${records}`;
    const admin = new pg.Client({ connectionString: cluster.urlFor('postgres') });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const url = cluster.urlFor(name);
    const db = createDb(url, { pool: { min: 0, max: 4 } });
    await migrateLatest(db);
    let started = Date.now();
    await importSet(db, dir);
    console.log(`imported ${fmt(records)} person records in ${secs(Date.now() - started)} s`);

    const members = async () => new Map((await db('customer_members').select('record_id', 'customer_id')).map((m: { record_id: string; customer_id: string }) => [m.record_id, m.customer_id]));
    let reference: Map<string, string> | null = null;
    const rows: string[] = [];
    const runs: Array<{ label: string; workers: number; shardRecords: number }> = [
      { label: 'one activity, 1 worker', workers: 1, shardRecords: records * 10 },
      { label: `sharded (${fmt(shardRecords)} records per shard), 1 worker`, workers: 1, shardRecords },
      { label: `sharded (${fmt(shardRecords)} records per shard), 2 workers`, workers: 2, shardRecords },
    ];
    for (const [index, run] of runs.entries()) {
      const taskQueue = `shards-${index}`;
      const workers = await Promise.all(Array.from({ length: run.workers }, (_, w) => startWorker(env, url, taskQueue, `bench-worker-${index}-${w + 1}`, run.shardRecords)));
      let pass: PassView;
      const loadBefore = os.loadavg()[0];
      // Each worker's RSS over time, to read its peak while the match phase ran.
      const samples: Array<{ at: number; rss: number[] }> = [];
      const sampler = setInterval(() => samples.push({ at: Date.now(), rss: workers.map((w) => rssOf(w.child.pid!).now) }), 200);
      try {
        started = Date.now();
        const ticket = await requestUnification(env.client, taskQueue, { trigger: 'cli', by: 'bench', full: true });
        pass = await waitForUnification(env.client, ticket, { pollMs: 200, timeoutMs: 3_600_000 });
        const ms = Date.now() - started;
        await env.client.workflow.getHandle(ticket.workflowId, ticket.runId).result();
        if (pass.status !== 'completed') throw new Error(`pass failed: ${pass.error}`);
        const rss = workers.map((w) => ({ ...rssOf(w.child.pid!), ready: w.readyRss }));
        const match = pass.phases.find((p) => p.phase === 'match')!;
        // The first run maps every record; the later ones find the keys of the same inputs and skip the map.
        const map = pass.phases.find((p) => p.phase === 'map')!;
        const mapMs = Date.parse(map.finishedAt!) - Date.parse(map.startedAt);
        const matchMs = Date.parse(match.finishedAt!) - Date.parse(match.startedAt);
        const now = await members();
        reference ??= now;
        const same = now.size === reference.size && [...now].every(([record, customer]) => reference!.get(record) === customer);
        const during = samples.filter((x) => x.at >= Date.parse(match.startedAt) && x.at <= Date.parse(match.finishedAt!));
        const matchRss = workers.map((_, w) => ({ peak: Math.max(0, ...during.map((x) => x.rss[w])), start: during[0]?.rss[w] ?? 0 }));
        const s = match.stats!;
        const profile = Object.keys(s).filter((k) => k.startsWith('time.')).map((k) => `${k.slice(5)} ${secs(Number(s[k]))} s`).join(', ');
        const shardInfo = s.sharded === 'yes'
          ? `${s.shards} shards × rules = ${s['shard.activities']} shard activities, largest shard load ${fmt(Number(s['shard.loadedMax']))} records, ${s['shard.workers']} worker process(es) ran shards`
          : `not sharded: ${s.shardReason}`;
        console.log(`\n[${run.label}] pass ${secs(ms)} s (map ${secs(mapMs)} s), match ${secs(matchMs)} s (${shardInfo}); match steps (summed over shards) ${profile}; comparisons ${fmt(Number(s.comparisons))}, links ${fmt(Number(s.links))}; `
          + `${fmt(pass.summary!.customers)} customers (created ${pass.summary!.created}, joined ${pass.summary!.joined}, split ${pass.summary!.split}); CustomerIds ${same ? 'identical to' : 'DIFFERENT from'} the one-activity run; `
          + `peak RSS per worker ${rss.map((r) => `${fmt(r.peak)} MiB (${fmt(r.ready)} MiB once ready)`).join(', ')}; `
          + `RSS while the match ran, per worker: ${matchRss.map((r) => `peak ${fmt(r.peak)} MiB (${fmt(r.start)} MiB at its start)`).join(', ')}${s.sharded === 'yes' ? `; largest heap of a worker right after loading a shard (garbage of its earlier shards included) ${fmt(Number(s['shard.heapUsedMaxMiB']))} MiB` : ''}; load ${loadBefore.toFixed(1)} → ${os.loadavg()[0].toFixed(1)}`);
        rows.push(`| ${run.label} | ${secs(matchMs)} s | ${s.sharded === 'yes' ? `${s.shards} × ${Number(s['shard.activities']) / Number(s.shards)} rules; largest shard ${fmt(Number(s['shard.loadedMax']))} records; run by ${s['shard.workers']} worker process(es)` : 'one activity'} | ${matchRss.map((r) => `${fmt(r.peak)} MiB`).join(', ')} | ${fmt(Number(s.comparisons))} / ${fmt(Number(s.links))} | ${index === 0 ? 'reference' : same ? '**identical**' : '**different**'} | ${loadBefore.toFixed(1)} → ${os.loadavg()[0].toFixed(1)} |`);
      } finally {
        clearInterval(sampler);
        await Promise.all(workers.map((w) => w.stop()));
      }
    }
    await db.destroy();
    writeBenchmarkSection('customers-shards', 'Customer view: the match sharded over workers', `npm run bench:customers -- shards ${argv.join(' ')}`.trim(), [
      `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}; embedded PostgreSQL 18, Temporal dev server; each worker its own process (bench/customers/unificationWorker.ts), started fresh for each run. ${fmt(records)} person records (bench/customers/generate.ts), a full pass per run; the baseline is the same pass with its match in one activity, in the same run. Only the match is sharded (docs/customer-unification.md, "Sharding the match").`,
      '',
      '| run | match phase | shards | worker RSS while the match ran (peak, per process) | comparisons / links | CustomerIds vs one activity | load |',
      '| --- | ---: | --- | --- | ---: | --- | --- |',
      ...rows,
      '',
      'A shard holds only the records whose block key for its rule hashes to it, so its memory is bounded by the shard, not the set; sharded rules no longer skip pairs an earlier rule joined in another shard, hence more comparisons and links for the same customers. The worker\'s own baseline (code, gRPC, pools) is most of its RSS at this size.',
    ]);
  } finally {
    await env.teardown();
    await cluster.stop();
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
}
