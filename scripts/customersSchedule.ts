/**
 * `npm run customers:schedule`
 *
 * Creates the nightly customer-unification Schedule, or brings it in line with
 * CUSTOMER_UNIFICATION_CRON / CUSTOMER_UNIFICATION_TIMEZONE / TASK_QUEUE; `off` deletes it.
 * Idempotent: run it after each deploy (or once per stack); a second run reports "unchanged".
 */
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config';
import { CUSTOMER_UNIFICATION_SCHEDULE_ID } from '../workflows/customerUnification.contract';
import { ensureUnificationSchedule } from '../worker/customerSchedule';

async function main(): Promise<void> {
  const config = loadConfig();
  const address = config.temporalAddress ?? `127.0.0.1:${config.temporalDevPort}`;
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const temporal = new Client({ connection, namespace: config.temporalNamespace });
    const outcome = await ensureUnificationSchedule(temporal, {
      cron: config.customers.unificationCron, timezone: config.customers.unificationTimezone, taskQueue: config.taskQueue,
    });
    const when = config.customers.unificationCron ? `"${config.customers.unificationCron}" (${config.customers.unificationTimezone})` : 'never';
    console.log(`schedule ${CUSTOMER_UNIFICATION_SCHEDULE_ID} on ${address}: ${outcome}; runs ${when}`);
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
