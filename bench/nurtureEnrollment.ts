/**
 * `npm run bench -- nurture`: what the API costs on top of the raw Temporal client for the two calls
 * reps make most, and how big a sequence's history is.
 *
 * - Enrollment: `POST /leads/:id/nurture` over HTTP against `client.workflow.start` of the same
 *   workflow with the same input and options. No worker polls that task queue, so only the
 *   enrollment path is timed.
 * - Deal stage move: `POST /deals/:id/advance` against `executeUpdate(advanceDealUpdate)` on the
 *   same deal workflows, with the real worker (in this process) running them; each of 16 lanes moves
 *   its own deal between Qualify and Develop.
 * The API runs as deployed: its own process (api/main.ts, as `npm start` runs it), one per task
 * queue, against the same dev server and the same embedded Postgres. Raw and API rounds alternate,
 * at the same concurrency, in one run; the figure is the ratio of the medians. CPU per request is
 * read from /proc for each kind of process (this process: the load and the raw client, and for the
 * moves the worker; the API process; the Temporal dev server; Postgres).
 * Then one sequence runs to completion on the time-skipping server and its events are counted.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { startEmbeddedPostgres } from '../db/embedded';
import { createDb, migrateLatest } from '../db/knex';
import { LeadStore, type Lead } from '../db/stores/leads';
import { UserStore } from '../db/stores/users';
import { createSmtpMailer } from '../activities/mailer';
import { ensureTemporalCli, ensureTestServer, toolPaths } from '../scripts/lib/tools';
import { freePort, startMailInbox } from '../scripts/lib/services';
import { nodePart, type Running } from '../scripts/lib/supervisor';
import { ensureSearchAttributes } from '../worker/searchAttributes';
import { createSalesWorker } from '../worker/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import type { leadNurtureWorkflow } from '../workflows/leadNurture';
import type { sequenceEnrollmentWorkflow } from '../workflows/sequenceEnrollment';
import { enrollmentStart } from '../workflows/sequenceEnrollment.contract';
import { advanceDealUpdate, dealWorkflowId, type DealStage } from '../workflows/dealLifecycle.contract';
import { SequenceStore } from '../db/stores/sequences';
import { DEFAULT_WORKING_HOURS } from '../domain/sequences/time';
import { nurtureWorkflowId } from '../workflows/leadNurture.contract';
import { cpuBetween, cpuByCommand, type CpuReading } from './lib/proc';
import { writeBenchmarkSection } from './report';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_ROUND = 200;
const CONCURRENCY = 16;
const MOVES_PER_LANE = 8;
const GOAL = 0.9;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** What a path did over its rounds: requests per second in each, CPU seconds by kind of process, requests. */
interface PathFigures { rates: number[]; cpu: CpuReading; requests: number }

async function measure(figures: PathFigures, n: number, fn: () => Promise<void>): Promise<void> {
  const before = cpuByCommand();
  const started = process.hrtime.bigint();
  await fn();
  figures.rates.push(n / (Number(process.hrtime.bigint() - started) / 1e9));
  for (const [kind, seconds] of cpuBetween(before, cpuByCommand())) figures.cpu.set(kind, (figures.cpu.get(kind) ?? 0) + seconds);
  figures.requests += n;
}

