/**
 * The worker process: `npm run worker`. Connects to Temporal (TEMPORAL_ADDRESS, or the dev server
 * the stack runs on localhost) and Postgres (DATABASE_URL, or the stack's embedded cluster), and
 * runs until SIGINT/SIGTERM, letting in-flight activities finish before it closes its connections.
 */
import v8 from 'node:v8';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, type Config } from '../config';
import { createLogger, type Logger } from '../config/logger';
import { guardProcess } from '../config/processGuard';
import { startConfiguredTracing, type Tracing } from '../config/tracing';
import { embeddedDatabaseUrl } from '../db/embedded';
import { createDb, type Db } from '../db/knex';
import { createSmtpMailer } from '../activities/mailer';
import { installTemporalLogging } from './runtime';
import { freePort } from '../config/ports';
import { serveWorkerMetrics, type WorkerMetricsServer } from './metrics';
import { ensureUnificationSchedule } from './customerSchedule';
import { ensureSearchAttributes } from './searchAttributes';
import { createSalesWorker } from './worker';

export interface RunningWorker {
  /** Resolves when the worker has stopped and its connections are closed. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startWorker(config: Config, log: Logger, db: Db, tracing: Tracing | null = null): Promise<RunningWorker> {
  const address = config.temporalAddress ?? `127.0.0.1:${config.temporalDevPort}`;
  // What the workflows need of the cluster: the search attributes they upsert (on a cluster that
  // lacks them every upsert would fail the task) and the nightly unification Schedule.
  const admin = await Connection.connect({ address });
  try {
    const added = await ensureSearchAttributes(admin, config.temporalNamespace);
    if (added.length) log.info({ added }, 'search attributes registered');
    const schedule = await ensureUnificationSchedule(new Client({ connection: admin, namespace: config.temporalNamespace }), {
      cron: config.customers.unificationCron, timezone: config.customers.unificationTimezone, taskQueue: config.taskQueue,
    });
    if (schedule !== 'unchanged' && schedule !== 'absent') log.info({ schedule, cron: config.customers.unificationCron }, 'customer unification schedule');
  } finally {
    await admin.close();
  }
  const connection = await NativeConnection.connect({ address });
  const mailer = createSmtpMailer({ ...config.smtp, host: config.smtp.host ?? '127.0.0.1' });
  const worker = await createSalesWorker({
    connection, namespace: config.temporalNamespace, taskQueue: config.taskQueue, db, mailer, log, customers: config.customers,
    publicUrl: config.publicUrl ?? `http://localhost:${config.port}`, maxCachedWorkflows: config.workerMaxCachedWorkflows,
    ...(tracing ? { tracing } : {}),
  });
  // The heap limit is set on the command line (NODE_OPTIONS=--max-old-space-size=…, docs/capacity.md);
  // logged so a deployment can see what it runs with.
  const heapLimitMiB = Math.round(v8.getHeapStatistics().heap_size_limit / 1024 ** 2);
  log.info({ taskQueue: config.taskQueue, namespace: config.temporalNamespace, maxCachedWorkflows: config.workerMaxCachedWorkflows, heapLimitMiB }, 'worker polling');
  const done = worker.run().finally(async () => {
    mailer.close();
    await connection.close();
    log.info('worker stopped');
  });
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel).child({ component: 'worker' });
  guardProcess(log, 'worker');
  const sdkMetrics = config.workerMetricsPort === null ? null : `127.0.0.1:${await freePort()}`;
  installTemporalLogging(log, 'INFO', { prometheusBindAddress: sdkMetrics ?? undefined });
  const db = createDb(config.databaseUrl ?? embeddedDatabaseUrl(config.embeddedPostgresPort));
  const tracing = startConfiguredTracing(config.tracing, 'sales-process-worker');
  if (tracing) log.info({ url: config.tracing?.tracesUrl }, 'traces exported over OTLP');
  const running = await startWorker(config, log, db, tracing);
  // Metrics are for watching the work, not a condition of doing it: a port already taken is logged.
  let metrics: WorkerMetricsServer | null = null;
  if (sdkMetrics !== null && config.workerMetricsPort !== null) {
    metrics = await serveWorkerMetrics({ port: config.workerMetricsPort, sdkMetricsUrl: `http://${sdkMetrics}/metrics`, log }).catch((error: unknown) => {
      log.error({ err: error, port: config.workerMetricsPort }, 'worker metrics could not be served');
      return null;
    });
  }
  // Started by the dev stack's supervisor: tell it we serve.
  process.send?.({ ready: true });
  await running.done;
  await metrics?.close();
  await db.destroy();
  await tracing?.shutdown();
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
