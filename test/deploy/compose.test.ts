/**
 * docker-compose.yml is a valid, production-shaped stack: `docker compose config` accepts it (or,
 * where the compose plugin is not installed, the same loader, compose-go, built by `npm test`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, PROJECT_ROOT } from '../../config';
import { composeCheckerPath, dockerComposeAvailable } from '../../scripts/lib/composeCheck';

const run = promisify(execFile);
const COMPOSE_FILE = path.join(PROJECT_ROOT, 'docker-compose.yml');

async function composeConfig(): Promise<string> {
  if (dockerComposeAvailable()) return (await run('docker', ['compose', '-f', COMPOSE_FILE, 'config'])).stdout;
  return (await run(composeCheckerPath(loadConfig().toolsDir), [COMPOSE_FILE])).stdout;
}

describe('docker-compose.yml', function () {
  let resolved: string;

  before(async function () {
    resolved = await composeConfig();
  });

  it('is accepted by `docker compose config`', function () {
    assert.match(resolved, /^name: sales-process$/m);
  });

  it('runs Postgres, Temporal on Postgres, the Temporal UI, and the api and worker built from the Dockerfile', function () {
    for (const service of ['postgres', 'temporal', 'temporal-ui', 'migrate', 'api', 'worker']) {
      assert.match(resolved, new RegExp(`^  ${service}:$`, 'm'), `service ${service}`);
    }
    assert.match(resolved, /DB: postgres12/);
    const builds = resolved.match(/dockerfile: Dockerfile/g) ?? [];
    assert.equal(builds.length, 3, 'api, worker and migrate are built from the Dockerfile');
    assert.match(resolved, /TEMPORAL_ADDRESS: temporal:7233/);
    assert.match(resolved, /DATABASE_URL: postgres:\/\/sales:sales@postgres:5432\/sales/);
  });

  it('runs Prometheus and Grafana on the repository\'s ops/ files, scraping the API and the worker\'s metrics port', function () {
    for (const service of ['prometheus', 'grafana']) assert.match(resolved, new RegExp(`^  ${service}:$`, 'm'), `service ${service}`);
    for (const file of ['ops/prometheus/prometheus.yml', 'ops/prometheus/alerts.yml', 'ops/grafana/provisioning', 'ops/grafana/dashboards']) {
      assert.ok(resolved.includes(path.join(PROJECT_ROOT, file)), `${file} is mounted`);
    }
    assert.match(resolved, /WORKER_METRICS_PORT: "9464"/);
    assert.match(resolved, /OTEL_EXPORTER_OTLP_ENDPOINT: ""/, 'tracing off unless configured');
  });

  it('bounds the worker\'s memory by default: its sticky cache and a V8 heap cap (docs/capacity.md)', function () {
    const worker = resolved.slice(resolved.indexOf('\n  worker:\n'));
    const workerBlock = worker.slice(0, worker.slice(1).search(/\n {2}[a-z-]+:\n/) + 1);
    assert.match(workerBlock, /WORKER_MAX_CACHED_WORKFLOWS: "1000"/);
    assert.match(workerBlock, /NODE_OPTIONS: --max-old-space-size=512/);
    const api = resolved.slice(resolved.indexOf('\n  api:\n'));
    assert.doesNotMatch(api.slice(0, api.slice(1).search(/\n {2}[a-z-]+:\n/) + 1), /max-old-space-size/, 'the API keeps Node\'s default heap');
  });
});
