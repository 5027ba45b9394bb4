/**
 * `npm run bench -- nurture`: what the API costs on top of Temporal when enrolling leads, and how
 * big a nurture run's history is.
 *
 * - Baseline: `client.workflow.start` of the nurture workflow with the raw Temporal client.
 * - Measured: `POST /leads/:id/nurture` through the real API (token check, lead read, start,
 *   audit row), over HTTP, against the same dev server and the same embedded Postgres.
 * Both at the same concurrency, in alternating rounds, in one process and one run; no worker polls
 * the task queue, so only the enrollment path is timed. The figure is the ratio of the medians.
 * Then one sequence runs to completion on the time-skipping server and its events are counted.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createApp } from '../api/app';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { startEmbeddedPostgres } from '../db/embedded';
import { createDb, migrateLatest } from '../db/knex';
import { LeadStore } from '../db/stores/leads';
import { UserStore } from '../db/stores/users';
import { createSmtpMailer } from '../activities/mailer';
import { ensureTemporalCli, ensureTestServer, toolPaths } from '../scripts/lib/tools';
import { freePort, startMailInbox } from '../scripts/lib/services';
import { ensureSearchAttributes } from '../worker/searchAttributes';
import { createSalesWorker } from '../worker/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/searchAttributes';
import type { leadNurtureWorkflow } from '../workflows/leadNurture';
import type { sequenceEnrollmentWorkflow } from '../workflows/sequenceEnrollment';
import { enrollmentStart } from '../workflows/sequenceEnrollment.contract';
import { SequenceStore } from '../db/stores/sequences';
import { DEFAULT_WORKING_HOURS } from '../domain/sequences/time';
import { nurtureWorkflowId } from '../workflows/leadNurture.contract';
import { writeBenchmarkSection } from './report';

const ROUNDS = 5;
const PER_ROUND = 200;
const CONCURRENCY = 16;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function timed(fn: () => Promise<void>, n: number): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return n / (Number(process.hrtime.bigint() - started) / 1e9);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('warn').child({ component: 'bench' });
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  await ensureTemporalCli(config.toolsDir, log);
  await ensureTestServer(config.toolsDir, log);
  const tools = toolPaths(config.toolsDir);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-nurture-'));
  fs.chmodSync(dataDir, 0o777);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: await freePort(), database: 'bench', log });
  const db = createDb(pg.url, { pool: { min: 0, max: 20 } });
  await migrateLatest(db);
  const { user, token } = await new UserStore(db).create({ name: 'Bench Rep', role: 'rep' });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: tools.temporalCli }, searchAttributes: ALL_SEARCH_ATTRIBUTES, ui: false },
  });
  const taskQueue = 'bench-no-worker';
  const server = http.createServer(createApp({ db, temporal: env.client, taskQueue, log, publicUrl: 'http://bench', customers: config.customers }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const leads = new LeadStore(db);
  const newLeads = async (n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push(await leads.create({
        topic: 'Bench', firstName: 'Bench', lastName: `Lead ${i}`, email: `bench${i}@example.com`, mobilePhone: null, businessPhone: null,
        companyName: 'Fabrikam', website: null, street: null, city: null, postalCode: null, state: null, country: null, source: 'import',
        customerType: 'corporate', estimatedValueCents: null, ownerId: user.id,
      }, user.id, { actor: { type: 'user', id: user.id } }));
    }
    return out;
  };
  const post = (leadId: string) =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(`${url}/leads/${leadId}/nurture`, { method: 'POST', agent, headers: { Authorization: `Bearer ${token}` } }, (response) => {
        response.resume();
        response.on('end', () => (response.statusCode === 202 ? resolve() : reject(new Error(`status ${response.statusCode}`))));
      });
      request.on('error', reject);
      request.end();
    });

  // The raw baseline starts the same workflow with the same input and options the API builds.
  const version = await new SequenceStore(db).forEnrollment(null);
  const calendar = { zone: 'America/New_York', hours: DEFAULT_WORKING_HOURS, holidays: [] };
  const rawStart = (lead: { id: string; ownerId: string }) => {
    const start = enrollmentStart({ type: 'lead', id: lead.id, ownerId: lead.ownerId, customerType: 'corporate', name: 'Bench Lead', company: 'Fabrikam' }, version, { recipient: calendar, owner: calendar }, user.id);
    return env.client.workflow.start<typeof sequenceEnrollmentWorkflow>('sequenceEnrollmentWorkflow', {
      workflowId: `raw-${start.workflowId}`, taskQueue, args: [start.input], workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      memo: { operation: `raw-${lead.id}` }, staticSummary: start.staticSummary, typedSearchAttributes: start.typedSearchAttributes,
    });
  };
  const raw: number[] = [];
  const viaApi: number[] = [];
  // Warm-up: connections, JIT, Temporal's caches.
  await pool(await newLeads(50), CONCURRENCY, (lead) => post(lead.id));
  for (let round = 0; round < ROUNDS; round++) {
    const forRaw = await newLeads(PER_ROUND);
    raw.push(await timed(() => pool(forRaw, CONCURRENCY, async (lead) => {
      await rawStart(lead);
    }), PER_ROUND));
    const forApi = await newLeads(PER_ROUND);
    viaApi.push(await timed(() => pool(forApi, CONCURRENCY, (lead) => post(lead.id)), PER_ROUND));
  }
  agent.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await env.teardown();

  // History size of one complete run: time-skipping server, real activities, a MailDev catch-all.
  const ts = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: tools.testServer } } });
  await ensureSearchAttributes(ts.connection, 'default');
  const sink = await startMailInbox({ smtpPort: await freePort(), webPort: await freePort(), log });
  const worker = await createSalesWorker({
    connection: ts.nativeConnection, namespace: 'default', taskQueue: 'bench-history', db, log, customers: config.customers,
    mailer: createSmtpMailer({ host: '127.0.0.1', port: sink.smtpPort, secure: false, user: null, password: null, from: 'bench@contoso.example' }),
  });
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

  const rawMedian = median(raw);
  const apiMedian = median(viaApi);
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  const lines = [
    `Machine: ${os.cpus().length} × ${os.cpus()[0].model}, Node ${process.version}; Temporal dev server (CLI v1.5.1, SQLite in memory), embedded PostgreSQL 18.`,
    `${ROUNDS} alternating rounds of ${PER_ROUND} enrollments at concurrency ${CONCURRENCY}; no worker polling, so only the enrollment path is timed.`,
    '',
    '| path | per round (starts/s) | median starts/s |',
    '| --- | --- | --- |',
    `| raw \`client.workflow.start\` of the same sequence enrollment, same input and options (baseline) | ${fmt(raw)} | ${rawMedian.toFixed(0)} |`,
    `| \`POST /leads/:id/nurture\` over HTTP | ${fmt(viaApi)} | ${apiMedian.toFixed(0)} |`,
    '',
    `**Ratio API / raw client: ${(apiMedian / rawMedian).toFixed(2)}** (1.00 would mean the API adds nothing; goal ≥ 0.9: ${apiMedian / rawMedian >= 0.9 ? 'met' : 'not met'}). The API makes two Postgres round trips besides the token check: the person, the owner's calendar, the holidays and the version in one query before the start; the enrollment row and its audit entry in one statement after it. Load average at the end: ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores.`,
    '',
    `History events per completed 4-step enrollment of the default sequence (time-skipping server, real activities): **${events}** (\`sequenceEnrollmentWorkflow\`, steps as local activities; goal ≤ 45: ${events <= 45 ? 'met' : 'not met'}), beside **${legacyEvents}** for the same cadence run by \`leadNurtureWorkflow\` before sequences were data (baseline, same run).`,
  ];
  writeBenchmarkSection('nurture', 'Sequence enrollment: throughput through the API and history size', 'npm run bench -- nurture', lines);
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
