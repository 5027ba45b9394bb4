/**
 * The API process: `npm run api`. Uses DATABASE_URL (or the stack's embedded cluster) and
 * TEMPORAL_ADDRESS (or the stack's dev server); closes cleanly on SIGINT/SIGTERM.
 */
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { loadConfig, type Config } from '../config';
import { createLogger, type Logger } from '../config/logger';
import { embeddedDatabaseUrl } from '../db/embedded';
import { createDb, type Db } from '../db/knex';
import { guardProcess } from '../config/processGuard';
import { startConfiguredTracing } from '../config/tracing';
import { createApp } from './app';
import { answerStrayError, createApiServer } from './server';

export interface RunningApi {
  url: string;
  temporal: Client;
  close(): Promise<void>;
}

export async function startApi(config: Config, log: Logger, db: Db): Promise<RunningApi> {
  const connection = await Connection.connect({ address: config.temporalAddress ?? `127.0.0.1:${config.temporalDevPort}` });
  // With tracing on, every workflow start, signal, update and query joins the request's trace.
  const interceptors = config.tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
  const temporal = new Client({ connection, namespace: config.temporalNamespace, ...(interceptors ? { interceptors } : {}) });
  const url = config.publicUrl ?? `http://localhost:${config.port}`;
  const app = createApp({ db, temporal, taskQueue: config.taskQueue, log, publicUrl: url, deals: config.deals, customers: config.customers, leads: config.leads, orders: config.orders, inboundSecret: config.inboundEmailSecret });
  const server = createApiServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, resolve);
  });
  log.info({ url }, 'API listening');
  return {
    url,
    temporal,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await connection.close();
      log.info('API stopped');
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel).child({ component: 'api' });
  guardProcess(log, 'API', answerStrayError(log));
  const tracing = startConfiguredTracing(config.tracing, 'sales-process-api');
  if (tracing) log.info({ url: config.tracing?.tracesUrl }, 'traces exported over OTLP');
  const db = createDb(config.databaseUrl ?? embeddedDatabaseUrl(config.embeddedPostgresPort));
  const api = await startApi(config, log, db);
  // Started by the dev stack's supervisor: tell it we serve.
  process.send?.({ ready: true });
  const stop = async () => {
    await api.close();
    await db.destroy();
    await tracing?.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
