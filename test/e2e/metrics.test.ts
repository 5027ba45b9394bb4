/**
 * GET /metrics on the API and on the worker answer in the Prometheus text format: HTTP requests by
 * route template and status, the business gauges (which move when a deal changes stage), and the
 * Temporal SDK's own figures from a real worker process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config';
import { freePort } from '../../scripts/lib/services';
import { productId, qualifiedDeal } from '../helpers/deals';
import { expectStatus, startExtraApi, startStack, type TestStack } from '../helpers/stack';
import { createLead } from '../helpers/fixtures';
import { client } from '../helpers/http';
import { parsePrometheusText, type MetricsPage } from '../helpers/prometheus';
import { eventually, uniqueTaskQueue } from '../helpers/temporal';
import { testEnv } from '../helpers/env';

async function scrape(url: string): Promise<MetricsPage> {
  // Not through the API client: /metrics is Prometheus's page, not an operation of the OpenAPI document.
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

describe('GET /metrics', function () {
  this.timeout(180_000);
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'dev' });
  });

  after(async function () {
    await stack?.teardown();
  });

  it('counts and times API requests by route template and status, without ids or queries', async function () {
    const deal = await qualifiedDeal(stack);
    expectStatus(await stack.as.rep.get(`/deals/${deal}?x=1`), 200);
    expectStatus(await stack.as.rep.get('/deals/00000000-0000-4000-8000-000000000000'), 404);
    expectStatus(await client(stack.url).get('/leads'), 401);
    const page = await scrape(`${stack.url}/metrics`);
    assert.equal(page.types.get('http_requests_total'), 'counter');
    assert.equal(page.types.get('http_request_duration_seconds'), 'histogram');
    assert.equal(page.value('http_requests_total', { method: 'GET', route: '/deals/:id', status: '200' }), 1);
    assert.equal(page.value('http_requests_total', { method: 'GET', route: '/deals/:id', status: '404' }), 1);
    assert.equal(page.value('http_requests_total', { method: 'POST', route: '/leads/:id/qualify', status: '201' }), 1);
    assert.ok((page.value('http_request_duration_seconds_count', { method: 'GET', route: '/deals/:id', status: '200' }) ?? 0) >= 1);
    assert.ok(page.samples.some((s) => s.name === 'http_requests_total' && s.labels.status === '401'), 'a refused request is counted too');
    const labels = page.samples.flatMap((s) => Object.values(s.labels)).join('\n');
    assert.doesNotMatch(labels, /[0-9a-f]{8}-[0-9a-f]{4}-/, 'no record id in any label');
    assert.doesNotMatch(labels, /\?|@/, 'no query string or e-mail in any label');
    assert.ok(page.samples.some((s) => s.name === 'process_cpu_user_seconds_total'), 'the process figures');
  });

  it('has business gauges that move when a deal changes stage, and are read from Postgres', async function () {
    const before = await scrape(`${stack.url}/metrics`);
    assert.equal(before.value('sales_figures_up'), 1);
    for (const stage of ['qualify', 'develop', 'propose', 'tech_check', 'close']) assert.notEqual(before.value('sales_deals_open', { stage }), undefined, stage);
    for (const step of ['intro_call', 'information_email', 'follow_up_email', 'appointment_call']) assert.notEqual(before.value('sales_nurture_enrollments_running', { step }), undefined, step);
    for (const name of ['sales_deals_tech_check_waiting_over_2_days', 'sales_invoices_overdue', 'sales_invoices_overdue_outstanding_cents']) assert.equal(before.value(name), 0, name);

    const deal = await qualifiedDeal(stack);
    expectStatus(await stack.as.rep.post(`/deals/${deal}/lines`, { productId: await productId(stack.db, 'SS-300'), quantity: 1, unitPriceCents: 30_000 }), 201);
    const qualify = before.value('sales_deals_open', { stage: 'qualify' })!;
    await eventually(async () => (await scrape(`${stack.url}/metrics`)).value('sales_deals_open', { stage: 'qualify' }) === qualify + 1, 'the new deal counted in Qualify', 15_000);
    expectStatus(await stack.as.rep.post(`/deals/${deal}/advance`, { to: 'develop' }), 200);
    const after = await eventually(async () => {
      const page = await scrape(`${stack.url}/metrics`);
      return page.value('sales_deals_open', { stage: 'develop' }) === before.value('sales_deals_open', { stage: 'develop' })! + 1 ? page : null;
    }, 'the deal counted in Develop', 15_000);
    assert.equal(after.value('sales_deals_open', { stage: 'qualify' }), qualify);
    assert.equal(after.value('sales_deals_open_value_cents', { stage: 'develop' }), before.value('sales_deals_open_value_cents', { stage: 'develop' })! + 30_000);

    // A deal that entered Tech Check three days ago (moved there in Postgres alone: only the figure is under test).
    const waiting = await qualifiedDeal(stack);
    await stack.db('deals').where({ id: waiting }).update({ stage: 'tech_check', stage_entered_at: new Date(Date.now() - 3 * 86_400_000) });
    await eventually(async () => (await scrape(`${stack.url}/metrics`)).value('sales_deals_tech_check_waiting_over_2_days') === 1, 'the waiting deal', 15_000);
  });

  it('on the worker: the Temporal SDK\'s own figures and the process\'s, from a worker process', async function () {
    const port = await freePort();
    const taskQueue = uniqueTaskQueue('metrics');
    let output = '';
    const worker: ChildProcess = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(PROJECT_ROOT, 'worker', 'main.ts')], {
      env: {
        ...process.env, TEMPORAL_ADDRESS: stack.env.address, TASK_QUEUE: taskQueue, DATABASE_URL: stack.database.url, SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(testEnv.smtpPort), WORKER_METRICS_PORT: String(port), CUSTOMER_UNIFICATION_CRON: 'off', LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const api = await startExtraApi({ env: stack.env, db: stack.db, taskQueue });
    try {
      await eventually(async () => {
        if (worker.exitCode !== null) throw new Error(`the worker exited:\n${output}`);
        return output.includes('worker polling');
      }, 'the worker to poll', 90_000);
      // Work on its task queue: a lead qualified through an API that starts deals there.
      const lead = await createLead(stack.db, stack.users.rep.id);
      expectStatus(await client(api.url, stack.users.rep.token).post(`/leads/${lead.id}/qualify`), 201);
      const page = await eventually(async () => {
        const scraped = await scrape(`http://127.0.0.1:${port}/metrics`);
        const worked = (scraped.value('temporal_workflow_task_schedule_to_start_latency_seconds_count', { task_queue: taskQueue }) ?? 0) >= 1
          && (scraped.value('temporal_workflow_task_execution_latency_seconds_count', { task_queue: taskQueue }) ?? 0) >= 1;
        return worked ? scraped : null;
      }, 'the SDK to report the workflow task', 30_000);
      assert.equal(page.value('worker_sdk_metrics_up'), 1);
      assert.ok(page.samples.some((s) => s.name === 'temporal_num_pollers'), 'pollers');
      assert.ok(page.samples.some((s) => s.name === 'process_cpu_user_seconds_total'), 'the process figures');
      assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
    } finally {
      await api.close();
      worker.kill('SIGTERM');
      await new Promise((resolve) => (worker.exitCode !== null ? resolve(null) : worker.once('exit', resolve)));
    }
  });
});
