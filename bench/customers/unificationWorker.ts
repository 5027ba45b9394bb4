/**
 * A worker process of its own (the real activities and workflows) for runs that need several:
 * the sharded-match test (a second worker on the task queue; one process may run only one worker
 * per task queue) and `bench:customers -- shards` (peak RSS per worker process). Reads
 * TEMPORAL_ADDRESS, TASK_QUEUE, DATABASE_URL and WORKER_IDENTITY, and the usual configuration
 * (UNIFICATION_SHARD_RECORDS …); writes `ready` once polling; stops on SIGTERM.
 */
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createSmtpMailer } from '../../activities/mailer';
import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import { createDb } from '../../db/knex';
import { createSalesWorker } from '../../worker/worker';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { TEMPORAL_ADDRESS, TASK_QUEUE, DATABASE_URL, WORKER_IDENTITY } = process.env;
  const db = createDb(DATABASE_URL!);
  const log = createLogger('warn');
  const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS! });
  const worker = await createSalesWorker({
    connection, namespace: 'default', taskQueue: TASK_QUEUE!, db, log,
    mailer: createSmtpMailer({ host: '127.0.0.1', port: 1, secure: false, user: null, password: null, from: 'test@contoso.example' }),
    customers: loadConfig().customers, identity: WORKER_IDENTITY ?? `unification-worker-${process.pid}`,
  });
  process.once('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await db.destroy();
  await connection.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