const emptyFigures = (): PathFigures => ({ rates: [], cpu: new Map(), requests: 0 });

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('warn').child({ component: 'bench' });
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  await ensureTemporalCli(config.toolsDir, log);
  await ensureTestServer(config.toolsDir, log);
  const tools = toolPaths(config.toolsDir);
  const uptimeAtStart = os.loadavg().map((x) => x.toFixed(1)).join(' / ');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-nurture-'));
  fs.chmodSync(dataDir, 0o777);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: await freePort(), database: 'bench', log });
  const db = createDb(pg.url, { pool: { min: 0, max: 20 } });
  await migrateLatest(db);
  const { user, token } = await new UserStore(db).create({ name: 'Bench Rep', role: 'rep' });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: tools.temporalCli }, searchAttributes: ALL_SEARCH_ATTRIBUTES, ui: false },
  });

  // The API as deployed: a process of its own per task queue, on the same server and database.
  const apis: Running[] = [];
  const startApi = async (taskQueue: string): Promise<string> => {
    const port = await freePort();
    apis.push(await nodePart({
      entry: 'api/main.ts', pidFile: path.join(dataDir, `api-${taskQueue}.pid`), log,
      env: { ...process.env, DATABASE_URL: pg.url, TEMPORAL_ADDRESS: env.address, TASK_QUEUE: taskQueue, PORT: String(port), LOG_LEVEL: 'warn' },
    })());
    return `http://127.0.0.1:${port}`;
  };
  const enrollQueue = 'bench-no-worker';
  const dealQueue = 'bench-deals';
  const enrollApi = await startApi(enrollQueue);
  const dealApi = await startApi(dealQueue);

  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const post = (url: string, body?: unknown) =>
    new Promise<string>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const request = http.request(url, {
        method: 'POST', agent, headers: { Authorization: `Bearer ${token}`, ...(data ? { 'Content-Type': 'application/json' } : {}) },
      }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => (response.statusCode! < 300 ? resolve(text) : reject(new Error(`POST ${url}: ${response.statusCode} ${text}`))));
      });
      request.on('error', reject);
      request.end(data);
    });

  const leads = new LeadStore(db);
  let leadNumber = 0;
  const newLeads = async (n: number): Promise<Lead[]> => {
    const out: Lead[] = [];
    for (let i = 0; i < n; i++) {
      const k = leadNumber++;
      out.push(await leads.create({
        topic: 'Bench', firstName: 'Bench', lastName: `Lead ${k}`, email: `bench${k}@example.com`, mobilePhone: null, businessPhone: null,
        companyName: `Fabrikam ${k}`, website: null, street: null, city: null, postalCode: null, state: null, country: null, source: 'import',
        customerType: 'corporate', estimatedValueCents: null, ownerId: user.id,
      }, user.id, { actor: { type: 'user', id: user.id } }));
    }
    return out;
  };

  // ---- Enrollment. The raw baseline starts the same workflow with the same input and options the API builds.
  const version = await new SequenceStore(db).forEnrollment(null);
  const calendar = { zone: 'America/New_York', hours: DEFAULT_WORKING_HOURS, holidays: [] };
  const rawStart = (lead: Lead) => {
    const start = enrollmentStart({ type: 'lead', id: lead.id, ownerId: lead.ownerId, customerType: 'corporate', name: 'Bench Lead', company: 'Fabrikam' }, version, { recipient: calendar, owner: calendar }, user.id);
    return env.client.workflow.start<typeof sequenceEnrollmentWorkflow>('sequenceEnrollmentWorkflow', {
      workflowId: `raw-${start.workflowId}`, taskQueue: enrollQueue, args: [start.input], workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      memo: { operation: `raw-${lead.id}` }, staticSummary: start.staticSummary, typedSearchAttributes: start.typedSearchAttributes,
    });
  };
  const enroll = { raw: emptyFigures(), api: emptyFigures() };
  const enrollPaths: Array<[PathFigures, (lead: Lead) => Promise<unknown>]> = [
    [enroll.raw, rawStart],
    [enroll.api, (lead) => post(`${enrollApi}/leads/${lead.id}/nurture`)],
  ];
  for (const [, run] of enrollPaths) await pool(await newLeads(50), CONCURRENCY, async (lead) => void (await run(lead))); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [figures, run] of round % 2 ? [...enrollPaths].reverse() : enrollPaths) {
      const batch = await newLeads(PER_ROUND);
      await measure(figures, PER_ROUND, () => pool(batch, CONCURRENCY, async (lead) => void (await run(lead))));
    }
    console.log(`enrollment round ${round}: raw ${enroll.raw.rates.at(-1)!.toFixed(0)}/s, API ${enroll.api.rates.at(-1)!.toFixed(0)}/s`);
  }

  // ---- Deal stage moves: the worker (in this process) runs the deals' workflows.
  const sink = await startMailInbox({ smtpPort: await freePort(), webPort: await freePort(), log });
  const mailer = createSmtpMailer({ host: '127.0.0.1', port: sink.smtpPort, secure: false, user: null, password: null, from: 'bench@contoso.example' });
  const dealWorker = await createSalesWorker({ connection: env.nativeConnection, namespace: 'default', taskQueue: dealQueue, db, log, customers: config.customers, mailer });
  const move = { raw: emptyFigures(), api: emptyFigures() };
  await dealWorker.runUntil(async () => {
    const lanes: Array<{ dealId: string; stage: DealStage }> = [];
    for (const lead of await newLeads(CONCURRENCY)) {
      const qualified = JSON.parse(await post(`${dealApi}/leads/${lead.id}/qualify`)) as { dealId: string };
      lanes.push({ dealId: qualified.dealId, stage: 'qualify' });
    }
    const toggle = (lane: { stage: DealStage }): DealStage => (lane.stage = lane.stage === 'qualify' ? 'develop' : 'qualify');
    const movePaths: Array<[PathFigures, (lane: { dealId: string; stage: DealStage }) => Promise<unknown>]> = [
      [move.raw, (lane) => env.client.workflow.getHandle(dealWorkflowId(lane.dealId))
        .executeUpdate(advanceDealUpdate, { args: [{ to: toggle(lane), by: user.id, requestId: null }], updateId: crypto.randomUUID() })],
      [move.api, (lane) => post(`${dealApi}/deals/${lane.dealId}/advance`, { to: toggle(lane) })],
    ];
    const runMoves = (run: (lane: { dealId: string; stage: DealStage }) => Promise<unknown>, perLane: number) =>
      Promise.all(lanes.map(async (lane) => {
        for (let i = 0; i < perLane; i++) await run(lane);
      })).then(() => undefined);
    for (const [, run] of movePaths) await runMoves(run, 2); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const [figures, run] of round % 2 ? [...movePaths].reverse() : movePaths) {
        await measure(figures, lanes.length * MOVES_PER_LANE, () => runMoves(run, MOVES_PER_LANE));
      }
      console.log(`stage move round ${round}: raw ${move.raw.rates.at(-1)!.toFixed(0)}/s, API ${move.api.rates.at(-1)!.toFixed(0)}/s`);
    }
  });
  agent.destroy();
  for (const api of apis) await api.stop();
  await env.teardown();

  // History size of one complete run: time-skipping server, real activities, a MailDev catch-all.
  const ts = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tools.testServer } } });
  await ensureSearchAttributes(ts.connection, 'default');
  const worker = await createSalesWorker({ connection: ts.nativeConnection, namespace: 'default', taskQueue: 'bench-history', db, log, customers: config.customers, mailer });
  const [lead, other] = await newLeads(2);
  const [legacyEvents, events] = await worker.runUntil(async () => {
    // Baseline: the lead-nurture workflow that ran the SPEC cadence before sequences were data.
    const legacy = await ts.client.workflow.start<typeof leadNurtureWorkflow>('leadNurtureWorkflow', {
      workflowId: `history-${nurtureWorkflowId(lead.id)}`, taskQueue: 'bench-history',
      args: [{ leadId: lead.id, ownerId: lead.ownerId, customerType: 'corporate', enrolledBy: user.id }],
    });
    await legacy.result();
    const start = enrollmentStart({ type: 'lead', id: other.id, ownerId: other.ownerId, customerType: 'corporate', name: 'Bench Lead', company: 'Fabrikam' }, version, { recipient: calendar, owner: calendar }, user.id);
    const current = await ts.client.workflow.start<typeof sequenceEnrollmentWorkflow>('sequenceEnrollmentWorkflow', {
      workflowId: `history-${start.workflowId}`, taskQueue: 'bench-history', args: [start.input], typedSearchAttributes: start.typedSearchAttributes,
    });
    await current.result();
    return [(await legacy.fetchHistory()).events!.length, (await current.fetchHistory()).events!.length];
  });
  await sink.stop();
  await ts.teardown();
  await db.destroy();
  await pg.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const kinds: Array<[string, string]> = [['bench', 'load + raw client'], ['node', 'API process'], ['temporal', 'dev server'], ['postgres', 'Postgres']];
  const cpuCells = (f: PathFigures, withWorker: boolean) => kinds.map(([kind]) => {
    const ms = ((f.cpu.get(kind) ?? 0) * 1000) / f.requests;
    return kind === 'node' && ms < 0.05 ? '—' : `${ms.toFixed(1)}${kind === 'bench' && withWorker ? ' (with the worker)' : ''}`;
  }).join(' | ');
  const total = (f: PathFigures) => ([...f.cpu.entries()].filter(([kind]) => kinds.some(([k]) => k === kind)).reduce((sum, [, s]) => sum + s, 0) * 1000) / f.requests;
  const ratioOf = (pair: { raw: PathFigures; api: PathFigures }) => median(pair.api.rates) / median(pair.raw.rates);
  const verdict = (r: number) => (r >= GOAL ? `**met** (${r.toFixed(2)} ≥ ${GOAL})` : `**not met** (${r.toFixed(2)} < ${GOAL})`);
  const row = (label: string, f: PathFigures, base: PathFigures, withWorker: boolean) =>
    `| ${label} | ${fmt(f.rates)} | ${median(f.rates).toFixed(0)} | ${(median(f.rates) / median(base.rates)).toFixed(2)} | ${cpuCells(f, withWorker)} | ${total(f).toFixed(1)} |`;
  const header = `| path | per round (/s) | median | ÷ baseline | CPU ms per request: ${kinds.map(([, label]) => label).join(' | ')} | all |`;
  const rule = '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  /** One path pair's table and its verdict. */
  const comparison = (title: string, pair: { raw: PathFigures; api: PathFigures }, labels: [string, string], withWorker: boolean, reading: string) => {
    const ratio = ratioOf(pair);
    return [
      `### ${title}`, '', header, rule,
      row(labels[0], pair.raw, pair.raw, withWorker),
      row(labels[1], pair.api, pair.raw, withWorker),
      '', `**${title}, API ÷ raw client: ${ratio.toFixed(2)}**; goal ≥ ${GOAL}: ${verdict(ratio)}. ${reading}`, '',
    ];
  };
  const lines = [
    `Machine: ${os.cpus().length} × ${os.cpus()[0].model}, Node ${process.version}; Temporal dev server (CLI v1.5.1, SQLite in memory), embedded PostgreSQL 18; the API as its own process (api/main.ts), as \`npm start\` and a deployment run it. Load average at the start: ${uptimeAtStart}; at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} (other sessions share the two cores, so rates move between rounds: compare within a round, and the CPU columns, which load changes little).`,
    `${ROUNDS} rounds, raw and API alternating, concurrency ${CONCURRENCY}: ${PER_ROUND} enrollments per path and round (no worker polls their queue); ${CONCURRENCY * MOVES_PER_LANE} stage moves per path and round (${CONCURRENCY} deals, ${MOVES_PER_LANE} moves each between Qualify and Develop, the worker in the bench process running them). CPU: user + system seconds of each kind of process over the path's rounds ÷ its requests, from /proc.`,
    '',
    ...comparison('Enrollment', enroll, ['raw `client.workflow.start` of the same sequence enrollment, same input and options (**baseline**)', '`POST /leads/:id/nurture` over HTTP'], false,
      'Besides the token read the API makes two Postgres round trips: the person, the owner\'s calendar, the holidays and the version in one query before the start; the enrollment row and its audit entry in one statement after it.'),
    ...comparison('Deal stage move', move, ['raw `executeUpdate(advanceDealUpdate)` (**baseline**; the worker writes the move)', '`POST /deals/:id/advance` over HTTP'], true,
      'The API adds three Postgres round trips to the Update: the token, the deal\'s ownership check, and the deal\'s detail for the answer (the deal, lines, Tech Checks, quotes, moves and orders in one snapshot, one round trip: db/snapshot.ts).'),
    `History events per completed 4-step enrollment of the default sequence (time-skipping server, real activities): **${events}** (\`sequenceEnrollmentWorkflow\`, steps as local activities; goal ≤ 45: ${events <= 45 ? 'met' : 'not met'}), beside **${legacyEvents}** for the same cadence run by \`leadNurtureWorkflow\` before sequences were data (baseline, same run).`,
  ];
  writeBenchmarkSection('nurture', 'The API against the raw Temporal client (enrollment, stage move) and history size', 'npm run bench -- nurture', lines);
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
