/**
 * One worker process for `npm run bench:sequences`: the service's worker (createSalesWorker) on a
 * prebuilt workflow bundle, with the sticky cache size the benchmark asks for. The benchmark reads
 * this process's RSS from /proc, so the worker's memory is measured apart from the servers'.
 *
 * Environment: BENCH_TEMPORAL (address), BENCH_DB (Postgres URL), BENCH_QUEUE, BENCH_CACHE
 * (maxCachedWorkflows), BENCH_BUNDLE (path of the bundled workflow code).
 */
import { NativeConnection, DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import { createDb } from '../../db/knex';
import { createSmtpMailer } from '../../activities/mailer';
import { createSalesWorker } from '../../worker/worker';

async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const log = createLogger('error').child({ component: 'bench-worker' });
  const db = createDb(env('BENCH_DB'), { pool: { min: 0, max: 10 } });
  // Postgres round trips, for the benchmark's queries per step.
  let queries = 0;
  db.on('query', () => { queries++; });
  const connection = await NativeConnection.connect({ address: env('BENCH_TEMPORAL') });
  // The benchmark's sequences have no email step: the mailer is never called.
  const mailer = createSmtpMailer({ host: '127.0.0.1', port: 1, secure: false, user: null, password: null, from: 'bench@contoso.example' });
  const worker = await createSalesWorker({
    connection, namespace: 'default', taskQueue: env('BENCH_QUEUE'), db, mailer, log, customers: loadConfig().customers,
    workflowBundle: { codePath: env('BENCH_BUNDLE') }, maxCachedWorkflows: Number(env('BENCH_CACHE')),
  });
  process.on('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write('ready\n');
  // What the main thread's V8 heap holds, for the benchmark's memory breakdown (the workflow
  // thread's isolate and the Rust core are the rest of the RSS).
  const memory = setInterval(() => {
    const m = process.memoryUsage();
    process.stdout.write(`mem ${JSON.stringify({ queries, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })}\n`);
  }, 2000);
  memory.unref();
  await running;
  mailer.close();
  await connection.close();
  await db.destroy();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
