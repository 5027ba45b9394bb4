/**
 * `npm run leads:import -- --file FILE [--owner USERID] [--sequence SEQUENCEID]`
 *
 * Imports a CSV file of leads into the service's database in one transaction, exactly as
 * `POST /leads/imports` does (docs/lead-import.md): every row judged like `POST /leads`,
 * duplicates by email and rows imported before set aside, a report per row not created. A row
 * with no owner column takes --owner; with neither it is rejected. The operator may name any
 * owner. Prints the counts and the first rows not created; exit code 1 when any row was not
 * created for a reason other than having been imported before, 2 on bad arguments. With --sequence,
 * every created lead is enrolled in that sequence's latest published version by a workflow
 * (`lead-import-enroll-<importId>`, on the stack's Temporal), as `POST /leads/imports?sequenceId=` does.
 *
 * Database: DATABASE_URL, or the stack's embedded cluster (started if the stack is not running).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runLeadImport } from '../api/processes/leadImport';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { LeadImportStore } from '../db/stores/leadImports';
import { UserStore } from '../db/stores/users';
import { Rejection } from '../domain/rejection';
import { openDatabase } from './lib/database';
import { Client, Connection } from '@temporalio/client';
import { SequenceStore } from '../db/stores/sequences';
import { leadImportEnrollmentWorkflowId } from '../workflows/leadImportEnrollment.contract';
import type { leadImportEnrollmentWorkflow } from '../workflows/leadImportEnrollment';

class UsageError extends Error {}

const USAGE = 'usage: npm run leads:import -- --file FILE [--owner USERID] [--sequence SEQUENCEID]';
const fmt = (n: number) => n.toLocaleString('en-US');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { file: { type: 'string' }, owner: { type: 'string' }, sequence: { type: 'string' }, help: { type: 'boolean', default: false } } });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.file) throw new UsageError('give --file');
  const file = path.resolve(values.file);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`--file ${file} is not a file`);
  if (values.owner !== undefined && !UUID.test(values.owner)) throw new UsageError(`--owner must be a user id (a UUID), got "${values.owner}"`);
  if (values.sequence !== undefined && !UUID.test(values.sequence)) throw new UsageError(`--sequence must be a sequence id (a UUID), got "${values.sequence}"`);
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, { pretty: true }).child({ component: 'leads-import' });
  const database = await openDatabase(config, log);
  try {
    if (values.owner) {
      const owner = await new UserStore(database.db).get(values.owner);
      if (!owner || owner.disabledAt) throw new UsageError(`--owner ${values.owner} is not an active user`);
    }
    const version = values.sequence ? await new SequenceStore(database.db).forEnrollment(values.sequence) : null;
    const result = await runLeadImport({
      db: database.db, log, origin: 'cli', importer: null, defaultOwnerId: values.owner ?? null,
      actor: { type: 'system', id: 'leads-import-cli' }, fileName: path.basename(file), stream: fs.createReadStream(file, { highWaterMark: 256 * 1024 }),
    });
    console.log(`Lead import ${result.id}: ${result.fileName}`);
    if (version && result.created > 0) {
      const connection = await Connection.connect({ address: config.temporalAddress ?? `127.0.0.1:${config.temporalDevPort}` });
      try {
        const workflowId = leadImportEnrollmentWorkflowId(result.id);
        await new Client({ connection, namespace: config.temporalNamespace }).workflow.start<typeof leadImportEnrollmentWorkflow>('leadImportEnrollmentWorkflow', {
          workflowId, taskQueue: config.taskQueue, workflowIdConflictPolicy: 'USE_EXISTING',
          memo: { sequenceId: version.sequenceId, sequenceVersion: version.version },
          args: [{ importId: result.id, sequenceId: version.sequenceId, sequenceVersion: version.version, enrolledBy: null }],
        });
        console.log(`  enrolling the created leads in ${version.name} v${version.version}: workflow ${workflowId}`);
      } finally {
        await connection.close();
      }
    }
    console.log(`  rows ${fmt(result.rowsRead)} · created ${fmt(result.created)} · already imported ${fmt(result.alreadyImported)} · duplicates ${fmt(result.duplicates)} · rejected ${fmt(result.rejected)} · ${(result.ms / 1000).toFixed(1)} s`);
    if (result.ignoredColumns.length) console.log(`  columns ignored: ${result.ignoredColumns.join(', ')}`);
    const reasons = Object.entries(result.reasons).map(([reason, n]) => `${reason} ${fmt(n)}`).join(', ');
    if (reasons) console.log(`  not created: ${reasons}`);
    const { items, total } = await new LeadImportStore(database.db).rows(result.id, { limit: 20, offset: 0 }, {});
    for (const row of items.filter((r) => r.outcome !== 'already_imported')) {
      console.log(`  line ${row.line}: ${row.reason}${row.columnName ? ` (${row.columnName})` : ''}: ${row.message}`);
    }
    if (total > items.length) console.log(`  every row not created, with its line and reason: GET /leads/imports/${result.id}`);
    if (result.duplicates + result.rejected > 0) process.exitCode = 1;
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) console.error(`${USAGE}\n${error.message}`);
  else if (error instanceof Rejection) console.error(`the file cannot be imported: ${error.message} (${error.code})`);
  else console.error(error);
  process.exit(error instanceof UsageError ? 2 : 1);
});
