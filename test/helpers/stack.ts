/**
 * A whole stack per test file, for every area: a Temporal server (dev or time-skipping), a
 * Postgres database cloned from the migrated template, a worker with the real activities, and the
 * API, with a client signed in as each role.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createApp } from '../../api/app';
import { createApiServer } from '../../api/server';
import { loadConfig, type DealConfig, type OrderConfig } from '../../config';
import type { Db } from '../../db/knex';
import type { SalesWorkerOptions } from '../../worker/worker';
import { createTestDatabase, type TestDatabase } from './db';
import { createUsers, type TestUsers } from './fixtures';
import type { Problem } from './apiTypes';
import { client, type Reply } from './http';
import { devServerEnv, startTestWorker, testLog, timeSkippingEnv, uniqueTaskQueue, workflowBundle, type RunningTestWorker } from './temporal';

export type ApiClient = ReturnType<typeof client>;

export function apiClient(url: string, token: string): ApiClient {
  return client(url, token);
}

export interface TestStack {
  env: TestWorkflowEnvironment;
  database: TestDatabase;
  db: Db;
  users: TestUsers;
  taskQueue: string;
  url: string;
  worker: RunningTestWorker;
  as: Record<'rep' | 'otherRep' | 'tech_consultant' | 'manager' | 'admin', ApiClient>;
  teardown(): Promise<void>;
}

/** Another API over the stack's Temporal, database and task queue (e.g. with other deal settings). */
export async function startExtraApi(stack: Pick<TestStack, 'env' | 'db' | 'taskQueue'>, deals?: DealConfig, orders?: OrderConfig): Promise<{ url: string; close(): Promise<void> }> {
  const server = createApiServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', createApp({ db: stack.db, temporal: stack.env.client, taskQueue: stack.taskQueue, log: testLog, publicUrl: url, deals, customers: loadConfig().customers, orders }));
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** One Temporal server, database, worker (the real activities) and API for a test file, with a client per role. */
export async function startStack(options: { server: 'dev' | 'time-skipping'; deals?: DealConfig; wrapActivities?: SalesWorkerOptions['wrapActivities'] }): Promise<TestStack> {
  const [env, database] = await Promise.all([options.server === 'dev' ? devServerEnv() : timeSkippingEnv(), createTestDatabase(), workflowBundle()]);
  const users = await createUsers(database.db);
  const taskQueue = uniqueTaskQueue('stack');
  const worker = await startTestWorker(env, database.db, taskQueue, options.wrapActivities ? { wrapActivities: options.wrapActivities } : {});
  const api = await startExtraApi({ env, db: database.db, taskQueue }, options.deals);
  const url = api.url;
  const as = {
    rep: apiClient(url, users.rep.token),
    otherRep: apiClient(url, users.otherRep.token),
    tech_consultant: apiClient(url, users.tech_consultant.token),
    manager: apiClient(url, users.manager.token),
    admin: apiClient(url, users.admin.token),
  };
  return {
    env, database, db: database.db, users, taskQueue, url, worker, as,
    async teardown() {
      await api.close();
      await worker.stop();
      await env.teardown();
      await database.drop();
    },
  };
}

export function expectStatus(reply: Reply<unknown>, status: number, code?: string): void {
  assert.equal(reply.status, status, `expected ${status}${code ? ` ${code}` : ''}, got ${reply.status}: ${JSON.stringify(reply.body)}`);
  if (code) assert.equal((reply.body as Problem).code, code);
}
