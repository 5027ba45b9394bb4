/**
 * Mocha global fixtures (loaded through .mocharc.json): one throwaway embedded PostgreSQL cluster
 * with a migrated template database, and one MailDev catch-all, for the whole run. Each test file
 * clones the template into its own database (see helpers/db.ts), so files never share rows.
 * Temporal servers are per file (helpers/temporal.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../db/embedded';
import { createDb, migrateLatest } from '../db/knex';
import { freePort, startMailInbox, type MailInbox } from '../scripts/lib/services';
import { TEMPLATE_DB, testEnv } from './helpers/env';
import { installQuietRuntime } from './helpers/temporal';

let cluster: EmbeddedPostgresHandle | null = null;
let inbox: MailInbox | null = null;
let dataDir: string | null = null;

export async function mochaGlobalSetup(): Promise<void> {
  const log = createLogger((process.env.TEST_LOG_LEVEL as 'error') ?? 'error', { pretty: true }).child({ component: 'test-setup' });
  installQuietRuntime();
  const config = loadConfig();
  fs.mkdirSync(path.join(config.dataDir, 'test'), { recursive: true });
  dataDir = fs.mkdtempSync(path.join(config.dataDir, 'test', `run-${os.hostname()}-`));
  if (process.getuid?.() === 0) fs.chmodSync(dataDir, 0o777);

  if (process.env.TEST_DATABASE_URL) {
    testEnv.adminUrl = process.env.TEST_DATABASE_URL;
  } else {
    cluster = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: await freePort(), database: TEMPLATE_DB, log, fast: true });
    testEnv.adminUrl = cluster.urlFor('postgres');
  }
  const template = createDb(testEnv.adminUrl.replace(/\/[^/]*$/, `/${TEMPLATE_DB}`));
  await migrateLatest(template);
  await template.destroy();

  inbox = await startMailInbox({ smtpPort: await freePort(), webPort: await freePort(), log });
  testEnv.smtpPort = inbox.smtpPort;
  testEnv.mailWebUrl = inbox.webUrl;
  testEnv.dataDir = dataDir;
}

export async function mochaGlobalTeardown(): Promise<void> {
  await inbox?.stop();
  await cluster?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}
