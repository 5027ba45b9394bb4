/**
 * Nothing accepted is lost when the database dies midway: a sequence whose Postgres goes away
 * between two steps keeps retrying the step, and finishes with exactly one row per step once
 * the database is back. Meanwhile the API reports the outage instead of failing obscurely.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded';
import { createDb, migrateLatest, type Db } from '../../db/knex';
import { freePort } from '../../scripts/lib/services';
import type { leadNurtureWorkflow } from '../../workflows/leadNurture';
import { getNurtureStateQuery, nurtureWorkflowId } from '../../workflows/leadNurture.contract';
import { testEnv } from '../helpers/env';
import { createLead, createUsers } from '../helpers/fixtures';
import { client, startTestApi } from '../helpers/http';
import { emailsTo } from '../helpers/mail';
import { eventually, startTestWorker, testLog, timeSkippingEnv, uniqueTaskQueue, workflowBundle } from '../helpers/temporal';
import type { Health, Problem } from '../helpers/apiTypes';

describe('a database outage in the middle of a sequence', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let cluster: EmbeddedPostgresHandle;
  let db: Db;
  let options: Parameters<typeof startEmbeddedPostgres>[0];

  before(async function () {
    // A cluster of its own: this test stops it.
    const dataDir = path.join(testEnv.dataDir, 'outage-pg');
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    options = { dataDir, port: await freePort(), database: 'outage', log: testLog, fast: true };
    [env, cluster] = await Promise.all([timeSkippingEnv(), startEmbeddedPostgres(options), workflowBundle()]);
    db = createDb(cluster.url);
    await migrateLatest(db);
  });

  after(async function () {
    await db?.destroy();
    await cluster?.stop();
    await env?.teardown();
  });

  it('retries the step until Postgres is back, then finishes with one row per step; the API answers 503 meanwhile', async function () {
    const users = await createUsers(db);
    const lead = await createLead(db, users.rep.id);
    const taskQueue = uniqueTaskQueue('outage');
    const worker = await startTestWorker(env, db, taskQueue);
    const api = await startTestApi(db, env.client, taskQueue);
    try {
      const handle = await env.client.workflow.start<typeof leadNurtureWorkflow>('leadNurtureWorkflow', {
        workflowId: nurtureWorkflowId(lead.id), taskQueue,
        args: [{ leadId: lead.id, ownerId: lead.ownerId, customerType: 'corporate', enrolledBy: users.rep.id }],
      });
      await eventually(async () => (await handle.query(getNurtureStateQuery)).steps[0].state === 'done', 'the intro call');

      await cluster.stop();
      const health = await client(api.url).get<Health>('/health');
      assert.equal(health.status, 503);
      assert.equal(health.body.checks.postgres, 'unavailable');
      const refused = await client(api.url, users.rep.token).get<Problem>(`/leads/${lead.id}`);
      assert.equal(refused.status, 503);
      assert.equal(refused.body.code, 'database_unavailable');

      await env.sleep('1 day');
      const failing = await eventually(async () => {
        const { raw } = await handle.describe();
        const pending = raw.pendingActivities?.[0];
        return pending && (pending.attempt ?? 0) > 1 ? pending : null;
      }, 'the information email to fail and be retried');
      assert.match(failing.lastFailure?.message ?? '', /ECONNREFUSED|connect|terminat/i);

      cluster = await startEmbeddedPostgres(options);
      const final = await handle.result();
      assert.equal(final.status, 'completed');
      const rows = await db('activities').where({ regarding_id: lead.id });
      assert.equal(rows.length, 4);
      assert.equal((await db('nurture_steps').where({ lead_id: lead.id })).length, 4);
      assert.equal((await emailsTo(lead.email!)).length, 2);
    } finally {
      await api.close();
      await worker.stop();
    }
  });
});
