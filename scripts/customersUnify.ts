/**
 * `npm run customers:unify [-- --no-wait] [--full]`
 *
 * Asks the `customer-unification` workflow for a pass (starting it if it is not running) and,
 * unless --no-wait, waits for that pass and prints its outcome. --full: every record is matched
 * again, even when the published result could be reused or an incremental pass would do.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { requestUnification, waitForUnification } from '../api/unificationClient';
import { loadConfig } from '../config';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'no-wait': { type: 'boolean', default: false }, full: { type: 'boolean', default: false } } });
  const config = loadConfig();
  const address = config.temporalAddress ?? `127.0.0.1:${config.temporalDevPort}`;
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const temporal = new Client({ connection, namespace: config.temporalNamespace });
    const ticket = await requestUnification(temporal, config.taskQueue, { trigger: 'cli', by: 'cli', ...(values.full ? { full: true } : {}) });
    console.log(`requested ${ticket.requestId} from ${ticket.workflowId} (run ${ticket.runId})`);
    if (values['no-wait']) return;
    let phase = '';
    const pass = await waitForUnification(temporal, ticket, {
      onState: (_s, p) => {
        const now = p ? `${p.phase ?? p.status}` : 'queued';
        if (now !== phase) console.log(`  ${now}…`);
        phase = now;
      },
    });
    console.log(JSON.stringify({ pass: pass.pass, status: pass.status, mode: pass.mode ?? null, reusedFrom: pass.reusedFrom ?? null, error: pass.error, summary: pass.summary }, null, 2));
    if (pass.status !== 'completed') process.exitCode = 1;
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
