/**
 * Tracing joins an API request to the workflow it starts and the activities that workflow runs, in
 * one trace, through the SDK's interceptors; it is off unless an OTLP endpoint is configured.
 * Spans go to an in-memory exporter here instead of a collector.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createApp } from '../../api/app';
import { createApiServer } from '../../api/server';
import { ConfigError, PROJECT_ROOT, loadConfig } from '../../config';
import { freePort } from '../../scripts/lib/services';
import { startTracing, type Tracing } from '../../config/tracing';
import { TRACING_WORKFLOW_INTERCEPTORS, createSalesWorker, workflowsPath } from '../../worker/worker';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { testEnv } from '../helpers/env';
import { createLead, createUsers, type TestUsers } from '../helpers/fixtures';
import { client } from '../helpers/http';
import { devServerEnv, eventually, testLog, testMailer, uniqueTaskQueue } from '../helpers/temporal';
import type { Qualified } from '../helpers/apiTypes';

describe('tracing configuration', function () {
  it('is off unless an OTLP endpoint is configured', function () {
    assert.equal(loadConfig({}).tracing, null);
  });

  it('sends to <endpoint>/v1/traces, or to the traces endpoint as given, with the collector\'s headers', function () {
    assert.deepEqual(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing, { tracesUrl: 'http://collector:4318/v1/traces', headers: {}, serviceName: null });
    const own = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s%3Dcret, tenant=contoso', OTEL_SERVICE_NAME: 'sales-eu',
    }).tracing;
    assert.deepEqual(own, { tracesUrl: 'https://traces.example/otlp', headers: { 'api-key': 's=cret', tenant: 'contoso' }, serviceName: 'sales-eu' });
  });

  it('refuses an endpoint that is not an http(s) URL, and headers that are not key=value', function () {
    assert.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }), ConfigError);
    assert.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317' }), /OTLP over HTTP/);
    assert.throws(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_HEADERS: 'token' }), /key=value/);
  });
});

describe('one trace from an API request to the workflow and its activities', function () {
  this.timeout(180_000);
  const exported = new InMemorySpanExporter();
  let tracing: Tracing;
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let users: TestUsers;
  let stopWorker: () => Promise<void>;
  let url: string;
  let closeApi: () => Promise<void>;

  before(async function () {
    tracing = startTracing({ serviceName: 'sales-process-test', spanProcessor: new SimpleSpanProcessor(exported) });
    const [started, db, bundle] = await Promise.all([
      devServerEnv(), createTestDatabase(),
      bundleWorkflowCode({ workflowsPath: workflowsPath(), workflowInterceptorModules: [TRACING_WORKFLOW_INTERCEPTORS], logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } }),
    ]);
    env = started;
    database = db;
    users = await createUsers(database.db);
    const taskQueue = uniqueTaskQueue('tracing');
    const mailer = testMailer();
    const worker = await createSalesWorker({
      connection: env.nativeConnection, namespace: env.namespace ?? 'default', taskQueue, workflowBundle: bundle,
      db: database.db, mailer, log: testLog, customers: loadConfig().customers, tracing,
    });
    const running = worker.run();
    stopWorker = async () => {
      worker.shutdown();
      await running;
      mailer.close();
    };
    // The API's client as api/main.ts builds it when tracing is on.
    const temporal = new Client({ connection: env.connection, namespace: env.namespace ?? 'default', interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
    const server = createApiServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', createApp({ db: database.db, temporal, taskQueue, log: testLog, publicUrl: url, customers: loadConfig().customers }));
    closeApi = () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  after(async function () {
    await closeApi?.();
    await stopWorker?.();
    await tracing?.shutdown();
    await env?.teardown();
    await database?.drop();
  });

  it('enrolling a lead: the request, the workflow start, the workflow run and its first step\'s activity share one trace', async function () {
    const lead = await createLead(database.db, users.rep.id);
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const reply = await client(url, users.rep.token).post(`/leads/${lead.id}/nurture`, undefined, { traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` });
    assert.equal(reply.status, 202, JSON.stringify(reply.body));

    const byName = (spans: ReadableSpan[], name: string) => spans.find((s) => s.name === name);
    const finished = (names: string[], what: string) => eventually(async () => {
      const all = exported.getFinishedSpans();
      return names.every((name) => byName(all, name)) ? all : null;
    }, what);
    // A span made in the workflow reaches the exporter once it ends: the activity's when its result
    // is back in the workflow, the run's when the workflow ends (stopping the sequence ends it).
    await finished(['RunActivity:performSequenceStep', 'StartActivity:performSequenceStep'], 'the first nurture step\'s spans');
    assert.equal((await client(url, users.rep.token).post(`/leads/${lead.id}/nurture/stop`, { reason: 'manual' })).status, 200);
    const spans = await finished(['RunWorkflow:sequenceEnrollmentWorkflow'], 'the workflow run\'s span');

    const request = byName(spans, 'POST /leads/:id/nurture');
    const start = byName(spans, 'StartWorkflow:sequenceEnrollmentWorkflow');
    const run = byName(spans, 'RunWorkflow:sequenceEnrollmentWorkflow');
    const scheduled = byName(spans, 'StartActivity:performSequenceStep');
    const activity = byName(spans, 'RunActivity:performSequenceStep');
    for (const [what, span] of Object.entries({ request, start, run, scheduled, activity })) {
      assert.ok(span, `a ${what} span among ${spans.map((s) => s.name).join(', ')}`);
      assert.equal(span.spanContext().traceId, callerTrace, `the ${what} span continues the caller's trace`);
    }
    assert.equal(request!.parentSpanId, '00f067aa0ba902b7', 'the request span is the caller\'s child');
    assert.equal(start!.parentSpanId, request!.spanContext().spanId, 'the workflow start is the request\'s child');
    assert.equal(run!.parentSpanId, start!.spanContext().spanId, 'the workflow runs under its start');
    assert.equal(scheduled!.parentSpanId, run!.spanContext().spanId, 'the workflow schedules the activity');
    assert.equal(activity!.parentSpanId, scheduled!.spanContext().spanId, 'the activity runs under the span that scheduled it');
    assert.equal(request!.attributes['http.route'], '/leads/:id/nurture');
    assert.equal(request!.attributes['http.response.status_code'], 202);
    assert.equal(request!.resource.attributes['service.name'], 'sales-process-test');
    assert.equal(run!.resource.attributes['service.name'], 'sales-process-test', 'the workflow\'s spans leave the sandbox with the worker\'s resource');
    assert.ok(!String(request!.attributes['url.path']).includes('?'), 'no query string on the span');
  });

  it('moving a deal: the request, the Update, its handler in the workflow and the activity that records the move share one trace', async function () {
    const lead = await createLead(database.db, users.rep.id);
    const rep = client(url, users.rep.token);
    const qualified = await rep.post<Qualified>(`/leads/${lead.id}/qualify`);
    assert.equal(qualified.status, 201, JSON.stringify(qualified.body));
    const callerTrace = 'a3ce929d0e0e47364bf92f3577b34da6';
    const moved = await rep.post(`/deals/${qualified.body.dealId}/advance`, { to: 'develop' }, { traceparent: `00-${callerTrace}-b7ad6b7169203331-01` });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    const inTrace = () => exported.getFinishedSpans().filter((s) => s.spanContext().traceId === callerTrace);
    const spans = await eventually(async () => (inTrace().some((s) => s.name === 'RunActivity:recordDealMove') && inTrace().some((s) => s.name === 'HandleUpdate:advanceDeal') ? inTrace() : null), 'the move\'s spans');
    const named = (name: string) => {
      const span = spans.find((s) => s.name === name);
      assert.ok(span, `${name} among ${spans.map((s) => s.name).join(', ')}`);
      return span;
    };
    const request = named('POST /deals/:id/advance');
    const update = named('StartWorkflowUpdate:advanceDeal');
    const handler = named('HandleUpdate:advanceDeal');
    const scheduled = named('StartActivity:recordDealMove');
    const activity = named('RunActivity:recordDealMove');
    assert.equal(update.parentSpanId, request.spanContext().spanId);
    assert.equal(handler.parentSpanId, update.spanContext().spanId, 'the workflow handles the Update under the request\'s span');
    assert.equal(scheduled.parentSpanId, handler.spanContext().spanId);
    assert.equal(activity.parentSpanId, scheduled.spanContext().spanId);
  });

  it('a request without a caller\'s trace starts its own', async function () {
    exported.reset();
    const reply = await client(url, users.rep.token).get('/me');
    assert.equal(reply.status, 200);
    const [span] = await eventually(async () => {
      const found = exported.getFinishedSpans().filter((s) => s.name === 'GET /me');
      return found.length ? found : null;
    }, 'the GET /me span');
    assert.equal(span.parentSpanId, undefined);
    assert.match(span.spanContext().traceId, /^[0-9a-f]{32}$/);
  });

  it('the API and worker processes send their spans over OTLP/HTTP to the configured collector, in one trace', async function () {
    // A stand-in collector: it keeps what arrives at /v1/traces (OTLP/HTTP, JSON).
    const received: Array<{ service: string; traceId: string; name: string }> = [];
    const collector = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.method === 'POST') {
          for (const rs of JSON.parse(body).resourceSpans ?? []) {
            const service = rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name')?.value.stringValue;
            for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, traceId: span.traceId, name: span.name });
          }
        }
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    const taskQueue = uniqueTaskQueue('otlp');
    const childEnv = {
      ...process.env, TEMPORAL_ADDRESS: env.address, TASK_QUEUE: taskQueue, DATABASE_URL: database.url, SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(testEnv.smtpPort), WORKER_METRICS_PORT: 'off', CUSTOMER_UNIFICATION_CRON: 'off', LOG_LEVEL: 'info', PORT: String(port),
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      // The SDK's own batching setting: send within 200 ms rather than 5 s.
      OTEL_BSP_SCHEDULE_DELAY: '200',
    };
    const processes: Array<{ child: ChildProcess; output: string }> = [];
    const start = (entry: string, ready: string) => {
      const proc = { child: spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(PROJECT_ROOT, entry)], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] }), output: '' };
      proc.child.stdout!.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
      proc.child.stderr!.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
      processes.push(proc);
      return eventually(async () => {
        if (proc.child.exitCode !== null) throw new Error(`${entry} exited:\n${proc.output}`);
        return proc.output.includes(ready);
      }, `${entry} to start`, 90_000);
    };
    try {
      await Promise.all([start('worker/main.ts', 'worker polling'), start('api/main.ts', 'API listening')]);
      assert.match(processes[0].output, /traces exported over OTLP/);
      const lead = await createLead(database.db, users.rep.id);
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const reply = await client(`http://127.0.0.1:${port}`, users.rep.token).post(`/leads/${lead.id}/nurture`, undefined, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
      await eventually(async () => {
        const names = received.filter((s) => s.traceId === traceId).map((s) => `${s.service} ${s.name}`);
        return ['sales-process-api POST /leads/:id/nurture', 'sales-process-api StartWorkflow:sequenceEnrollmentWorkflow', 'sales-process-worker RunActivity:performSequenceStep']
          .every((n) => names.includes(n));
      }, 'the API\'s and the worker\'s spans at the collector', 30_000);
    } finally {
      for (const { child } of processes) {
        child.kill('SIGTERM');
        await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      }
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });
});
