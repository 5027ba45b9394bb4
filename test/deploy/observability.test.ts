/**
 * What ops watch in production is in the repository and loads as the real tools load it: the
 * Prometheus configuration and alert rules (through Prometheus's own loaders, built by provisioning
 * into .tools/bin/prometheus-rules), and the Grafana dashboard, whose queries are valid PromQL over
 * metrics the service exports.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApiMetrics } from '../../api/metrics';
import { PROJECT_ROOT, loadConfig } from '../../config';
import type { Db } from '../../db/knex';
import { goToolPath } from '../../scripts/lib/goTools';
import { testLog } from '../helpers/temporal';

const run = promisify(execFile);
const OPS = path.join(PROJECT_ROOT, 'ops');
const checker = goToolPath(loadConfig().toolsDir, 'prometheus-rules');

interface Panel {
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
}
const dashboard = JSON.parse(fs.readFileSync(path.join(OPS, 'grafana', 'dashboards', 'sales-process.json'), 'utf8')) as { uid: string; panels: Panel[] };
const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
const alerts = fs.readFileSync(path.join(OPS, 'prometheus', 'alerts.yml'), 'utf8');

/** Metric names an expression reads (`rate(http_requests_total[5m])` → http_requests_total). */
function metricNames(text: string): string[] {
  const names = text.match(/\b(?:sales|http|temporal|worker)_[a-z0-9_]+\b/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')))];
}

function checkerBuilt(): void {
  // `npm test` provisions first, and provisioning builds it with Go, which the project needs anyway
  // (the Temporal CLI is built with `go install`): a missing checker is a failure, not a skip.
  assert.ok(fs.existsSync(checker), `${checker} is missing: run \`npm run provision\` (it needs Go)`);
}

async function parseExpressions(exprs: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(checker, ['exprs'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(exprs.map((e) => e.replace(/\s*\n\s*/g, ' ')).join('\n'));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stderr };
}

describe('Prometheus and Grafana files (ops/)', function () {
  this.timeout(30_000);

  it('the alert rules load as Prometheus loads them: workflow task failures rising, and workers short', async function () {
    checkerBuilt();
    const { stdout } = await run(checker, ['rules', path.join(OPS, 'prometheus', 'alerts.yml')]);
    assert.match(stdout, /^alert WorkflowTaskFailuresRising for=10m severity=page$/m);
    assert.match(stdout, /^alert WorkersShort for=5m severity=page$/m);
    assert.match(alerts, /temporal_workflow_task_execution_failed_total/);
    assert.match(alerts, /temporal_workflow_task_schedule_to_start_latency_seconds_bucket/);
  });

  it('the rules checker refuses a rule Prometheus would refuse', async function () {
    checkerBuilt();
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rules-')), 'alerts.yml');
    fs.writeFileSync(broken, alerts.replace('increase(temporal_workflow_task_execution_failed_total[10m])', 'increase(temporal_workflow_task_execution_failed_total)'));
    await assert.rejects(run(checker, ['rules', broken]), (error: { stderr: string }) => /WorkflowTaskFailuresRising.*expected type range vector/s.test(error.stderr));
    const bad = await parseExpressions(['sum(rate(http_requests_total[5m])']);
    assert.equal(bad.code, 1);
  });

  it('Prometheus\'s configuration loads, reads the alert rules and scrapes every API and worker replica', async function () {
    checkerBuilt();
    const { stdout } = await run(checker, ['config', path.join(OPS, 'prometheus', 'prometheus.yml')]);
    assert.match(stdout, /^rule_file \/etc\/prometheus\/alerts\.yml$/m);
    assert.match(stdout, /^job api \/metrics$/m);
    assert.match(stdout, /^job worker \/metrics$/m);
  });

  it('every dashboard query is valid PromQL, on the provisioned Prometheus data source', async function () {
    checkerBuilt();
    assert.ok(queries.length >= 15, 'the dashboard has its panels');
    const parsed = await parseExpressions(queries);
    assert.equal(parsed.code, 0, parsed.stderr);
    const provisioned = fs.readFileSync(path.join(OPS, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
    const uid = /^\s*uid:\s*(\S+)\s*$/m.exec(provisioned)?.[1];
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      assert.equal(panel.datasource?.uid, uid, `${panel.title}: the provisioned data source`);
    }
  });

  it('the dashboard shows the business figures, the SDK\'s task latencies and failures, and the HTTP figures, laid out without overlap', function () {
    const read = new Set(queries.flatMap(metricNames));
    for (const name of [
      'sales_nurture_enrollments_running', 'sales_deals_open', 'sales_deals_open_value_cents', 'sales_deals_tech_check_waiting_over_2_days',
      'sales_invoices_overdue', 'sales_unification_last_pass_age_seconds',
      'temporal_workflow_task_schedule_to_start_latency_seconds', 'temporal_activity_schedule_to_start_latency_seconds',
      'temporal_workflow_task_execution_failed_total', 'temporal_activity_execution_failed_total', 'temporal_sticky_cache_size',
      'http_requests_total', 'http_request_duration_seconds',
    ]) assert.ok(read.has(name), `a panel reads ${name}`);
    const cells = new Set<string>();
    for (const { title, gridPos: { x, y, w, h } } of dashboard.panels) {
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `${title} fits the 24-column grid`);
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `${title} overlaps another panel`);
        cells.add(`${i},${j}`);
      }
    }
  });

  it('the API metrics the dashboard and alerts read are ones the API exports', async function () {
    // Building the registry reads nothing; the names are what a scrape would show.
    const { registry } = createApiMetrics({ db: null as unknown as Db, log: testLog });
    const exported = new Set(registry.getMetricsAsArray().map((m) => m.name));
    const used = metricNames([...queries, alerts].join('\n')).filter((n) => n.startsWith('sales_') || n.startsWith('http_'));
    assert.ok(used.length >= 8);
    for (const name of used) assert.ok(exported.has(name), `the API exports ${name}`);
  });
});
